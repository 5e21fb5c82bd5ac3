-- Research engagement per member and term with the Spark job's research-potential score
-- (definition: spark_jobs/activity/research.py; restated in docs/metrics.md).
with

source as (

    {{ latest_per_key(source('jiaoyan', 'member_term_research'), ['member_id', 'term_code']) }}

),

renamed as (

    select
        ---------- ids
        member_id as teacher_id,
        term_code,

        ---------- numerics
        actions as n_research_actions,
        action_types as n_research_action_types,
        activities_created as n_activities_created,
        activities_attended as n_activities_attended,
        resources_published as n_resources_published,
        discussions_posted as n_discussions_posted,
        lessons_observed as n_lessons_observed,
        lessons_scored as n_lessons_scored,
        active_weeks as n_active_weeks,
        median_gap_days,
        volume_score,
        breadth_score,
        contribution_score,
        continuity_score,
        research_potential,

        ---------- dates and timestamps
        fact_date as term_start,
        computed_through,
        first_action_at,
        last_action_at,

        ---------- lineage
        _batch_id as batch_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
