-- Each teacher-term once per area it belongs to — its province, city, district and school — with the groups the
-- region portrait compares (urban / rural, weak / other school). The shape every region-level aggregate starts from.
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

select * from areas
