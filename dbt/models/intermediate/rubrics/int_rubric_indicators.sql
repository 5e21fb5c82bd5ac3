-- Rubric indicators with the synthetic level-0 "__overall__" row (整体评价) of each rubric, leaf flags and the sum of
-- the leaf maxima and weights beneath each indicator.
with

indicators as (

    select * from {{ ref('stg_jiaoyan__rubric_indicators') }}

),

leaves as (

    select * from {{ ref('int_rubric_indicator_leaves') }}

),

rubrics as (

    select distinct on (rubric_id)
        rubric_id, rubric_name, rubric_kind, rubric_version, subject_code, published_on
    from indicators
    order by rubric_id, loaded_at desc

),

beneath as (

    select
        rubric_id,
        indicator_id,
        count(*) as n_leaves,
        sum(leaf_max_score) as total_max_score,
        sum(leaf_weight) as total_weight

    from leaves
    group by rubric_id, indicator_id

),

all_indicators as (

    select
        rubric_id, indicator_id, parent_indicator_id, indicator_level, indicator_position, indicator_name
    from indicators

    union all

    select rubric_id, '__overall__', null, 0, 1, '整体评价'
    from rubrics

),

final as (

    select
        all_indicators.rubric_id,
        all_indicators.indicator_id,
        all_indicators.parent_indicator_id,
        all_indicators.indicator_level,
        all_indicators.indicator_position,
        all_indicators.indicator_name,
        rubrics.rubric_name,
        rubrics.rubric_kind,
        rubrics.rubric_version,
        rubrics.subject_code,
        all_indicators.indicator_level > 0
            and not exists (
                select 1 from indicators as children
                where children.rubric_id = all_indicators.rubric_id
                  and children.parent_indicator_id = all_indicators.indicator_id
            ) as is_leaf,
        beneath.n_leaves,
        beneath.total_max_score,
        beneath.total_weight

    from all_indicators
    inner join rubrics using (rubric_id)
    left join beneath using (rubric_id, indicator_id)

)

select * from final
