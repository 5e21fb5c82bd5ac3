-- Activities as the Spark job accumulates them (one row per activity, filed under the day of its earliest event).
with

source as (

    {{ latest_per_key(source('jiaoyan', 'activities'), ['activity_id']) }}

),

renamed as (

    select
        ---------- ids
        activity_id,
        host_vtro_id,
        creator_id,

        ---------- text
        kind as activity_kind,

        ---------- numerics
        attendances as n_attendances,
        participants as n_participants,
        participant_universities as n_participant_universities,
        participant_schools as n_participant_schools,

        ---------- booleans
        is_training,
        cross_university as is_cross_university,

        ---------- dates and timestamps
        fact_date as first_event_date,
        last_fact_date as last_event_date,
        created_at,
        first_attended_at,
        last_attended_at,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
