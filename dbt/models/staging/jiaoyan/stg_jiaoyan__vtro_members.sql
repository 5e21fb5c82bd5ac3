with

source as (

    {{ latest_per_key(source('jiaoyan', 'vtro_members'), ['vtro_id', 'teacher_id', 'joined_on']) }}

),

renamed as (

    select
        ---------- ids
        vtro_id,
        teacher_id,

        ---------- text
        role as member_role,

        ---------- dates
        joined_on,
        left_on,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
