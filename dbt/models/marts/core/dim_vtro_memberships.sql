-- Memberships of teachers in offices (a member who left and re-joined has two rows), with the member's university
-- and its east / central / western group as of the day they joined (the teacher version valid then).
with

memberships as (

    select * from {{ ref('stg_jiaoyan__vtro_members') }}

),

teachers as (

    select * from {{ ref('dim_teachers') }}

),

universities as (

    select * from {{ ref('dim_universities') }}

),

member_versions as (

    select distinct on (memberships.vtro_id, memberships.teacher_id, memberships.joined_on)
        memberships.*,
        teachers.university_id,
        teachers.school_id

    from memberships
    left join teachers
        on memberships.teacher_id = teachers.teacher_id
    -- the version valid when they joined, else the earliest one
    order by memberships.vtro_id, memberships.teacher_id, memberships.joined_on,
        (teachers.valid_from <= memberships.joined_on) desc, teachers.valid_from desc

),

final as (

    select
        member_versions.vtro_id,
        member_versions.teacher_id,
        {{ pseudonym('member_versions.teacher_id') }} as member_pseudonym,
        member_versions.member_role,
        member_versions.joined_on,
        member_versions.left_on,
        member_versions.university_id,
        member_versions.school_id,
        universities.region_group as university_region_group,
        coalesce(universities.is_central_or_western, false) as is_from_central_or_western

    from member_versions
    left join universities
        on member_versions.university_id = universities.university_id

)

select * from final
