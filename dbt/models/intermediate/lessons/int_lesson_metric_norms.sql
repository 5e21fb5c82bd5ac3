-- Norms for report 2: per term, subject, grade, city and metric, the mean over the current lesson runs and the number
-- of teachers behind it (a small table, so the comparison view never aggregates all lessons per query).
{{ config(materialized='table') }}

with

report as (

    select * from {{ ref('mart_lesson_report') }}
    where is_current_run

),

values_ as (

    select report.term_code, report.subject_code, report.grade, report.city_code, report.teacher_pseudonym,
        metrics.metric_code, metrics.value

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
        term_code,
        subject_code,
        grade,
        city_code,
        metric_code,
        count(distinct teacher_pseudonym) as n_teachers,
        {{ metric_round('avg(value)') }} as mean_value

    from values_
    group by term_code, subject_code, grade, city_code, metric_code

)

select * from final
