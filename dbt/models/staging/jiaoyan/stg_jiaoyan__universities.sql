with

source as (

    {{ latest_per_key(source('jiaoyan', 'universities'), ['university_id']) }}

),

renamed as (

    select
        ---------- ids
        university_id,
        province_code,

        ---------- text
        university_name,
        region_group,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
