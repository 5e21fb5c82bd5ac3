-- One row per office and day with any event in the office.
with

source as (

    {{ latest_per_key(source('jiaoyan', 'vtro_day'), ['vtro_id', 'fact_date']) }}

),

renamed as (

    select
        ---------- ids
        vtro_id,

        ---------- numerics
        events as n_events,
        active_members as n_active_members,
        members_joined as n_members_joined,
        members_left as n_members_left,
        activities_created as n_activities_created,
        activities_attended as n_activities_attended,
        activities_held as n_activities_held,
        participants as n_participants,
        trainings_attended as n_trainings_attended,
        resources_published as n_resources_published,
        knowledge_graphs_published as n_knowledge_graphs_published,
        discussions_posted as n_discussions_posted,
        lessons_observed as n_lessons_observed,
        lessons_scored as n_lessons_scored,

        ---------- dates
        fact_date as activity_date,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
