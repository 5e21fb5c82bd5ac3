-- The teacher portrait 教师画像, one row per teacher and term: lessons analysed, mean Rt and Ch and the teaching-mode
-- mix, teacher talk, interaction, participation, attention and performance levels, rubric ratios by kind with the
-- band of the overall indicator, research engagement and the research-potential score, the strength and weakness
-- (against peers of the same subject and grade in the region) and the change against the previous term.
-- Carries the teacher's pseudonym; the name is only in intermediate.int_teacher_identities (the teacher's own view).
with

metrics as (

    select * from {{ ref('int_teacher_term_metrics') }}

),

indicators as (

    select * from {{ ref('mart_teacher_portrait_indicators') }}

),

terms as (

    select * from {{ ref('dim_terms') }}

),

modes as (

    select * from {{ ref('teaching_modes') }}

),

strengths as (

    select teacher_id, term_code, indicator_code, indicator_name_zh, z_score
    from indicators
    where is_strength

),

weaknesses as (

    select teacher_id, term_code, indicator_code, indicator_name_zh, z_score
    from indicators
    where is_weakness

),

with_mode as (

    select
        metrics.*,
        case
            when metrics.n_lessons_analysed = 0 then null
            else (
                select mode
                from (values
                    ('practice', metrics.n_practice_lessons, 1),
                    ('lecture', metrics.n_lecture_lessons, 2),
                    ('dialogue', metrics.n_dialogue_lessons, 3),
                    ('mixed', metrics.n_mixed_lessons, 4)
                ) as counts (mode, n, rule_order)
                order by n desc, rule_order
                limit 1
            )
        end as most_frequent_teaching_mode

    from metrics

),

final as (

    select
        ---------- who and when
        with_mode.teacher_id,
        with_mode.teacher_pseudonym,
        with_mode.term_code,
        terms.term_name_zh,
        terms.school_year,
        with_mode.subject_code,
        with_mode.grade,
        with_mode.title_code,
        with_mode.school_id,
        with_mode.district_code,
        with_mode.city_code,
        with_mode.province_code,
        with_mode.urban_rural,
        with_mode.is_weak_school,

        ---------- lessons and teaching mode
        with_mode.n_lessons_analysed,
        with_mode.rt,
        with_mode.ch,
        with_mode.n_practice_lessons,
        with_mode.n_lecture_lessons,
        with_mode.n_dialogue_lessons,
        with_mode.n_mixed_lessons,
        {{ metric_round('with_mode.n_practice_lessons::numeric / nullif(with_mode.n_lessons_analysed, 0)') }} as share_practice_lessons,
        {{ metric_round('with_mode.n_lecture_lessons::numeric / nullif(with_mode.n_lessons_analysed, 0)') }} as share_lecture_lessons,
        {{ metric_round('with_mode.n_dialogue_lessons::numeric / nullif(with_mode.n_lessons_analysed, 0)') }} as share_dialogue_lessons,
        {{ metric_round('with_mode.n_mixed_lessons::numeric / nullif(with_mode.n_lessons_analysed, 0)') }} as share_mixed_lessons,
        with_mode.most_frequent_teaching_mode,
        modes.name_zh as most_frequent_teaching_mode_name_zh,

        ---------- levels
        with_mode.teacher_talk,
        with_mode.teacher_student_interaction,
        with_mode.student_student_interaction,
        with_mode.participation,
        with_mode.attention,
        with_mode.performance,

        ---------- rubrics
        with_mode.n_lessons_design_scored,
        with_mode.n_lessons_classroom_scored,
        with_mode.rubric_teaching_design,
        with_mode.rubric_classroom_teaching,

        ---------- research engagement
        with_mode.n_activities_attended,
        with_mode.n_activities_led,
        with_mode.n_resources_published,
        with_mode.n_peer_lessons_observed,
        with_mode.n_cross_school_activities,
        with_mode.n_research_actions,
        with_mode.research_potential,

        ---------- against peers
        strengths.indicator_code as strength_indicator,
        strengths.indicator_name_zh as strength_indicator_name_zh,
        strengths.z_score as strength_z_score,
        weaknesses.indicator_code as weakness_indicator,
        weaknesses.indicator_name_zh as weakness_indicator_name_zh,
        weaknesses.z_score as weakness_z_score,

        ---------- change against the previous term
        terms.previous_term_code,
        previous.n_lessons_analysed as previous_n_lessons_analysed,
        {% for indicator in portrait_indicators() -%}
        {{ metric_round('with_mode.' ~ indicator ~ ' - previous.' ~ indicator) }} as change_{{ indicator }}{{ ',' if not loop.last }}
        {% endfor %}

    from with_mode
    inner join terms using (term_code)
    left join metrics as previous
        on with_mode.teacher_id = previous.teacher_id
        and terms.previous_term_code = previous.term_code
    left join modes
        on with_mode.most_frequent_teaching_mode = modes.code
    left join strengths
        on with_mode.teacher_id = strengths.teacher_id
        and with_mode.term_code = strengths.term_code
    left join weaknesses
        on with_mode.teacher_id = weaknesses.teacher_id
        and with_mode.term_code = weaknesses.term_code

)

select * from final
