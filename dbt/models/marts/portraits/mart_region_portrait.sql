-- The region portrait 区域画像, one row per area (province, city, district; schools for school group portraits) and
-- term: teacher coverage, lessons analysed and the teaching-mode mix, the mean and median of the key indicators
-- (full distributions in mart_region_metric_distribution, rubric bands in mart_region_rubric_bands), research
-- activity, the gaps between urban and rural and between weak and other schools, and the alerts raised since the
-- previous term (details in mart_region_alerts). Groups of fewer than min_group_teachers teachers are suppressed.
with

area_teachers as (

    select * from {{ ref('int_area_teacher_terms') }}

),

distribution as (

    select * from {{ ref('mart_region_metric_distribution') }}

),

alerts as (

    select * from {{ ref('mart_region_alerts') }}

),

regions as (

    select * from {{ ref('dim_regions') }}

),

schools as (

    select school_id, school_name from {{ ref('dim_schools') }} where is_current_version

),

terms as (

    select * from {{ ref('dim_terms') }}

),

coverage as (

    select * from {{ ref('int_area_coverage') }}

),

counts as (

    select
        area_level,
        area_code,
        term_code,
        count(*) as n_teachers,
        count(*) filter (where n_lessons_analysed > 0) as n_teachers_analysed,
        sum(n_lessons_analysed) as n_lessons_analysed,
        sum(n_practice_lessons) as n_practice_lessons,
        sum(n_lecture_lessons) as n_lecture_lessons,
        sum(n_dialogue_lessons) as n_dialogue_lessons,
        sum(n_mixed_lessons) as n_mixed_lessons,
        count(*) filter (where n_research_actions > 0) as n_teachers_research_active,
        avg(n_activities_attended) as mean_activities_attended,
        avg(n_resources_published) as mean_resources_published

    from area_teachers
    group by area_level, area_code, term_code

),

key_values as (

    select
        area_level,
        area_code,
        term_code,
        {% for indicator in ['rt', 'ch', 'participation', 'attention', 'performance', 'teacher_talk',
                             'rubric_teaching_design', 'rubric_classroom_teaching', 'research_potential'] -%}
        max(mean_value) filter (where group_code = 'all' and indicator_code = '{{ indicator }}') as mean_{{ indicator }},
        max(median_value) filter (where group_code = 'all' and indicator_code = '{{ indicator }}') as median_{{ indicator }},
        {% endfor -%}
        {% for indicator in ['participation', 'attention', 'rubric_classroom_teaching'] -%}
        max(mean_value) filter (where group_code = 'urban' and indicator_code = '{{ indicator }}')
            - max(mean_value) filter (where group_code = 'rural' and indicator_code = '{{ indicator }}')
            as gap_urban_rural_{{ indicator }},
        max(mean_value) filter (where group_code = 'other_school' and indicator_code = '{{ indicator }}')
            - max(mean_value) filter (where group_code = 'weak_school' and indicator_code = '{{ indicator }}')
            as gap_other_weak_{{ indicator }}{{ ',' if not loop.last }}
        {% endfor %}

    from distribution
    group by area_level, area_code, term_code

),

alert_counts as (

    select area_level, area_code, term_code, count(*) as n_alerts, string_agg(metric_code, ', ' order by metric_code) as alert_metrics
    from alerts
    group by area_level, area_code, term_code

),

final as (

    select
        ---------- area and term
        counts.area_level,
        counts.area_code,
        case when counts.area_level = 'school' then schools.school_name else regions.region_name end as area_name,
        case when counts.area_level = 'school' then null else regions.full_name end as area_full_name,
        regions.province_iso_3166_2,
        counts.term_code,
        terms.term_name_zh,

        ---------- suppression
        counts.n_teachers < {{ var('min_group_teachers') }} as is_suppressed,

        ---------- coverage and lessons
        {{ suppress('counts.n_teachers', 'counts.n_teachers') }} as n_teachers,
        {{ suppress('counts.n_teachers_analysed', 'counts.n_teachers') }} as n_teachers_analysed,
        coverage.coverage,
        coverage.previous_coverage,
        coverage.coverage_change,
        coverage.coverage_gap_urban_rural,
        coverage.coverage_gap_other_weak,
        {{ suppress('counts.n_lessons_analysed', 'counts.n_teachers') }} as n_lessons_analysed,

        ---------- teaching-mode mix (shares of the lessons analysed)
        {% for mode in ['practice', 'lecture', 'dialogue', 'mixed'] -%}
        {{ suppress(metric_round('counts.n_' ~ mode ~ '_lessons::numeric / nullif(counts.n_lessons_analysed, 0)'), 'counts.n_teachers_analysed') }}
            as share_{{ mode }}_lessons,
        {% endfor %}
        ---------- key indicators (means and medians over the area's teachers; null when suppressed)
        key_values.mean_rt,
        key_values.median_rt,
        key_values.mean_ch,
        key_values.median_ch,
        key_values.mean_participation,
        key_values.median_participation,
        key_values.mean_attention,
        key_values.median_attention,
        key_values.mean_performance,
        key_values.median_performance,
        key_values.mean_teacher_talk,
        key_values.median_teacher_talk,
        key_values.mean_rubric_teaching_design,
        key_values.median_rubric_teaching_design,
        key_values.mean_rubric_classroom_teaching,
        key_values.median_rubric_classroom_teaching,

        ---------- research activity
        {{ suppress(metric_round('counts.n_teachers_research_active::numeric / counts.n_teachers'), 'counts.n_teachers') }}
            as share_teachers_research_active,
        {{ suppress(metric_round('counts.mean_activities_attended'), 'counts.n_teachers') }} as mean_activities_attended,
        {{ suppress(metric_round('counts.mean_resources_published'), 'counts.n_teachers') }} as mean_resources_published,
        key_values.mean_research_potential,
        key_values.median_research_potential,

        ---------- gaps (null when either group is suppressed)
        key_values.gap_urban_rural_participation,
        key_values.gap_urban_rural_attention,
        key_values.gap_urban_rural_rubric_classroom_teaching,
        key_values.gap_other_weak_participation,
        key_values.gap_other_weak_attention,
        key_values.gap_other_weak_rubric_classroom_teaching,

        ---------- alerts since the previous term
        coalesce(alert_counts.n_alerts, 0) as n_alerts,
        alert_counts.alert_metrics

    from counts
    inner join terms using (term_code)
    left join key_values using (area_level, area_code, term_code)
    left join coverage using (area_level, area_code, term_code)
    left join alert_counts using (area_level, area_code, term_code)
    left join regions
        on counts.area_code = regions.region_code
        and counts.area_level <> 'school'
    left join schools
        on counts.area_code = schools.school_id
        and counts.area_level = 'school'

)

select * from final
