with

source as (

    {{ latest_per_key(source('jiaoyan', 'schools'), ['school_id', 'valid_from']) }}

),

renamed as (

    select
        ---------- ids
        school_id,
        district_code,

        ---------- text
        school_name,
        stage as school_stage,
        urban_rural,

        ---------- booleans
        is_weak as is_weak_school,

        ---------- dates
        valid_from,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
