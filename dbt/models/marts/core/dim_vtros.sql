-- Virtual teaching-research offices with their host university, province and labels; the leader is pseudonymised.
with

vtros as (

    select * from {{ ref('stg_jiaoyan__vtros') }}

),

universities as (

    select * from {{ ref('dim_universities') }}

),

scopes as (

    select * from {{ ref('vtro_scopes') }}

),

content_types as (

    select * from {{ ref('vtro_content_types') }}

),

final as (

    select
        ---------- ids
        vtros.vtro_id,
        vtros.university_id,
        universities.province_code,
        {{ pseudonym('vtros.leader_teacher_id') }} as leader_pseudonym,

        ---------- text
        vtros.vtro_name,
        vtros.vtro_scope,
        scopes.name_zh as vtro_scope_name_zh,
        vtros.vtro_content_type,
        content_types.name_zh as vtro_content_type_name_zh,
        universities.university_name,
        universities.province_name,
        universities.region_group,

        ---------- numerics
        vtros.pilot_batch,

        ---------- dates
        vtros.founded_on

    from vtros
    left join universities
        on vtros.university_id = universities.university_id
    left join scopes
        on vtros.vtro_scope = scopes.code
    left join content_types
        on vtros.vtro_content_type = content_types.code

)

select * from final
