-- Every delivered event, not deduplicated here (fct_activity_events keeps the first by ts of each event id,
-- incrementally); the local date is the day the event happened in China Standard Time, not the day it arrived.
with

source as (

    select * from {{ source('jiaoyan', 'activity_events') }}

),

renamed as (

    select
        ---------- ids
        event_id,
        member_id,
        vtro_id,
        object_id,

        ---------- text
        event_type,
        attrs ->> 'kind' as object_kind,
        attrs,

        ---------- timestamps
        ts as event_at,
        {{ local_date('ts') }} as event_date,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
