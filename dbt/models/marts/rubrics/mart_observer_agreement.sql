-- Inter-rater agreement per lesson and rubric: Krippendorff's alpha (interval metric) over the leaves the
-- observers scored, on the score / max_score ratios. Missing scores are allowed; a leaf counts when at least two
-- observers scored it. With ordered pairs, Σ_{i≠j}(v_i − v_j)² = 2mΣv² − 2(Σv)², so
--   D_o = (1/n) Σ_leaves [2 m Σv² − 2 (Σv)²] / (m − 1)      (disagreement within leaves)
--   D_e = [2 n Σv² − 2 (Σv)²] / (n (n − 1))                  (disagreement expected from all pairable values)
--   alpha = 1 − D_o / D_e  (1 = perfect agreement, 0 = chance; null when D_e = 0 or no pairable leaf)
-- Incremental: delete+insert by lesson.
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

{{ touched_lessons(ref('fct_rubric_observer_scores')) }}

observer_scores as (

    select all_observer_scores.*
    from {{ ref('fct_rubric_observer_scores') }} as all_observer_scores
    {% if is_incremental() %}
    where all_observer_scores.lesson_id in (select lesson_id from touched_lessons)
    {% endif %}

),

indicators as (

    select * from {{ ref('int_rubric_indicators') }}

),

leaf_values as (

    select observer_scores.lesson_id, observer_scores.rubric_id, observer_scores.indicator_id,
        observer_scores.observer_id, observer_scores.score_ratio as value, observer_scores.loaded_at

    from observer_scores
    inner join indicators using (rubric_id, indicator_id)
    where indicators.is_leaf

),

per_leaf as (

    select
        lesson_id,
        rubric_id,
        indicator_id,
        count(*) as m,
        sum(value) as sum_value,
        sum(value * value) as sum_square

    from leaf_values
    group by lesson_id, rubric_id, indicator_id

),

pairable as (

    select * from per_leaf where m >= 2

),

per_lesson as (

    select
        lesson_id,
        rubric_id,
        count(*) as n_leaves_pairable,
        sum(m) as n_values,
        sum(sum_value) as sum_value,
        sum(sum_square) as sum_square,
        sum((2 * m * sum_square - 2 * sum_value * sum_value) / (m - 1)) as within_leaf_disagreement

    from pairable
    group by lesson_id, rubric_id

),

observers as (

    select lesson_id, rubric_id, count(distinct observer_id) as n_observers,
        count(distinct indicator_id) as n_leaves_scored, max(loaded_at) as loaded_at
    from leaf_values
    group by lesson_id, rubric_id

),

final as (

    select
        observers.lesson_id,
        observers.rubric_id,
        indicators.rubric_kind,
        observers.n_observers,
        observers.n_leaves_scored,
        coalesce(per_lesson.n_leaves_pairable, 0) as n_leaves_pairable,
        coalesce(per_lesson.n_values, 0) as n_values_pairable,
        {{ metric_round('per_lesson.within_leaf_disagreement / per_lesson.n_values') }} as observed_disagreement,
        {{ metric_round('(2 * per_lesson.n_values * per_lesson.sum_square - 2 * per_lesson.sum_value * per_lesson.sum_value)
            / (per_lesson.n_values * (per_lesson.n_values - 1))') }} as expected_disagreement,
        {{ metric_round('1 - (per_lesson.within_leaf_disagreement / per_lesson.n_values)
            / nullif((2 * per_lesson.n_values * per_lesson.sum_square - 2 * per_lesson.sum_value * per_lesson.sum_value)
                     / (per_lesson.n_values * (per_lesson.n_values - 1)), 0)') }} as krippendorff_alpha,
        observers.loaded_at

    from observers
    left join per_lesson using (lesson_id, rubric_id)
    inner join indicators
        on observers.rubric_id = indicators.rubric_id
        and indicators.indicator_id = '__overall__'

)

select * from final
