-- Rubric scores of a teacher's portrait per term, per rubric and level-1 indicator (observation perspective) and the
-- overall: the mean over the term's scored lessons of the observer-averaged ratio, banded by the rubric's own bands.
with

lesson_scores as (

    select * from {{ ref('fct_lesson_rubric_scores') }}
    where indicator_level in (0, 1)

),

lessons as (

    select * from {{ ref('fct_lessons') }}

),

per_term as (

    select
        lessons.teacher_id,
        lessons.teacher_pseudonym,
        lessons.term_code,
        lesson_scores.rubric_id,
        lesson_scores.rubric_kind,
        lesson_scores.indicator_id,
        lesson_scores.indicator_level,
        lesson_scores.indicator_position,
        lesson_scores.indicator_name,
        count(*) as n_lessons_scored,
        avg(lesson_scores.mean_ratio) as mean_ratio

    from lesson_scores
    inner join lessons
        on lesson_scores.lesson_id = lessons.lesson_id
    where lessons.term_code is not null
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9

),

final as (

    select
        per_term.teacher_id,
        per_term.teacher_pseudonym,
        per_term.term_code,
        per_term.rubric_id,
        per_term.rubric_kind,
        per_term.indicator_id,
        per_term.indicator_level,
        per_term.indicator_position,
        per_term.indicator_name,
        per_term.n_lessons_scored,
        {{ metric_round('per_term.mean_ratio') }} as mean_ratio,
        band.band_code,
        band.band_label_zh,
        band.band_rank

    from per_term
    left join lateral {{ rubric_band('per_term.rubric_id', metric_round('per_term.mean_ratio')) }} as band on true

)

select * from final
