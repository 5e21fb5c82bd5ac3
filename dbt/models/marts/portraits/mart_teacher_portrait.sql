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

extremes as (

    -- the strength and the weakness of each teacher-term, in one pass over the indicators
    select
        teacher_id,
        term_code,
        max(indicator_code) filter (where is_strength) as strength_indicator,
        max(indicator_name_zh) filter (where is_strength) as strength_indicator_name_zh,
        max(z_score) filter (where is_strength) as strength_z_score,
        max(indicator_code) filter (where is_weakness) as weakness_indicator,
        max(indicator_name_zh) filter (where is_weakness) as weakness_indicator_name_zh,
        min(z_score) filter (where is_weakness) as weakness_z_score

    from indicators
    where is_strength or is_weakness
    group by teacher_id, term_code

),

with_mode as (

    select
        metrics.*,
        -- the most frequent mode; ties go to the earlier rule (practice, lecture, dialogue, mixed)
        case
            when metrics.n_lessons_analysed = 0 then null
            when metrics.n_practice_lessons >= greatest(metrics.n_lecture_lessons, metrics.n_dialogue_lessons,
                                                         metrics.n_mixed_lessons) then 'practice'
            when metrics.n_lecture_lessons >= greatest(metrics.n_dialogue_lessons, metrics.n_mixed_lessons)
                then 'lecture'
            when metrics.n_dialogue_lessons >= metrics.n_mixed_lessons then 'dialogue'
            else 'mixed'
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
        extremes.strength_indicator,
        extremes.strength_indicator_name_zh,
        extremes.strength_z_score,
        extremes.weakness_indicator,
        extremes.weakness_indicator_name_zh,
        extremes.weakness_z_score,

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
    left join extremes
        on with_mode.teacher_id = extremes.teacher_id
        and with_mode.term_code = extremes.term_code

)

select * from final
