-- Collaboration across schools per member and term: the distinct activities the member attended in the term's
-- activity period whose participants came from two or more schools or universities (from the Spark job's attendance
-- and activity datasets). Incremental: delete+insert by term, recomputing only the terms whose attendance days were
-- (re)loaded since the last build.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='term_code',
        on_schema_change='append_new_columns',
    )
}}

with

terms as (

    select * from {{ ref('dim_terms') }}

),

attendance as (

    select * from {{ ref('stg_jiaoyan__activity_attendance') }}

),

activities as (

    select * from {{ ref('stg_jiaoyan__activities') }}

),

{% if is_incremental() %}
touched_terms as (

    select distinct terms.term_code
    from attendance
    inner join terms
        on attendance.attended_on between terms.period_start and terms.period_end
    where {{ loaded_since('attendance', 'activity_attendance', watermark()) }}

    union

    select distinct terms.term_code
    from activities
    inner join terms
        on activities.last_event_date between terms.period_start and terms.period_end
    where activities.loaded_at > {{ watermark() }}

),
{% endif %}

term_attendance as (

    select
        terms.term_code,
        attendance.member_id,
        attendance.activity_id,
        attendance.loaded_at

    from attendance
    inner join terms
        on attendance.attended_on between terms.period_start and terms.period_end
    {% if is_incremental() %}
    where terms.term_code in (select term_code from touched_terms)
    {% endif %}

),

final as (

    select
        term_attendance.term_code,
        term_attendance.member_id,
        count(distinct term_attendance.activity_id) as n_activities_attended,
        count(distinct term_attendance.activity_id) filter (
            where activities.n_participant_schools >= 2 or activities.n_participant_universities >= 2
        ) as n_cross_school_activities,
        greatest(max(term_attendance.loaded_at), max(activities.loaded_at)) as loaded_at

    from term_attendance
    left join activities
        on term_attendance.activity_id = activities.activity_id
    group by term_attendance.term_code, term_attendance.member_id

)

select * from final
