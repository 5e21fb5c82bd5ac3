-- The comparisons as (model version, label set, gold label, machine label) counts: the confusion matrices behind
-- kappa and F1. Label sets: teacher_behaviour (4 classes), dominant_student_behaviour (5), st_code (S/T).
with

comparisons as (

    select * from {{ ref('fct_gold_point_comparisons') }}

),

labelled as (

    select model_name, model_version, lesson_id, 'teacher_behaviour' as label_set,
        gold_teacher_behaviour as gold_label, machine_teacher_behaviour as machine_label
    from comparisons
    union all
    select model_name, model_version, lesson_id, 'dominant_student_behaviour',
        gold_dominant_student_behaviour, machine_dominant_student_behaviour
    from comparisons
    union all
    select model_name, model_version, lesson_id, 'st_code', gold_st_code, machine_st_code
    from comparisons

),

final as (

    select
        model_name,
        model_version,
        label_set,
        gold_label,
        machine_label,
        count(*) as n_points,
        count(distinct lesson_id) as n_lessons

    from labelled
    group by model_name, model_version, label_set, gold_label, machine_label

)

select * from final
