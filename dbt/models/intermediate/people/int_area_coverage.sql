-- Teacher coverage of an area in a term — teachers with at least one analysed lesson / teachers — for all teachers
-- and by group, with the previous term's coverage; suppressed for groups under min_group_teachers teachers.
{{ config(materialized='table') }}

with

area_teachers as (

    select * from {{ ref('int_area_teacher_terms') }}

),

terms as (

    select * from {{ ref('dim_terms') }}

),

groups_ as (

    select
        area_level,
        area_code,
        term_code,
        groups.group_code,
        count(*) as n_teachers,
        count(*) filter (where n_lessons_analysed > 0) as n_teachers_analysed

    from area_teachers
    cross join lateral (
        values
            ('all', true),
            ('urban', area_teachers.urban_rural = 'urban'),
            ('rural', area_teachers.urban_rural = 'rural'),
            ('weak_school', area_teachers.is_weak_school),
            ('other_school', not area_teachers.is_weak_school)
    ) as groups (group_code, is_member)
    where groups.is_member
    group by area_level, area_code, term_code, groups.group_code

),

shares as (

    select
        *,
        {{ suppress('n_teachers_analysed::numeric / n_teachers', 'n_teachers') }} as coverage

    from groups_

),

pivoted as (

    select
        area_level,
        area_code,
        term_code,
        max(coverage) filter (where group_code = 'all') as coverage,
        max(coverage) filter (where group_code = 'urban') - max(coverage) filter (where group_code = 'rural')
            as coverage_gap_urban_rural,
        max(coverage) filter (where group_code = 'other_school') - max(coverage) filter (where group_code = 'weak_school')
            as coverage_gap_other_weak

    from shares
    group by area_level, area_code, term_code

),

final as (

    select
        pivoted.area_level,
        pivoted.area_code,
        pivoted.term_code,
        {{ metric_round('pivoted.coverage') }} as coverage,
        {{ metric_round('previous.coverage') }} as previous_coverage,
        {{ metric_round('pivoted.coverage - previous.coverage') }} as coverage_change,
        {{ metric_round('pivoted.coverage_gap_urban_rural') }} as coverage_gap_urban_rural,
        {{ metric_round('pivoted.coverage_gap_other_weak') }} as coverage_gap_other_weak

    from pivoted
    inner join terms using (term_code)
    left join pivoted as previous
        on pivoted.area_level = previous.area_level
        and pivoted.area_code = previous.area_code
        and terms.previous_term_code = previous.term_code

)

select * from final
