-- Activities created or attended and resources published per month, office, member, event type and kind: the
-- monthly roll-up of the Spark job's member_day_kinds that annual distinct counts (active members, trained
-- teachers) read. Incremental: delete+insert by month, recomputing the months whose days were (re)loaded since the
-- last build (late events rewrite past days, so past months are recomputed when they change).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='activity_month',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['activity_month', 'vtro_id']}],
    )
}}

with

member_days as (

    select * from {{ ref('stg_jiaoyan__member_day_kinds') }}

),

{% if is_incremental() %}
touched_months as (

    select distinct date_trunc('month', member_days.activity_date)::date as activity_month
    from member_days
    where {{ loaded_since('member_days', 'member_day_kinds', watermark()) }}

),
{% endif %}

final as (

    select
        date_trunc('month', activity_date)::date as activity_month,
        vtro_id,
        member_id,
        event_type,
        object_kind,
        sum(n_events) as n_events,
        sum(n_objects) as n_objects,
        max(loaded_at) as loaded_at

    from member_days
    {% if is_incremental() %}
    where date_trunc('month', activity_date)::date in (select activity_month from touched_months)
    {% endif %}
    group by 1, 2, 3, 4, 5

)

select * from final
