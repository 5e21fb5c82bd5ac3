-- Alerts of the region portrait: an area whose teacher coverage fell by at least alert_coverage_drop (absolute share)
-- since the previous term, or whose mean of a key indicator (seed metric_definitions, is_key_metric) fell by at least
-- alert_metric_drop of its previous value. Only unsuppressed figures raise alerts. One row per alert.
with

coverage as (

    select * from {{ ref('int_area_coverage') }}

),

distribution as (

    select * from {{ ref('mart_region_metric_distribution') }}
    where group_code = 'all'

),

definitions as (

    select * from {{ ref('metric_definitions') }}

),

terms as (

    select * from {{ ref('dim_terms') }}

),

coverage_alerts as (

    select
        area_level,
        area_code,
        term_code,
        'coverage' as metric_code,
        previous_coverage as previous_value,
        coverage as current_value,
        coverage_change as change,
        'absolute_drop' as rule,
        {{ var('alert_coverage_drop') }}::numeric as threshold

    from coverage
    where coverage_change <= -{{ var('alert_coverage_drop') }}

),

metric_changes as (

    select
        distribution.area_level,
        distribution.area_code,
        distribution.term_code,
        distribution.indicator_code as metric_code,
        previous.mean_value as previous_value,
        distribution.mean_value as current_value,
        distribution.mean_value - previous.mean_value as change

    from distribution
    inner join terms using (term_code)
    inner join distribution as previous
        on distribution.area_level = previous.area_level
        and distribution.area_code = previous.area_code
        and terms.previous_term_code = previous.term_code
        and distribution.indicator_code = previous.indicator_code
    inner join definitions
        on distribution.indicator_code = definitions.code
    where definitions.is_key_metric
      and previous.mean_value > 0

),

metric_alerts as (

    select
        area_level,
        area_code,
        term_code,
        metric_code,
        previous_value,
        current_value,
        change,
        'relative_drop' as rule,
        {{ var('alert_metric_drop') }}::numeric as threshold

    from metric_changes
    where change / previous_value <= -{{ var('alert_metric_drop') }}

),

final as (

    select alerts.*, definitions.name_zh as metric_name_zh
    from (select * from coverage_alerts union all select * from metric_alerts) as alerts
    inner join definitions
        on alerts.metric_code = definitions.code

)

select * from final
