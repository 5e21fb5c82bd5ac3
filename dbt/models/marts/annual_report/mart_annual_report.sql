-- The annual report 年报 figures, one row per report unit (office, university, province, nation) and year: offices by
-- scope and type, universities covered, members and active members, activities and participants, training sessions
-- and trained teachers, resources and knowledge graphs, the share of activities spanning several universities, and
-- compliance and reminders rolled up from the offices. Breakdowns by kind are in mart_annual_report_breakdown.
with

figures as (

    select * from {{ ref('int_annual_unit_figures') }}

),

offices as (

    select * from {{ ref('mart_exemplary_offices') }}

),

units as (

    select * from {{ ref('int_vtro_report_units') }}

),

vtros as (

    select * from {{ ref('dim_vtros') }}

),

universities as (

    select * from {{ ref('dim_universities') }}

),

provinces as (

    select * from {{ ref('provinces') }}

),

office_rollup as (

    select
        units.report_level,
        units.report_unit_id,
        offices.report_year,
        count(*) filter (where offices.is_compliant) as n_compliant_offices,
        count(*) filter (where offices.to_remind) as n_offices_to_remind,
        count(*) filter (where offices.is_exemplary_candidate) as n_exemplary_candidates,
        avg(offices.composite_score) as mean_composite_score

    from offices
    inner join units
        on offices.vtro_id = units.vtro_id
    group by 1, 2, 3

),

final as (

    select
        ---------- unit and year
        figures.report_level,
        figures.report_unit_id,
        case figures.report_level
            when 'vtro' then vtros.vtro_name
            when 'university' then universities.university_name
            when 'province' then provinces.name_zh
            else '全国'
        end as report_unit_name,
        case figures.report_level when 'province' then provinces.iso_3166_2 end as province_iso_3166_2,
        figures.report_year,
        figures.reference_date,
        figures.is_running_year,

        ---------- offices
        figures.n_offices,
        figures.n_school_offices,
        figures.n_regional_offices,
        figures.n_national_offices,
        figures.n_course_group_offices,
        figures.n_specialty_building_offices,
        figures.n_reform_topic_offices,

        ---------- universities covered
        figures.n_host_universities,
        figures.n_member_universities,

        ---------- members
        figures.n_members,
        figures.n_active_members,
        {{ metric_round('figures.n_active_members::numeric / nullif(figures.n_members, 0)') }} as active_member_share,
        figures.n_central_western_members,

        ---------- activities
        figures.n_activities,
        figures.n_participant_times,
        figures.n_distinct_participants,
        figures.n_cross_university_activities,
        {{ metric_round('figures.n_cross_university_activities::numeric / nullif(figures.n_activities, 0)') }}
            as share_cross_university_activities,

        ---------- training
        figures.n_training_sessions,
        figures.n_trained_teachers,

        ---------- resources
        figures.n_resources,
        figures.n_knowledge_graphs,
        figures.n_resources - figures.n_knowledge_graphs as n_resources_other_than_knowledge_graphs,

        ---------- compliance, candidates and reminders (from the offices)
        coalesce(office_rollup.n_compliant_offices, 0) as n_compliant_offices,
        {{ metric_round('office_rollup.n_compliant_offices::numeric / nullif(figures.n_offices, 0)') }} as share_compliant_offices,
        coalesce(office_rollup.n_exemplary_candidates, 0) as n_exemplary_candidates,
        coalesce(office_rollup.n_offices_to_remind, 0) as n_offices_to_remind,
        {{ metric_round('office_rollup.mean_composite_score') }} as mean_composite_score,
        figures.last_activity_date

    from figures
    left join office_rollup using (report_level, report_unit_id, report_year)
    left join vtros
        on figures.report_level = 'vtro' and figures.report_unit_id = vtros.vtro_id
    left join universities
        on figures.report_level = 'university' and figures.report_unit_id = universities.university_id
    left join provinces
        on figures.report_level = 'province' and figures.report_unit_id = provinces.province_code

)

select * from final
