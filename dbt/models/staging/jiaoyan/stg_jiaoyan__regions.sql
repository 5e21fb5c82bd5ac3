with

source as (

    {{ latest_per_key(source('jiaoyan', 'regions'), ['region_code']) }}

),

renamed as (

    select
        ---------- ids
        region_code,
        parent_code as parent_region_code,

        ---------- text
        region_name,
        level as region_level,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
