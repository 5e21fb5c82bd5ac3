-- Each observer's systematic bias per lesson and rubric: the mean, over the leaves they scored that others scored
-- too, of (their ratio − the mean ratio of the other observers on that leaf); positive = more lenient than the
-- consensus. Observers are pseudonymised. Incremental: delete+insert by lesson.
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

    select observer_scores.*
    from observer_scores
    inner join indicators using (rubric_id, indicator_id)
    where indicators.is_leaf

),

with_consensus as (

    select
        *,
        count(*) over leaf as n_observers_on_leaf,
        (sum(score_ratio) over leaf - score_ratio) / nullif(count(*) over leaf - 1, 0) as others_mean_ratio

    from leaf_values
    window leaf as (partition by lesson_id, rubric_id, indicator_id)

),

final as (

    select
        with_consensus.lesson_id,
        with_consensus.rubric_id,
        max(indicators.rubric_kind) as rubric_kind,
        with_consensus.observer_pseudonym,
        with_consensus.observer_role,
        count(*) filter (where n_observers_on_leaf >= 2) as n_leaves_compared,
        {{ metric_round('avg(score_ratio - others_mean_ratio) filter (where n_observers_on_leaf >= 2)') }} as bias,
        {{ metric_round('avg(abs(score_ratio - others_mean_ratio)) filter (where n_observers_on_leaf >= 2)') }}
            as mean_absolute_deviation,
        max(with_consensus.loaded_at) as loaded_at

    from with_consensus
    inner join indicators
        on with_consensus.rubric_id = indicators.rubric_id
        and indicators.indicator_id = '__overall__'
    group by with_consensus.lesson_id, with_consensus.rubric_id, with_consensus.observer_pseudonym,
        with_consensus.observer_role

)

select * from final
