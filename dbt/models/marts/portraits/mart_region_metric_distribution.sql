-- The distribution, not just the mean, of each portrait indicator over the teachers of an area (province, city,
-- district or school) in a term, for all teachers and for the groups the portrait compares (urban, rural, weak
-- schools, other schools). A group of fewer than min_group_teachers teachers with a value is suppressed: its
-- statistics are null and is_suppressed is true.
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
        values_.indicator_code, values_.value, area_teachers.teacher_id

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

),

statistics as (

    select
        area_level,
        area_code,
        term_code,
        group_code,
        indicator_code,
        count(distinct teacher_id) as n_teachers,
        avg(value) as mean_value,
        percentile_cont(0.1) within group (order by value) as p10,
        percentile_cont(0.25) within group (order by value) as p25,
        percentile_cont(0.5) within group (order by value) as median_value,
        percentile_cont(0.75) within group (order by value) as p75,
        percentile_cont(0.9) within group (order by value) as p90

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
        {% for column in ['mean_value', 'p10', 'p25', 'median_value', 'p75', 'p90'] -%}
        {{ suppress(metric_round('statistics.' ~ column), 'statistics.n_teachers') }} as {{ column }}{{ ',' if not loop.last }}
        {% endfor %}

    from statistics
    inner join definitions
        on statistics.indicator_code = definitions.code

)

select * from final
