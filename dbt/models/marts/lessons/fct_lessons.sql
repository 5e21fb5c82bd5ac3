-- One row per lesson of the manifests, with the teacher and school versions valid on the lesson date, its region,
-- term and year, and the lesson run portraits use (`current_lesson_run_id`): the run of the pinned model
-- (vars current_model_name / current_model_version) when it coded the lesson, else the latest-loaded run of a
-- non-simulated model, else the latest-loaded run.
{{
    config(
        indexes=[
            {'columns': ['lesson_id'], 'unique': true},
            {'columns': ['teacher_id', 'lesson_date']},
            {'columns': ['current_lesson_run_id']},
        ],
    )
}}

with

lessons as (

    select * from {{ ref('stg_jiaoyan__lessons') }}

),

teachers as (

    select * from {{ ref('dim_teachers') }}

),

schools as (

    select * from {{ ref('dim_schools') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

lesson_runs as (

    select * from {{ ref('fct_lesson_runs') }}

),

ranked_runs as (

    select
        lesson_id,
        lesson_run_id,
        model_name,
        model_version,
        count(*) over (partition by lesson_id) as n_lesson_runs,
        row_number() over (
            partition by lesson_id
            order by
                {% if var('current_model_name') and var('current_model_version') -%}
                (model_name = '{{ var("current_model_name") }}' and model_version = '{{ var("current_model_version") }}') desc,
                {% endif -%}
                is_simulated_model asc,
                loaded_at desc,
                model_name desc,
                -- registry versions are numbers: compare them as numbers ('10' after '9')
                case when model_version ~ '^[0-9]+$' then lpad(model_version, 20, '0') else model_version end desc
        ) as preference

    from lesson_runs

),

current_runs as (

    select * from ranked_runs where preference = 1

),

lesson_teacher as (

    -- the teacher version valid on the lesson date; a lesson before the first version gets the first version
    select distinct on (lessons.lesson_id)
        lessons.lesson_id,
        teachers.teacher_key

    from lessons
    inner join teachers
        on lessons.teacher_id = teachers.teacher_id
    order by lessons.lesson_id, (teachers.valid_from <= lessons.lesson_date) desc, teachers.valid_from desc

),

lesson_school as (

    select distinct on (lessons.lesson_id)
        lessons.lesson_id,
        schools.school_key

    from lessons
    inner join schools
        on lessons.school_id = schools.school_id
    order by lessons.lesson_id, (schools.valid_from <= lessons.lesson_date) desc, schools.valid_from desc

),

final as (

    select
        ---------- ids
        lessons.lesson_id,
        lessons.teacher_id,
        lesson_teacher.teacher_key,
        {{ pseudonym('lessons.teacher_id') }} as teacher_pseudonym,
        lessons.school_id,
        lesson_school.school_key,
        schools.district_code,
        schools.city_code,
        schools.province_code,
        current_runs.lesson_run_id as current_lesson_run_id,

        ---------- lesson
        lessons.subject_code,
        lessons.grade,
        lessons.class_size,
        lessons.duration_s,
        lessons.video_uri,
        lessons.lesson_date,
        lessons.start_time,
        dates.term_code,
        dates.school_year,
        dates.calendar_year,
        dates.month_start as lesson_month,

        ---------- school on the lesson date
        schools.school_stage,
        schools.urban_rural,
        schools.is_weak_school,

        ---------- teacher on the lesson date
        teachers.title_code,

        ---------- coding
        current_runs.model_name as current_model_name,
        current_runs.model_version as current_model_version,
        coalesce(current_runs.n_lesson_runs, 0) as n_lesson_runs,
        current_runs.lesson_run_id is not null as is_coded

    from lessons
    left join lesson_teacher using (lesson_id)
    left join teachers using (teacher_key)
    left join lesson_school using (lesson_id)
    left join schools using (school_key)
    left join dates
        on lessons.lesson_date = dates.date_day
    left join current_runs using (lesson_id)

)

select * from final
