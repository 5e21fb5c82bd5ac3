-- A FIAS-style transition matrix per lesson run: how often the teacher's behaviour at one point is followed by each
-- behaviour at the next point (the diagonal is "stayed"). All 4 × 4 cells are present, zero where nothing happened.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='lesson_run_id',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['lesson_run_id']}, {'columns': ['loaded_at']}],
    )
}}

with

lesson_runs as (

    {{ pending_lesson_runs() }}

),

teacher_behaviours as (

    select code, position
    from {{ ref('behaviour_codes') }}
    where actor = 'teacher'

),

points as (

    select points.lesson_run_id, points.previous_teacher_behaviour, points.teacher_behaviour
    from {{ ref('fct_behaviour_points') }} as points
    inner join lesson_runs using (lesson_run_id)
    where points.previous_teacher_behaviour is not null
    {% if is_incremental() %}
      -- the pending runs' points are the ones loaded after the watermark: read through the loaded_at index
      and points.loaded_at > {{ watermark() }}
    {% endif %}

),

counted as (

    select
        lesson_run_id,
        previous_teacher_behaviour as from_behaviour,
        teacher_behaviour as to_behaviour,
        count(*) as n_transitions

    from points
    group by 1, 2, 3

),

cells as (

    select
        lesson_runs.lesson_run_id,
        lesson_runs.loaded_at,
        from_behaviours.code as from_behaviour,
        from_behaviours.position as from_position,
        to_behaviours.code as to_behaviour,
        to_behaviours.position as to_position

    from lesson_runs
    cross join teacher_behaviours as from_behaviours
    cross join teacher_behaviours as to_behaviours

),

final as (

    select
        cells.lesson_run_id,
        cells.from_behaviour,
        cells.to_behaviour,
        cells.from_position,
        cells.to_position,
        coalesce(counted.n_transitions, 0) as n_transitions,
        {{ metric_round('coalesce(counted.n_transitions, 0)::numeric
            / nullif(sum(counted.n_transitions) over (partition by cells.lesson_run_id), 0)') }} as share_of_transitions,
        {{ metric_round('coalesce(counted.n_transitions, 0)::numeric
            / nullif(sum(counted.n_transitions) over (partition by cells.lesson_run_id, cells.from_behaviour), 0)') }}
            as share_of_from_behaviour,
        cells.from_behaviour = cells.to_behaviour as is_steady_state,
        cells.loaded_at

    from cells
    left join counted
        on cells.lesson_run_id = counted.lesson_run_id
        and cells.from_behaviour = counted.from_behaviour
        and cells.to_behaviour = counted.to_behaviour

)

select * from final
