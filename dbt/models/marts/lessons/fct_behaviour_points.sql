-- The 6-second points of every lesson run, classified: dominant student behaviour, S/T code from the seed's mapping,
-- participation / consistency / attention shares, S/T switches and the cumulative S-T curve.
-- Incremental (delete+insert by lesson run): a night processes only the lesson runs whose latest delivery is not
-- in the table yet, reading their raw rows through the raw table's batch index; the unique (lesson_run_id,
-- point_index) btree keeps one lesson's points together, so a region year (~50 M points) stays fast to read by lesson.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='lesson_run_id',
        on_schema_change='fail',
        indexes=[{'columns': ['lesson_run_id', 'point_index'], 'unique': true}],
        pre_hook="set local work_mem = '" ~ var('heavy_work_mem') ~ "'",
    )
}}

with

behaviour_codes as (

    select * from {{ ref('behaviour_codes') }}

),

teacher_behaviours as (

    select code, st_code, in_attention
    from behaviour_codes
    where actor = 'teacher'

),

student_behaviours as (

    select code, position, st_code
    from behaviour_codes
    where actor = 'student'

),

student_flags as (

    -- integer flags in seed order, to weight the share columns
    select
        array_agg(in_participation::int order by position) as participation_flags,
        array_agg(in_attention::int order by position) as attention_flags
    from behaviour_codes
    where actor = 'student'

),

lesson_runs as (

    select lesson_run_id, lesson_id, model_name, model_version, batch_id, loaded_at
    from {{ ref('fct_lesson_runs') }} as runs
    {% if is_incremental() %}
    -- runs whose latest delivery is not here yet (robust to a build that stopped half way)
    where not exists (
        select 1
        from {{ this }} as points
        where points.lesson_run_id = runs.lesson_run_id
          and points.point_index = runs.first_point_index
          and points.loaded_at = runs.loaded_at
    )
    {% endif %}

),

codes as (

    select
        lesson_runs.lesson_run_id,
        codes.*

    from {{ ref('stg_jiaoyan__behaviour_codes') }} as codes
    inner join lesson_runs
        on codes.lesson_id = lesson_runs.lesson_id
        and codes.model_name = lesson_runs.model_name
        and codes.model_version = lesson_runs.model_version
        and codes.batch_id = lesson_runs.batch_id
        and codes.loaded_at = lesson_runs.loaded_at
    {% if is_incremental() %}
    where codes.batch_id in (select distinct batch_id from lesson_runs)
    {% endif %}

),

classified as (

    select
        codes.lesson_run_id,
        codes.point_index,
        codes.point_index / {{ var('window_points') }} as window_index,
        codes.t_start_s,
        codes.teacher_behaviour,
        codes.teacher_prob,
        {% for code, column in student_behaviour_columns() -%}
        codes.{{ column }},
        {% endfor -%}
        codes.students_seen,
        codes.audio_present,
        dominant.code as dominant_student_behaviour,
        case
            when teacher_behaviours.st_code = 'S' or dominant.st_code = 'S' then 'S'
            else 'T'
        end as st_code,
        {{ flagged_student_share('student_flags.participation_flags', 'codes') }} as participation_share,
        {{ largest_student_share('codes') }} as consistency_share,
        case
            when teacher_behaviours.in_attention
                then {{ flagged_student_share('student_flags.attention_flags', 'codes') }}
        end as attention_share,
        codes.loaded_at

    from codes
    cross join student_flags
    left join teacher_behaviours
        on codes.teacher_behaviour = teacher_behaviours.code
    left join student_behaviours as dominant
        on dominant.position = {{ dominant_student_position('codes') }}

),

sequenced as (

    select
        *,
        lag(teacher_behaviour) over lesson_so_far as previous_teacher_behaviour,
        coalesce(st_code <> lag(st_code) over lesson_so_far, false) as is_st_switch,
        count(*) filter (where st_code = 'T') over lesson_so_far as cumulative_t_points,
        count(*) filter (where st_code = 'S') over lesson_so_far as cumulative_s_points

    from classified
    window lesson_so_far as (
        partition by lesson_run_id order by point_index rows between unbounded preceding and current row
    )

),

final as (

    select
        lesson_run_id,
        point_index,
        window_index,
        t_start_s,
        teacher_behaviour,
        previous_teacher_behaviour,
        teacher_prob,
        {% for code, column in student_behaviour_columns() -%}
        {{ column }},
        {% endfor -%}
        students_seen,
        dominant_student_behaviour,
        st_code,
        is_st_switch,
        cumulative_t_points::integer as cumulative_t_points,
        cumulative_s_points::integer as cumulative_s_points,
        participation_share::real as participation_share,
        consistency_share::real as consistency_share,
        attention_share::real as attention_share,
        audio_present,
        loaded_at

    from sequenced

)

select * from final
