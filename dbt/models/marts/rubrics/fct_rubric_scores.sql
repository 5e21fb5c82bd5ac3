-- The current score of every lesson leaf by every observer (a later correction by scored_at wins), as a table
-- indexed by lesson. Incremental: a night reads only the score deliveries loaded since the last build (through
-- ops.load_tables and the raw batch index), keeps the latest per key among them, and replaces a stored score only
-- when the new one is not older (a late-arriving earlier score does not undo a correction).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['lesson_id', 'rubric_id', 'indicator_id', 'observer_id'],
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['lesson_id', 'rubric_id', 'indicator_id', 'observer_id'], 'unique': true},
            {'columns': ['loaded_at']},
        ],
    )
}}

with

deliveries as (

    select * from {{ ref('stg_jiaoyan__rubric_score_deliveries') }} as deliveries
    {% if is_incremental() %}
    where {{ loaded_since('deliveries', 'rubric_scores', watermark()) }}
    {% endif %}

),

current_scores as (

    -- a full build takes the latest row per key from staging (not evaluated in incremental builds)
    select * from {{ ref('stg_jiaoyan__rubric_scores') }}

),

{% if is_incremental() %}
latest_new as (

    {{ latest_per_key('deliveries', ['lesson_id', 'rubric_id', 'indicator_id', 'observer_id'],
                      ['scored_at', 'loaded_at', 'batch_id', 'source_line']) }}

),

scores as (

    select latest_new.*
    from latest_new
    left join {{ this }} as stored
        using (lesson_id, rubric_id, indicator_id, observer_id)
    where stored.scored_at is null or latest_new.scored_at >= stored.scored_at

)
{% else %}
scores as (

    select * from current_scores

)
{% endif %}

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
from scores
