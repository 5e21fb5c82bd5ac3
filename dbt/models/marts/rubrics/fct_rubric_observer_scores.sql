-- Each observer's scores of a lesson rolled up the rubric tree: a leaf's ratio is score / max_score; a parent's
-- (and the level-0 overall's) is the weighted mean of the ratios of the leaves beneath it that the observer scored,
-- weighted by the leaves' weights. Grain: lesson × rubric × observer × indicator. Incremental: delete+insert by
-- lesson, recomputing the lessons whose scores changed since the last build.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='lesson_id',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['lesson_id']}, {'columns': ['loaded_at']}],
    )
}}

with

{{ touched_lessons(ref('fct_rubric_scores')) }}

scores as (

    select all_scores.*
    from {{ ref('fct_rubric_scores') }} as all_scores
    {% if is_incremental() %}
    where all_scores.lesson_id in (select lesson_id from touched_lessons)
    {% endif %}

),

leaves as (

    select * from {{ ref('int_rubric_indicator_leaves') }}

),

leaf_scores as (

    select
        scores.lesson_id,
        scores.rubric_id,
        scores.observer_id,
        scores.observer_role,
        leaves.indicator_id,
        scores.score::numeric as score,
        leaves.leaf_max_score::numeric as max_score,
        leaves.leaf_weight::numeric as weight,
        scores.score::numeric / leaves.leaf_max_score::numeric as ratio,
        scores.scored_at,
        max(scores.loaded_at) over (partition by scores.lesson_id) as loaded_at

    from scores
    inner join leaves
        on scores.rubric_id = leaves.rubric_id
        and scores.indicator_id = leaves.leaf_indicator_id

),

rolled_up as (

    select
        lesson_id,
        rubric_id,
        observer_id,
        indicator_id,
        max(observer_role) as observer_role,
        count(*) as n_leaves_scored,
        sum(score) as score,
        sum(max_score) as max_score,
        sum(weight * ratio) / nullif(sum(weight), 0) as ratio,
        max(scored_at) as last_scored_at,
        max(loaded_at) as loaded_at

    from leaf_scores
    group by lesson_id, rubric_id, observer_id, indicator_id

),

final as (

    select
        lesson_id,
        rubric_id,
        indicator_id,
        observer_id,
        {{ pseudonym('observer_id') }} as observer_pseudonym,
        observer_role,
        n_leaves_scored,
        {{ metric_round('score') }} as score,
        {{ metric_round('max_score') }} as max_score,
        {{ metric_round('ratio') }} as score_ratio,
        last_scored_at,
        loaded_at

    from rolled_up

)

select * from final
