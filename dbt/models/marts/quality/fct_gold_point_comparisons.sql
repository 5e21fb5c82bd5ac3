-- Human (gold) codes beside the machine codes of every model version that coded the same lesson, point by point,
-- both classified the same way from the seed: teacher behaviour, dominant student behaviour (ties to the earlier
-- behaviour in seed order) and S/T code. Grain: lesson run × point with a gold code.
with

gold as (

    select * from {{ ref('stg_jiaoyan__gold_codes') }}

),

behaviour_codes as (

    select * from {{ ref('behaviour_codes') }}

),

runs as (

    select * from {{ ref('fct_lesson_runs') }}

),

points as (

    select * from {{ ref('fct_behaviour_points') }}

),

gold_classified as (

    select
        gold.lesson_id,
        gold.point_index,
        gold.teacher_behaviour,
        {% for code, column in student_behaviour_columns() -%}
        gold.{{ column }},
        {% endfor -%}
        dominant.code as dominant_student_behaviour,
        case when teachers.st_code = 'S' or dominant.st_code = 'S' then 'S' else 'T' end as st_code

    from gold
    left join behaviour_codes as teachers
        on teachers.actor = 'teacher' and gold.teacher_behaviour = teachers.code
    left join behaviour_codes as dominant
        on dominant.actor = 'student' and dominant.position = {{ dominant_student_position('gold') }}

),

final as (

    select
        runs.lesson_run_id,
        runs.lesson_id,
        runs.model_name,
        runs.model_version,
        gold_classified.point_index,
        gold_classified.teacher_behaviour as gold_teacher_behaviour,
        points.teacher_behaviour as machine_teacher_behaviour,
        gold_classified.dominant_student_behaviour as gold_dominant_student_behaviour,
        points.dominant_student_behaviour as machine_dominant_student_behaviour,
        gold_classified.st_code as gold_st_code,
        points.st_code as machine_st_code,
        {% for code, column in student_behaviour_columns() -%}
        gold_classified.{{ column }} as gold_{{ column }},
        points.{{ column }} as machine_{{ column }}{{ ',' if not loop.last }}
        {% endfor %}

    from gold_classified
    inner join runs
        on gold_classified.lesson_id = runs.lesson_id
    inner join points
        on runs.lesson_run_id = points.lesson_run_id
        and gold_classified.point_index = points.point_index

)

select * from final
