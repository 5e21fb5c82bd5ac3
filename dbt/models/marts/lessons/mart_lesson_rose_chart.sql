-- The behaviour rose chart 分布玫瑰图 per lesson run, one row per behaviour: teacher behaviours on the left half
-- (shares of the points, sum 100 %), student behaviours on the right half (mean shares, sum 100 %).
-- A view over the incremental facts: a report reads one lesson run through their indexes; nothing is rebuilt nightly.
{{ config(materialized='view') }}

with

metrics as (

    select * from {{ ref('fct_lesson_behaviour_metrics') }}

),

behaviours as (

    select * from {{ ref('behaviour_codes') }}

),

unpivoted as (

    select
        metrics.lesson_run_id,
        metrics.lesson_id,
        shares.behaviour_code,
        shares.share,
        metrics.loaded_at

    from metrics
    cross join lateral (
        values
            {% for code in teacher_behaviour_codes() -%}
            ('{{ code }}', metrics.share_{{ code }}),
            {% endfor -%}
            {% for code, column in student_behaviour_columns() -%}
            ('{{ code }}', metrics.mean_{{ column }}){{ ',' if not loop.last }}
            {% endfor %}
    ) as shares (behaviour_code, share)

),

final as (

    select
        unpivoted.lesson_run_id,
        unpivoted.lesson_id,
        unpivoted.behaviour_code,
        behaviours.actor,
        case behaviours.actor when 'teacher' then 'left' else 'right' end as chart_half,
        behaviours.position,
        behaviours.name_zh as behaviour_name_zh,
        behaviours.name_en as behaviour_name_en,
        unpivoted.share,
        round(unpivoted.share::numeric * 100, 2) as share_pct,
        unpivoted.loaded_at

    from unpivoted
    inner join behaviours
        on unpivoted.behaviour_code = behaviours.code

)

select * from final
