with

source as (

    {{ latest_per_key(source('jiaoyan', 'teachers'), ['teacher_id', 'valid_from']) }}

),

renamed as (

    select
        ---------- ids
        teacher_id,
        school_id,
        university_id,

        ---------- personal data (pseudonymised downstream)
        teacher_name,
        gender,
        birth_year,

        ---------- text
        title as title_code,
        subject as subject_code,
        case when school_id is not null then 'school' else 'university' end as teacher_sector,

        ---------- numerics
        grade,

        ---------- dates
        valid_from,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
