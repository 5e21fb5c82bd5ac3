with

source as (

    {{ latest_per_key(source('jiaoyan', 'lesson_manifest'), ['lesson_id']) }}

),

renamed as (

    select
        ---------- ids
        lesson_id,
        teacher_id,
        school_id,

        ---------- text
        subject as subject_code,
        video_uri,

        ---------- numerics
        grade,
        class_size,
        duration_s,

        ---------- dates and times (China Standard Time)
        lesson_date,
        start_time::time as start_time,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
