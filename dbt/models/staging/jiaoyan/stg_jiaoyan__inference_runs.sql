with

source as (

    {{ latest_per_key(source('jiaoyan', 'lesson_runs'), ['lesson_id', 'model_name', 'model_version']) }}

),

renamed as (

    select
        ---------- ids
        lesson_id,
        model_name,
        model_version,

        ---------- text
        status as inference_status,
        reason as quarantine_reason,
        video_uri,

        ---------- numerics
        duration_s,
        n_points,
        fps,
        width,
        height,
        decode_seconds,
        total_seconds,

        ---------- booleans
        audio_present,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
