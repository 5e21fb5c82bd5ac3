-- A lesson's rubric scores averaged over its observers, per indicator (every level and the overall), banded by the
-- rubric's own bands: the best band whose min_ratio the mean ratio reaches (inclusive). The matrix chart colours
-- each indicator by this band; the radar charts read levels 1 and 2. Incremental: delete+insert by lesson.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='lesson_id',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['lesson_id']}, {'columns': ['loaded_at']}, {'columns': ['indicator_id']}],
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

averaged as (

    select
        lesson_id,
        rubric_id,
        indicator_id,
        count(*) as n_observers,
        avg(score) as mean_score,
        avg(score_ratio) as mean_ratio,
        max(loaded_at) as loaded_at

    from observer_scores
    group by lesson_id, rubric_id, indicator_id

),

banded as (

    select
        averaged.*,
        band.band_code,
        band.band_label_zh,
        band.band_rank

    from averaged
    left join lateral {{ rubric_band('averaged.rubric_id', metric_round('averaged.mean_ratio')) }} as band on true

),

final as (

    select
        banded.lesson_id,
        banded.rubric_id,
        banded.indicator_id,
        indicators.rubric_kind,
        indicators.indicator_level,
        indicators.parent_indicator_id,
        indicators.indicator_position,
        indicators.indicator_name,
        indicators.is_leaf,
        banded.n_observers,
        {{ metric_round('banded.mean_score') }} as mean_score,
        indicators.total_max_score as max_score,
        {{ metric_round('banded.mean_ratio') }} as mean_ratio,
        banded.band_code,
        banded.band_label_zh,
        banded.band_rank,
        banded.loaded_at

    from banded
    inner join indicators using (rubric_id, indicator_id)

)

select * from final
