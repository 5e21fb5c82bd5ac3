-- The FIAS-style transition matrix of the teacher's behaviour per lesson run, with labels for the heat map.
-- A view over the incremental facts: a report reads one lesson run through their indexes; nothing is rebuilt nightly.
{{ config(materialized='view') }}

with

transitions as (

    select * from {{ ref('fct_teacher_behaviour_transitions') }}

),

runs as (

    select * from {{ ref('fct_lesson_runs') }}

),

behaviours as (

    select * from {{ ref('behaviour_codes') }}

),

final as (

    select
        transitions.lesson_run_id,
        runs.lesson_id,
        transitions.from_behaviour,
        from_behaviours.name_zh as from_behaviour_name_zh,
        transitions.from_position,
        transitions.to_behaviour,
        to_behaviours.name_zh as to_behaviour_name_zh,
        transitions.to_position,
        transitions.n_transitions,
        transitions.share_of_transitions,
        transitions.share_of_from_behaviour,
        transitions.is_steady_state,
        transitions.loaded_at

    from transitions
    inner join runs using (lesson_run_id)
    inner join behaviours as from_behaviours
        on transitions.from_behaviour = from_behaviours.code
    inner join behaviours as to_behaviours
        on transitions.to_behaviour = to_behaviours.code

)

select * from final
