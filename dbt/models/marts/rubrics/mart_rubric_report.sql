-- Reports 4 (teaching design 教学设计) and 5 (classroom teaching 课堂教学): per lesson, rubric and indicator — the
-- overall score (level 0), level-1 observation perspectives, level-2 observation points and level-3 details —
-- the mean score over observers, its ratio to the maximum and the rubric's band: the matrix chart colours each
-- indicator by band; the radar charts take levels 1 and 2. A view: a report reads one lesson through the indexes
-- of the incremental facts beneath, and nothing is rebuilt nightly.
{{ config(materialized='view') }}

with

lesson_scores as (

    select * from {{ ref('fct_lesson_rubric_scores') }}

),

indicators as (

    select * from {{ ref('int_rubric_indicators') }}

),

lessons as (

    select * from {{ ref('fct_lessons') }}

),

subjects as (

    select * from {{ ref('subjects') }}

),

final as (

    select
        ---------- ids
        lesson_scores.lesson_id,
        lesson_scores.rubric_id,
        lesson_scores.indicator_id,
        lesson_scores.parent_indicator_id,
        lessons.teacher_pseudonym,

        ---------- rubric
        indicators.rubric_name,
        lesson_scores.rubric_kind,
        case lesson_scores.rubric_kind when 'teaching_design' then '教学设计' else '课堂教学' end as rubric_kind_name_zh,
        indicators.rubric_version,

        ---------- indicator
        lesson_scores.indicator_level,
        lesson_scores.indicator_position,
        lesson_scores.indicator_name,
        lesson_scores.is_leaf,
        lesson_scores.indicator_level in (1, 2) as is_radar_indicator,

        ---------- scores
        lesson_scores.n_observers,
        lesson_scores.mean_score,
        lesson_scores.max_score,
        lesson_scores.mean_ratio,
        round(lesson_scores.mean_ratio * 100, 1) as mean_ratio_pct,
        lesson_scores.band_code,
        lesson_scores.band_label_zh,
        lesson_scores.band_rank,

        ---------- lesson
        lessons.subject_code,
        subjects.name_zh as subject_name_zh,
        lessons.grade,
        lessons.lesson_date,
        lessons.term_code,
        lessons.district_code,
        lessons.city_code,
        lessons.province_code

    from lesson_scores
    inner join indicators using (rubric_id, indicator_id)
    left join lessons
        on lesson_scores.lesson_id = lessons.lesson_id
    left join subjects
        on lessons.subject_code = subjects.code

)

select * from final
