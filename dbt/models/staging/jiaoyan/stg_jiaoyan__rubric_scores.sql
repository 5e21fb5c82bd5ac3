-- A corrected score (a later row for the same lesson, rubric, leaf and observer) replaces the earlier one:
-- latest by when it was scored, then by when it was loaded.
with

deliveries as (

    select * from {{ ref('stg_jiaoyan__rubric_score_deliveries') }}

),

latest as (

    {{ latest_per_key('deliveries', ['lesson_id', 'rubric_id', 'indicator_id', 'observer_id'],
                      ['scored_at', 'loaded_at', 'batch_id', 'source_line']) }}

)

select
    lesson_id,
    rubric_id,
    indicator_id,
    observer_id,
    observer_role,
    score,
    scored_at,
    batch_id,
    loaded_at
from latest
