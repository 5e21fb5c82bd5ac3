-- Every delivery of machine codes, not deduplicated here: a lesson coded by one model version is replaced as a
-- whole by its latest delivery, which fct_lesson_runs picks (dedup at lesson-run grain, so the incremental facts can
-- filter this view by load time and PostgreSQL pushes that filter down to the raw table).
with

source as (

    select * from {{ source('jiaoyan', 'behaviour_codes') }}

),

renamed as (

    select
        ---------- ids
        lesson_id,
        model_name,
        model_version,
        point_index,

        ---------- codes
        t_start_s,
        teacher_behaviour,
        teacher_prob,
        share_listening,
        share_hand_raising,
        share_answering,
        share_reading_writing,
        share_student_interaction,
        students_seen,
        st_code as model_st_code,
        audio_present,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
