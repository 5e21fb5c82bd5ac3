-- Who attended which activity on which day (the loader replaces whole days, so each key is here once).
with

source as (

    select * from {{ source('jiaoyan', 'activity_attendance') }}

),

renamed as (

    select
        ---------- ids
        activity_id,
        member_id,
        vtro_id,

        ---------- text
        kind as activity_kind,

        ---------- numerics
        attendances as n_attendances,

        ---------- dates and timestamps
        fact_date as attended_on,
        first_ts as first_attended_at,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
