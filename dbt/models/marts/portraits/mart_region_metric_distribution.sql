-- The distribution, not just the mean, of each portrait indicator over the teachers of an area (province, city,
-- district or school) in a term, for all teachers and for the groups the portrait compares (urban, rural, weak
-- schools, other schools). A group of fewer than min_group_teachers teachers with a value is suppressed: its
-- statistics are null and is_suppressed is true.
{{ config(pre_hook="set local work_mem = '" ~ var('heavy_work_mem') ~ "'") }}

with

area_teachers as (

    select * from {{ ref('int_area_teacher_terms') }}

),

values_ as (

    select * from {{ ref('int_teacher_term_indicator_values') }}

),

definitions as (

    select * from {{ ref('metric_definitions') }}

),

grouped as (

    select area_teachers.area_level, area_teachers.area_code, area_teachers.term_code, groups.group_code,
        values_.indicator_code, values_.value

    from area_teachers
    inner join values_ using (teacher_id, term_code)
    cross join lateral (
        values
            ('all', true),
            ('urban', area_teachers.urban_rural = 'urban'),
            ('rural', area_teachers.urban_rural = 'rural'),
            ('weak_school', area_teachers.is_weak_school),
            ('other_school', not area_teachers.is_weak_school)
    ) as groups (group_code, is_member)
    where groups.is_member
      -- a school is urban or rural, weak or not: at school level only the whole school is a group
      and (area_teachers.area_level <> 'school' or groups.group_code = 'all')

),

statistics as (

    select
        area_level,
        area_code,
        term_code,
        group_code,
        indicator_code,
        count(*) as n_teachers,  -- one value per teacher, term and indicator
        avg(value) as mean_value,
        -- one sort per group for all five quantiles
        percentile_cont(array[0.1, 0.25, 0.5, 0.75, 0.9]) within group (order by value) as quantiles

    from grouped
    group by area_level, area_code, term_code, group_code, indicator_code

),

final as (

    select
        statistics.area_level,
        statistics.area_code,
        statistics.term_code,
        statistics.group_code,
        statistics.indicator_code,
        definitions.name_zh as indicator_name_zh,
        statistics.n_teachers < {{ var('min_group_teachers') }} as is_suppressed,
        {{ suppress('statistics.n_teachers', 'statistics.n_teachers') }} as n_teachers,
        {{ suppress(metric_round('statistics.mean_value'), 'statistics.n_teachers') }} as mean_value,
        {% for column in ['p10', 'p25', 'median_value', 'p75', 'p90'] -%}
        {{ suppress(metric_round('statistics.quantiles[' ~ loop.index ~ ']'), 'statistics.n_teachers') }} as {{ column }}{{ ',' if not loop.last }}
        {% endfor %}

    from statistics
    inner join definitions
        on statistics.indicator_code = definitions.code

)

select * from final
