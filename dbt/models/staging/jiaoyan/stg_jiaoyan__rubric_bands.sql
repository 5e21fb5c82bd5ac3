with

source as (

    {{ latest_per_key(source('jiaoyan', 'rubric_bands'), ['rubric_id', 'band']) }}

),

renamed as (

    select
        ---------- ids
        rubric_id,
        band as band_code,

        ---------- text
        label_zh as band_label_zh,

        ---------- numerics
        min_ratio as band_min_ratio,
        rank as band_rank,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
