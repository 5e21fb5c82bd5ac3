-- The annual-report figures of every report unit (an office, a university, a province, the nation) and year.
-- Counts of people and universities are distinct within the unit; activities count in the year of their earliest
-- event, under their host office; members are counted at the year's reference date (31 December, or the data's
-- as-of date for the running year).
{{ config(materialized='table') }}

with

years as (

    select * from {{ ref('int_report_years') }}

),

units as (

    select * from {{ ref('int_vtro_report_units') }}

),

vtros as (

    select * from {{ ref('dim_vtros') }}

),

memberships as (

    select * from {{ ref('dim_vtro_memberships') }}

),

member_months as (

    select * from {{ ref('int_vtro_member_months') }}

),

activities as (

    select * from {{ ref('stg_jiaoyan__activities') }}

),

resources as (

    select * from {{ ref('stg_jiaoyan__resources_published') }}

),

vtro_days as (

    select * from {{ ref('stg_jiaoyan__vtro_days') }}

),

training_kinds as (

    select code from {{ ref('activity_kinds') }} where is_training

),

unit_years as (

    select distinct units.report_level, units.report_unit_id, years.report_year
    from units
    cross join years

),

offices as (

    select
        units.report_level,
        units.report_unit_id,
        years.report_year,
        count(*) as n_offices,
        {% for scope in ['school', 'regional', 'national'] -%}
        count(*) filter (where vtros.vtro_scope = '{{ scope }}') as n_{{ scope }}_offices,
        {% endfor -%}
        {% for content_type in ['course_group', 'specialty_building', 'reform_topic'] -%}
        count(*) filter (where vtros.vtro_content_type = '{{ content_type }}') as n_{{ content_type }}_offices,
        {% endfor -%}
        count(distinct vtros.university_id) as n_host_universities

    from units
    inner join vtros using (vtro_id)
    cross join years
    where vtros.founded_on <= years.reference_date
    group by 1, 2, 3

),

members as (

    select
        units.report_level,
        units.report_unit_id,
        years.report_year,
        count(distinct memberships.teacher_id) filter (
            where memberships.joined_on <= years.reference_date
              and (memberships.left_on is null or memberships.left_on > years.reference_date)
        ) as n_members,
        count(distinct memberships.university_id) filter (
            where memberships.joined_on <= years.reference_date
              and (memberships.left_on is null or memberships.left_on > years.reference_date)
        ) as n_member_universities,
        count(distinct memberships.teacher_id) filter (
            where memberships.joined_on <= years.reference_date
              and (memberships.left_on is null or memberships.left_on > years.reference_date)
              and memberships.is_from_central_or_western
        ) as n_central_western_members

    from units
    inner join memberships using (vtro_id)
    cross join years
    group by 1, 2, 3

),

-- the active share's numerator counts the same people as its denominator (members at the reference date): a member
-- who was active and left during the year is in neither, so the share can never pass 1
members_during_year as (

    select distinct memberships.vtro_id, memberships.teacher_id, years.report_year
    from memberships
    cross join years
    where memberships.joined_on <= years.reference_date
      and (memberships.left_on is null or memberships.left_on > years.reference_date)

),

member_activity as (

    select
        units.report_level,
        units.report_unit_id,
        years.report_year,
        count(distinct member_months.member_id) filter (
            where member_months.event_type in ('activity_created', 'activity_attended')
              and members_during_year.teacher_id is not null
        ) as n_active_members,
        count(distinct member_months.member_id) filter (
            where member_months.event_type = 'activity_attended'
        ) as n_distinct_participants,
        count(distinct member_months.member_id) filter (
            where member_months.event_type = 'activity_attended'
              and member_months.object_kind in (select code from training_kinds)
        ) as n_trained_teachers

    from member_months
    inner join years
        on member_months.activity_month between years.year_start and years.reference_date
    inner join units
        on member_months.vtro_id = units.vtro_id
    left join members_during_year
        on member_months.vtro_id = members_during_year.vtro_id
        and member_months.member_id = members_during_year.teacher_id
        and years.report_year = members_during_year.report_year
    group by 1, 2, 3

),

activity_figures as (

    select
        units.report_level,
        units.report_unit_id,
        extract(year from activities.first_event_date)::int as report_year,
        count(*) as n_activities,
        coalesce(sum(activities.n_participants), 0) as n_participant_times,
        count(*) filter (where activities.is_training) as n_training_sessions,
        count(*) filter (where activities.is_cross_university) as n_cross_university_activities

    from activities
    inner join units
        on activities.host_vtro_id = units.vtro_id
    inner join years
        on activities.first_event_date between years.year_start and years.reference_date
    group by 1, 2, 3

),

resource_figures as (

    select
        units.report_level,
        units.report_unit_id,
        extract(year from resources.published_on)::int as report_year,
        count(distinct coalesce(resources.resource_id, resources.event_id)) as n_resources,
        count(distinct coalesce(resources.resource_id, resources.event_id)) filter (where resources.is_knowledge_graph)
            as n_knowledge_graphs

    from resources
    inner join units
        on resources.vtro_id = units.vtro_id
    inner join years
        on resources.published_on between years.year_start and years.reference_date
    group by 1, 2, 3

),

last_activity as (

    select
        vtro_days.vtro_id,
        years.report_year,
        max(vtro_days.activity_date) as last_activity_date

    from vtro_days
    inner join years
        on vtro_days.activity_date <= years.reference_date
    where vtro_days.n_activities_created + vtro_days.n_activities_attended > 0
    group by 1, 2

),

final as (

    select
        unit_years.report_level,
        unit_years.report_unit_id,
        unit_years.report_year,
        years.reference_date,
        years.is_running_year,

        ---------- offices
        coalesce(offices.n_offices, 0) as n_offices,
        coalesce(offices.n_school_offices, 0) as n_school_offices,
        coalesce(offices.n_regional_offices, 0) as n_regional_offices,
        coalesce(offices.n_national_offices, 0) as n_national_offices,
        coalesce(offices.n_course_group_offices, 0) as n_course_group_offices,
        coalesce(offices.n_specialty_building_offices, 0) as n_specialty_building_offices,
        coalesce(offices.n_reform_topic_offices, 0) as n_reform_topic_offices,
        coalesce(offices.n_host_universities, 0) as n_host_universities,

        ---------- members
        coalesce(members.n_members, 0) as n_members,
        coalesce(member_activity.n_active_members, 0) as n_active_members,
        coalesce(members.n_member_universities, 0) as n_member_universities,
        coalesce(members.n_central_western_members, 0) as n_central_western_members,

        ---------- activities
        coalesce(activity_figures.n_activities, 0) as n_activities,
        coalesce(activity_figures.n_participant_times, 0) as n_participant_times,
        coalesce(member_activity.n_distinct_participants, 0) as n_distinct_participants,
        coalesce(activity_figures.n_cross_university_activities, 0) as n_cross_university_activities,
        coalesce(activity_figures.n_training_sessions, 0) as n_training_sessions,
        coalesce(member_activity.n_trained_teachers, 0) as n_trained_teachers,

        ---------- resources
        coalesce(resource_figures.n_resources, 0) as n_resources,
        coalesce(resource_figures.n_knowledge_graphs, 0) as n_knowledge_graphs,

        ---------- last activity (offices only)
        last_activity.last_activity_date

    from unit_years
    inner join years using (report_year)
    left join offices using (report_level, report_unit_id, report_year)
    left join members using (report_level, report_unit_id, report_year)
    left join member_activity using (report_level, report_unit_id, report_year)
    left join activity_figures using (report_level, report_unit_id, report_year)
    left join resource_figures using (report_level, report_unit_id, report_year)
    left join last_activity
        on unit_years.report_level = 'vtro'
        and unit_years.report_unit_id = last_activity.vtro_id
        and unit_years.report_year = last_activity.report_year
    where coalesce(offices.n_offices, 0) > 0

)

select * from final
