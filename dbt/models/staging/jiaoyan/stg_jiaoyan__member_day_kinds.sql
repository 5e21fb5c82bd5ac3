-- Activities created or attended and resources published, by member, office, day, event type and kind
-- (the loader replaces whole days, so each key is here once; not deduplicated so filters reach the raw table).
with

source as (

    select * from {{ source('jiaoyan', 'member_day_kinds') }}

),

renamed as (

    select
        ---------- ids
        member_id,
        vtro_id,

        ---------- text
        event_type,
        kind as object_kind,

        ---------- numerics
        events as n_events,
        objects as n_objects,

        ---------- dates
        fact_date as activity_date,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
