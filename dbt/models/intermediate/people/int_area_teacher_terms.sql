-- Each teacher-term once per area it belongs to — its province, city, district and school — with the groups the
-- region portrait compares (urban / rural, weak / other school). The shape every region-level aggregate starts from.
{{ config(materialized='table') }}

with

metrics as (

    select * from {{ ref('int_teacher_term_metrics') }}

),

areas as (

    select 'province' as area_level, province_code as area_code, metrics.* from metrics where province_code is not null
    union all
    select 'city', city_code, metrics.* from metrics where city_code is not null
    union all
    select 'district', district_code, metrics.* from metrics where district_code is not null
    union all
    select 'school', school_id, metrics.* from metrics where school_id is not null

)

-- only what the area aggregates read (the teacher-level values are joined from int_teacher_term_indicator_values)
select
    area_level,
    area_code,
    teacher_id,
    term_code,
    urban_rural,
    is_weak_school,
    n_lessons_analysed,
    n_practice_lessons,
    n_lecture_lessons,
    n_dialogue_lessons,
    n_mixed_lessons,
    n_research_actions,
    n_activities_attended,
    n_resources_published
from areas
