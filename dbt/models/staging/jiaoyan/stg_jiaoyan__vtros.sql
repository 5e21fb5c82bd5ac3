with

source as (

    {{ latest_per_key(source('jiaoyan', 'vtros'), ['vtro_id']) }}

),

renamed as (

    select
        ---------- ids
        vtro_id,
        university_id,
        leader_teacher_id,

        ---------- text
        vtro_name,
        scope as vtro_scope,
        content_type as vtro_content_type,

        ---------- numerics
        pilot_batch,

        ---------- dates
        founded_on,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
