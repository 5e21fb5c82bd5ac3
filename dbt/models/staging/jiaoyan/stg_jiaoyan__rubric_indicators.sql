with

source as (

    {{ latest_per_key(source('jiaoyan', 'rubric_indicators'), ['rubric_id', 'indicator_id']) }}

),

renamed as (

    select
        ---------- ids
        rubric_id,
        indicator_id,
        parent_id as parent_indicator_id,

        ---------- text
        rubric_name,
        kind as rubric_kind,
        subject as subject_code,
        name as indicator_name,

        ---------- numerics
        version as rubric_version,
        level as indicator_level,
        position as indicator_position,
        max_score,
        weight,

        ---------- dates
        published_on,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
