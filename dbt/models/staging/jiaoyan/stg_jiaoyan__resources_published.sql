-- Resource publications (one row per publication event; a resource published twice appears twice).
with

source as (

    {{ latest_per_key(source('jiaoyan', 'resources_published'), ['event_id']) }}

),

renamed as (

    select
        ---------- ids
        event_id,
        resource_id,
        member_id,
        vtro_id,

        ---------- text
        kind as resource_kind,

        ---------- booleans
        is_knowledge_graph,

        ---------- dates and timestamps
        fact_date as published_on,
        published_at,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
