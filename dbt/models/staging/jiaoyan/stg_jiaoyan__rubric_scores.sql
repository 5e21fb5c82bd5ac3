-- A corrected score (a later row for the same lesson, rubric, leaf and observer) replaces the earlier one:
-- latest by when it was scored, then by when it was loaded.
with

source as (

    {{ latest_per_key(source('jiaoyan', 'rubric_scores'),
                      ['lesson_id', 'rubric_id', 'indicator_id', 'observer_id'],
                      ['scored_at', '_loaded_at', '_batch_id', '_line']) }}

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
        _loaded_at as loaded_at

    from source

)

select * from renamed
