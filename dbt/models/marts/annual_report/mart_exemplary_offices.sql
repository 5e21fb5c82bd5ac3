-- Offices per year with their compliance and the documented composite score used to rank candidates for exemplary
-- offices 示范虚拟教研室. Compliance (2021 pilot notice): at least compliance_min_members members, and a national office
-- must have members from central or western universities. Composite score (0–100) = 100 × Σ_c w_c × cume_dist_c / Σ_c w_c,
-- where cume_dist_c is the office's cumulative distribution (share of the year's offices at or below it) on component
-- c and the weights w_c come from the seed exemplary_score_weights. Candidates: compliant offices in the top
-- exemplary_top_share of the year's scores. Offices to remind: no activity for inactive_days_to_remind days by the
-- year's reference date.
with

figures as (

    select * from {{ ref('int_annual_unit_figures') }}
    where report_level = 'vtro'

),

vtros as (

    select * from {{ ref('dim_vtros') }}

),

weights as (

    select * from {{ ref('exemplary_score_weights') }}

),

components as (

    select
        figures.*,
        vtros.vtro_name,
        vtros.vtro_scope,
        vtros.vtro_scope_name_zh,
        vtros.vtro_content_type,
        vtros.vtro_content_type_name_zh,
        vtros.university_id,
        vtros.university_name,
        vtros.province_code,
        vtros.province_name,
        vtros.leader_pseudonym,
        vtros.founded_on,
        coalesce(figures.n_activities::numeric / nullif(figures.n_members, 0), 0) as activities_per_member,
        coalesce(figures.n_active_members::numeric / nullif(figures.n_members, 0), 0) as active_member_share,
        coalesce(figures.n_participant_times::numeric / nullif(figures.n_activities, 0), 0) as participation_per_activity,
        coalesce((figures.n_resources + figures.n_knowledge_graphs)::numeric / nullif(figures.n_members, 0), 0)
            as resources_per_member,
        coalesce(figures.n_cross_university_activities::numeric / nullif(figures.n_activities, 0), 0)
            as cross_university_share,
        figures.n_training_sessions::numeric as training_sessions

    from figures
    inner join vtros
        on figures.report_unit_id = vtros.vtro_id

),

ranked as (

    select
        *,
        {% for component in ['activities_per_member', 'active_member_share', 'participation_per_activity',
                             'resources_per_member', 'cross_university_share', 'training_sessions'] -%}
        cume_dist() over (partition by report_year order by {{ component }}) as cume_dist_{{ component }}{{ ',' if not loop.last }}
        {% endfor %}

    from components

),

scored as (

    select
        ranked.*,
        100 * (
            {% for component in ['activities_per_member', 'active_member_share', 'participation_per_activity',
                                 'resources_per_member', 'cross_university_share', 'training_sessions'] -%}
            (select weight from weights where component = '{{ component }}') * ranked.cume_dist_{{ component }}
            {{ '+' if not loop.last }}
            {% endfor %}
        ) / (select sum(weight) from weights) as composite_score

    from ranked

),

compliance as (

    select
        scored.*,
        scored.n_members >= {{ var('compliance_min_members') }} as meets_member_minimum,
        scored.vtro_scope <> 'national' or scored.n_central_western_members > 0 as meets_central_western_rule,
        scored.reference_date - coalesce(scored.last_activity_date, scored.founded_on) as days_inactive

    from scored

),

final as (

    select
        ---------- office and year
        report_unit_id as vtro_id,
        vtro_name,
        report_year,
        reference_date,
        is_running_year,
        vtro_scope,
        vtro_scope_name_zh,
        vtro_content_type,
        vtro_content_type_name_zh,
        university_id,
        university_name,
        province_code,
        province_name,
        leader_pseudonym,

        ---------- figures
        n_members,
        n_active_members,
        n_central_western_members,
        n_activities,
        n_participant_times,
        n_training_sessions,
        n_resources,
        n_knowledge_graphs,

        ---------- compliance
        meets_member_minimum,
        meets_central_western_rule,
        meets_member_minimum and meets_central_western_rule as is_compliant,

        ---------- composite score components and score
        {{ metric_round('activities_per_member') }} as activities_per_member,
        {{ metric_round('active_member_share') }} as active_member_share,
        {{ metric_round('participation_per_activity') }} as participation_per_activity,
        {{ metric_round('resources_per_member') }} as resources_per_member,
        {{ metric_round('cross_university_share') }} as cross_university_share,
        {{ metric_round('composite_score') }} as composite_score,
        rank() over (partition by report_year order by {{ metric_round('composite_score') }} desc) as composite_rank,
        meets_member_minimum and meets_central_western_rule
            and percent_rank() over (partition by report_year order by {{ metric_round('composite_score') }} desc)
                < {{ var('exemplary_top_share') }} as is_exemplary_candidate,

        ---------- reminders
        last_activity_date,
        days_inactive,
        days_inactive >= {{ var('inactive_days_to_remind') }} as to_remind

    from compliance

)

select * from final
