-- Human (gold) codes: a lesson re-coded later replaces the earlier coding point by point.
with

source as (

    {{ latest_per_key(source('jiaoyan', 'gold_codes'), ['lesson_id', 'point_index'],
                      ['coded_at', '_loaded_at', '_batch_id', '_line']) }}

),

renamed as (

    select
        ---------- ids
        lesson_id,
        point_index,
        coder_id,

        ---------- codes
        teacher_behaviour,
        share_listening,
        share_hand_raising,
        share_answering,
        share_reading_writing,
        share_student_interaction,

        ---------- timestamps
        coded_at,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
