-- Report 2 (several teachers or lessons side by side): each current lesson run's metrics as rows — one per lesson
-- and metric, with labels from the seed metric_definitions — beside the mean of the same subject and grade in the
-- lesson's city and term (withheld when fewer than min_group_teachers teachers contribute). A view: the norms are a
-- small table (int_lesson_metric_norms), the lesson side reads mart_lesson_report.
{{ config(materialized='view') }}

with

report as (

    select * from {{ ref('mart_lesson_report') }}
    where is_current_run

),

norms as (

    select * from {{ ref('int_lesson_metric_norms') }}

),

definitions as (

    select * from {{ ref('metric_definitions') }}

),

values_ as (

    select
        report.lesson_id,
        report.lesson_run_id,
        report.teacher_pseudonym,
        report.lesson_date,
        report.term_code,
        report.subject_code,
        report.grade,
        report.city_code,
        report.teaching_mode,
        metrics.metric_code,
        metrics.value

    from report
    cross join lateral (
        values
            {% for metric, column in lesson_comparison_metrics() -%}
            ('{{ metric }}', report.{{ column }}){{ ',' if not loop.last }}
            {% endfor %}
    ) as metrics (metric_code, value)

),

final as (

    select
        values_.lesson_id,
        values_.lesson_run_id,
        values_.teacher_pseudonym,
        values_.lesson_date,
        values_.term_code,
        values_.subject_code,
        values_.grade,
        values_.teaching_mode,
        values_.metric_code,
        definitions.name_zh as metric_name_zh,
        definitions.name_en as metric_name_en,
        values_.value,
        {{ suppress('norms.mean_value', 'norms.n_teachers') }} as peer_mean_value,
        coalesce(norms.n_teachers >= {{ var('min_group_teachers') }}, false) as has_peer_norm

    from values_
    inner join definitions
        on values_.metric_code = definitions.code
    left join norms using (term_code, subject_code, grade, city_code, metric_code)

)

select * from final
