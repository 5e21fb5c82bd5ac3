-- Every delivered rubric score, renamed, not deduplicated: what incremental models read (a filter on the batch reaches
-- the raw table's batch index). stg_jiaoyan__rubric_scores keeps the latest row per key.
with

source as (

    select * from {{ source('jiaoyan', 'rubric_scores') }}

),

renamed as (

    select
        ---------- ids
        lesson_id,
        rubric_id,
        indicator_id,
        observer_id,

        ---------- text
        observer_role,

        ---------- numerics
        score,

        ---------- timestamps
        scored_at,

        ---------- lineage
        _batch_id as batch_id,
        _line as source_line,
        _loaded_at as loaded_at

    from source

)

select * from renamed
