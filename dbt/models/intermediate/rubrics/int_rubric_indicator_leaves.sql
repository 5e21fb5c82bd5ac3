-- Every rubric indicator with each leaf beneath it (a leaf is beneath itself), plus a synthetic level-0
-- indicator "__overall__" above all of a rubric's leaves: the closure the weighted roll-up sums over.
with recursive

indicators as (

    select * from {{ ref('stg_jiaoyan__rubric_indicators') }}

),

leaves as (

    select indicators.*
    from indicators
    where not exists (
        select 1
        from indicators as children
        where children.rubric_id = indicators.rubric_id
          and children.parent_indicator_id = indicators.indicator_id
    )

),

ancestry as (

    select
        rubric_id,
        indicator_id as leaf_indicator_id,
        indicator_id as ancestor_indicator_id,
        parent_indicator_id as next_ancestor_id

    from leaves

    union all

    select
        ancestry.rubric_id,
        ancestry.leaf_indicator_id,
        indicators.indicator_id,
        indicators.parent_indicator_id

    from ancestry
    inner join indicators
        on ancestry.rubric_id = indicators.rubric_id
        and ancestry.next_ancestor_id = indicators.indicator_id

),

with_overall as (

    select rubric_id, leaf_indicator_id, ancestor_indicator_id from ancestry
    union all
    select rubric_id, indicator_id, '__overall__' from leaves

),

final as (

    select
        with_overall.rubric_id,
        with_overall.ancestor_indicator_id as indicator_id,
        with_overall.leaf_indicator_id,
        leaves.max_score as leaf_max_score,
        leaves.weight as leaf_weight

    from with_overall
    inner join leaves
        on with_overall.rubric_id = leaves.rubric_id
        and with_overall.leaf_indicator_id = leaves.indicator_id

)

select * from final
