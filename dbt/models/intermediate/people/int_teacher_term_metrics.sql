-- Everything a portrait says about one teacher in one term, one row per teacher and term: lessons analysed (current
-- runs), mean Rt / Ch and the teaching-mode mix, teacher talk, interaction, participation, attention and performance
-- (means over the term's lessons), rubric ratios by kind (means over scored lessons of the lesson's observer-averaged
-- overall ratio), and research engagement (the Spark job's member_term_research and collaboration across schools).
{{ config(materialized='table') }}

with

teacher_terms as (

    select * from {{ ref('int_teacher_terms') }}

),

lessons as (

    select * from {{ ref('fct_lessons') }}
    where is_coded

),

metrics as (

    select * from {{ ref('fct_lesson_behaviour_metrics') }}

),

rubric_scores as (

    select * from {{ ref('fct_lesson_rubric_scores') }}
    where indicator_id = '__overall__'

),

research as (

    select * from {{ ref('stg_jiaoyan__member_term_research') }}

),

collaboration as (

    select * from {{ ref('int_member_term_collaboration') }}

),

behaviour as (

    select
        lessons.teacher_id,
        lessons.term_code,
        count(*) as n_lessons_analysed,
        count(*) filter (where metrics.teaching_mode = 'practice') as n_practice_lessons,
        count(*) filter (where metrics.teaching_mode = 'lecture') as n_lecture_lessons,
        count(*) filter (where metrics.teaching_mode = 'dialogue') as n_dialogue_lessons,
        count(*) filter (where metrics.teaching_mode = 'mixed') as n_mixed_lessons,
        avg(metrics.rt) as mean_rt,
        avg(metrics.ch) as mean_ch,
        avg(metrics.share_lecturing) as teacher_talk,
        avg(metrics.share_teacher_student_interaction) as teacher_student_interaction,
        avg(metrics.mean_share_student_interaction) as student_student_interaction,
        avg(metrics.participation_level) as participation,
        avg(metrics.attention_level) as attention,
        avg(metrics.consistency_level) as performance

    from lessons
    inner join metrics
        on lessons.current_lesson_run_id = metrics.lesson_run_id
    where lessons.term_code is not null
    group by lessons.teacher_id, lessons.term_code

),

rubrics as (

    select
        lessons.teacher_id,
        lessons.term_code,
        count(*) filter (where rubric_scores.rubric_kind = 'teaching_design') as n_lessons_design_scored,
        count(*) filter (where rubric_scores.rubric_kind = 'classroom_teaching') as n_lessons_classroom_scored,
        avg(rubric_scores.mean_ratio) filter (where rubric_scores.rubric_kind = 'teaching_design')
            as rubric_teaching_design,
        avg(rubric_scores.mean_ratio) filter (where rubric_scores.rubric_kind = 'classroom_teaching')
            as rubric_classroom_teaching

    from {{ ref('fct_lessons') }} as lessons
    inner join rubric_scores
        on lessons.lesson_id = rubric_scores.lesson_id
    where lessons.term_code is not null
    group by lessons.teacher_id, lessons.term_code

),

final as (

    select
        teacher_terms.*,

        ---------- behaviour
        coalesce(behaviour.n_lessons_analysed, 0) as n_lessons_analysed,
        coalesce(behaviour.n_practice_lessons, 0) as n_practice_lessons,
        coalesce(behaviour.n_lecture_lessons, 0) as n_lecture_lessons,
        coalesce(behaviour.n_dialogue_lessons, 0) as n_dialogue_lessons,
        coalesce(behaviour.n_mixed_lessons, 0) as n_mixed_lessons,
        {{ metric_round('behaviour.mean_rt') }} as rt,
        {{ metric_round('behaviour.mean_ch') }} as ch,
        {{ metric_round('behaviour.teacher_talk') }} as teacher_talk,
        {{ metric_round('behaviour.teacher_student_interaction') }} as teacher_student_interaction,
        {{ metric_round('behaviour.student_student_interaction') }} as student_student_interaction,
        {{ metric_round('behaviour.participation') }} as participation,
        {{ metric_round('behaviour.attention') }} as attention,
        {{ metric_round('behaviour.performance') }} as performance,

        ---------- rubrics
        coalesce(rubrics.n_lessons_design_scored, 0) as n_lessons_design_scored,
        coalesce(rubrics.n_lessons_classroom_scored, 0) as n_lessons_classroom_scored,
        {{ metric_round('rubrics.rubric_teaching_design') }} as rubric_teaching_design,
        {{ metric_round('rubrics.rubric_classroom_teaching') }} as rubric_classroom_teaching,

        ---------- research engagement
        coalesce(research.n_activities_attended, 0) as n_activities_attended,
        coalesce(research.n_activities_created, 0) as n_activities_led,
        coalesce(research.n_resources_published, 0) as n_resources_published,
        coalesce(research.n_lessons_observed, 0) + coalesce(research.n_lessons_scored, 0) as n_peer_lessons_observed,
        coalesce(collaboration.n_cross_school_activities, 0) as n_cross_school_activities,
        coalesce(research.n_research_actions, 0) as n_research_actions,
        {{ metric_round('research.research_potential') }} as research_potential

    from teacher_terms
    left join behaviour using (teacher_id, term_code)
    left join rubrics using (teacher_id, term_code)
    left join research using (teacher_id, term_code)
    left join collaboration
        on teacher_terms.teacher_id = collaboration.member_id
        and teacher_terms.term_code = collaboration.term_code

)

select * from final
