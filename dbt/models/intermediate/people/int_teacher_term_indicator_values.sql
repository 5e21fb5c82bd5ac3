-- The portrait indicators of int_teacher_term_metrics as rows (teacher × term × indicator), the shape peer norms,
-- strengths and weaknesses, changes and region distributions are computed on. Indicators and their labels come
-- from the seed metric_definitions; a teacher without a value for an indicator (no lesson, no score) has no row.
{{ config(materialized='table') }}

with

metrics as (

    select * from {{ ref('int_teacher_term_metrics') }}

),

unpivoted as (

    select
        metrics.teacher_id,
        metrics.term_code,
        values_.indicator_code,
        values_.value

    from metrics
    cross join lateral (
        values
            {% for indicator in portrait_indicators() -%}
            ('{{ indicator }}', metrics.{{ indicator }}){{ ',' if not loop.last }}
            {% endfor %}
    ) as values_ (indicator_code, value)

)

select * from unpivoted
where value is not null
