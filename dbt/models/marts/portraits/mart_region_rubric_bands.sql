-- The rubric band distribution of an area's lessons in a term, per rubric kind: how many scored lessons fell in each
-- band of their rubric's overall score. Suppressed when the lessons come from fewer than min_group_teachers teachers.
with

lesson_scores as (

    select * from {{ ref('fct_lesson_rubric_scores') }}
    where indicator_id = '__overall__'

),

lessons as (

    select * from {{ ref('fct_lessons') }}
    where term_code is not null

),

scored as (

    select lessons.lesson_id, lessons.teacher_id, lessons.term_code, lessons.province_code, lessons.city_code,
        lessons.district_code, lessons.school_id, lesson_scores.rubric_kind, lesson_scores.band_code,
        lesson_scores.band_label_zh, lesson_scores.band_rank

    from lesson_scores
    inner join lessons using (lesson_id)

),

areas as (

    select 'province' as area_level, province_code as area_code, scored.* from scored where province_code is not null
    union all
    select 'city', city_code, scored.* from scored where city_code is not null
    union all
    select 'district', district_code, scored.* from scored where district_code is not null
    union all
    select 'school', school_id, scored.* from scored where school_id is not null

),

counted as (

    select
        area_level,
        area_code,
        term_code,
        rubric_kind,
        band_code,
        max(band_label_zh) as band_label_zh,
        min(band_rank) as band_rank,
        count(*) as n_lessons,
        sum(count(*)) over (partition by area_level, area_code, term_code, rubric_kind) as n_lessons_scored,
        count(distinct teacher_id) as n_teachers_in_band

    from areas
    group by area_level, area_code, term_code, rubric_kind, band_code

),

teachers as (

    select area_level, area_code, term_code, rubric_kind, count(distinct teacher_id) as n_teachers_scored
    from areas
    group by area_level, area_code, term_code, rubric_kind

),

final as (

    select
        counted.area_level,
        counted.area_code,
        counted.term_code,
        counted.rubric_kind,
        counted.band_code,
        counted.band_label_zh,
        counted.band_rank,
        teachers.n_teachers_scored < {{ var('min_group_teachers') }} as is_suppressed,
        {{ suppress('counted.n_lessons', 'teachers.n_teachers_scored') }} as n_lessons,
        {{ suppress(metric_round('counted.n_lessons::numeric / counted.n_lessons_scored'), 'teachers.n_teachers_scored') }}
            as share_of_lessons

    from counted
    inner join teachers using (area_level, area_code, term_code, rubric_kind)

)

select * from final
