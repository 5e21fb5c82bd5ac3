-- One row per lesson run and 2-minute window (20 points): the behaviour timeline (teacher behaviours as shares of
-- the window's points, student behaviours as mean shares) and the participation, performance (consistency) and
-- attention curves. start_s lets a report seek the lesson video to the window.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='lesson_run_id',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['lesson_run_id', 'window_index'], 'unique': true}, {'columns': ['loaded_at']}],
    )
}}

with

lesson_runs as (

    {{ pending_lesson_runs() }}

),

points as (

    select points.*
    from {{ ref('fct_behaviour_points') }} as points
    inner join lesson_runs using (lesson_run_id)
    {% if is_incremental() %}
    -- the pending runs' points are the ones loaded after the watermark: read through the loaded_at index
    where points.loaded_at > {{ watermark() }}
    {% endif %}

),

windows as (

    select
        lesson_run_id,
        window_index,
        count(*) as n_points,
        min(t_start_s) as start_s,
        max(t_start_s) + {{ var('sampling_interval_s') }} as end_s,
        count(*) filter (where st_code = 'T') as n_t_points,
        count(*) filter (where st_code = 'S') as n_s_points,
        {% for code in teacher_behaviour_codes() -%}
        {{ metric_round("count(*) filter (where teacher_behaviour = '" ~ code ~ "')::numeric / count(*)") }} as share_{{ code }},
        {% endfor -%}
        {% for code, column in student_behaviour_columns() -%}
        {{ metric_round('avg(' ~ column ~ ')') }} as mean_{{ column }},
        {% endfor -%}
        {{ metric_round('avg(participation_share)') }} as participation,
        {{ metric_round('avg(consistency_share)') }} as performance,
        {{ metric_round('avg(attention_share)') }} as attention,
        count(attention_share) as n_attention_points

    from points
    group by lesson_run_id, window_index

),

final as (

    select
        windows.*,
        lesson_runs.loaded_at

    from windows
    inner join lesson_runs using (lesson_run_id)

)

select * from final
