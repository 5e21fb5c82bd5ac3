-- Report 1 (one teacher, one lesson) and the lesson-level input of every other report: one row per lesson run
-- with the lesson's context (pseudonymised teacher, school, region, subject, term) and all behaviour metrics.
-- `is_current_run` marks the run portraits use; other runs (other model versions) stay for comparison.
with

metrics as (

    select * from {{ ref('fct_lesson_behaviour_metrics') }}

),

lessons as (

    select * from {{ ref('fct_lessons') }}

),

schools as (

    select * from {{ ref('dim_schools') }}

),

subjects as (

    select * from {{ ref('subjects') }}

),

modes as (

    select * from {{ ref('teaching_modes') }}

),

final as (

    select
        ---------- ids
        metrics.lesson_run_id,
        metrics.lesson_id,
        lessons.teacher_pseudonym,
        lessons.school_id,
        lessons.district_code,
        lessons.city_code,
        lessons.province_code,

        ---------- lesson context
        schools.school_name,
        schools.district_name,
        schools.city_name,
        schools.province_name,
        lessons.subject_code,
        subjects.name_zh as subject_name_zh,
        lessons.grade,
        lessons.lesson_date,
        lessons.start_time,
        lessons.term_code,
        lessons.school_year,
        lessons.video_uri,
        lessons.class_size,

        ---------- coding
        metrics.model_name,
        metrics.model_version,
        coalesce(metrics.lesson_run_id = lessons.current_lesson_run_id, false) as is_current_run,

        ---------- S-T analysis and teaching mode
        metrics.n_points,
        metrics.n_t_points,
        metrics.n_s_points,
        metrics.n_st_runs,
        metrics.rt,
        metrics.ch,
        metrics.teaching_mode,
        modes.name_zh as teaching_mode_name_zh,

        ---------- rose chart
        {% for code in teacher_behaviour_codes() -%}
        metrics.share_{{ code }},
        {% endfor -%}
        {% for code, column in student_behaviour_columns() -%}
        metrics.mean_{{ column }},
        {% endfor %}
        ---------- curves, whole lesson
        metrics.participation_level,
        metrics.consistency_level,
        metrics.attention_level,

        ---------- settings
        metrics.sampling_interval_s,
        metrics.coded_duration_s,
        metrics.rt_practice_max,
        metrics.rt_lecture_min,
        metrics.ch_dialogue_min

    from metrics
    left join lessons
        on metrics.lesson_id = lessons.lesson_id
    left join schools
        on lessons.school_key = schools.school_key
    left join subjects
        on lessons.subject_code = subjects.code
    left join modes
        on metrics.teaching_mode = modes.code

)

select * from final
