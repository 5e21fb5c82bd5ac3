-- The 6-second points of every lesson run, classified: dominant student behaviour, S/T code from the seed's mapping,
-- participation / consistency / attention shares, S/T switches and the cumulative S-T curve.
-- Incremental (delete+insert by lesson run): a night processes only the lesson runs delivered after the table's
-- latest loaded_at, reading their raw rows through the raw table's batch index. Storage: rows are written in load
-- order (the window below sorts by delivery, then lesson run, then point), so a lesson's points sit together and
-- time ranges are contiguous; the unique (lesson_run_id, point_index) btree reads one lesson of a region year
-- (~50 M points) in milliseconds, and a btree on loaded_at (a few thousand distinct values, so
-- deduplicated and small) gives the watermark at once and lets the nightly data tests skip the history.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='lesson_run_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['lesson_run_id', 'point_index'], 'unique': true},
            {'columns': ['loaded_at']},
        ],
        pre_hook="set local work_mem = '" ~ var('heavy_work_mem') ~ "'",
    )
}}

with

scheme as materialized (

    -- the seed's scheme as arrays, computed once: per-point lookups instead of joins
    {{ behaviour_scheme_arrays() }}

),

lesson_runs as (

    select lesson_run_id, lesson_id, model_name, model_version, batch_id, loaded_at
    from ({{ pending_lesson_runs() }}) as runs

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
    -- the pending runs' batches as constants, so the raw rows are read through the _batch_id index
    where codes.batch_id in ({{ constant_list(
        'select distinct batch_id from ' ~ ref('fct_lesson_runs') ~ ' where loaded_at > ' ~ watermark()) }})
    {% endif %}

),

positioned as (

    select
        codes.*,
        array_position(scheme.teacher_codes, codes.teacher_behaviour) as teacher_position,
        {{ dominant_student_position('codes') }} as dominant_position

    from codes
    cross join scheme

),

classified as (

    select
        positioned.lesson_run_id,
        positioned.point_index,
        positioned.point_index / {{ var('window_points') }} as window_index,
        positioned.t_start_s,
        positioned.teacher_behaviour,
        positioned.teacher_prob,
        {% for code, column in student_behaviour_columns() -%}
        positioned.{{ column }},
        {% endfor -%}
        positioned.students_seen,
        positioned.audio_present,
        scheme.student_codes[positioned.dominant_position] as dominant_student_behaviour,
        case
            when scheme.teacher_is_s[positioned.teacher_position] or scheme.student_is_s[positioned.dominant_position]
                then 'S'
            else 'T'
        end as st_code,
        {{ flagged_student_share('scheme.participation_flags', 'positioned') }} as participation_share,
        {{ largest_student_share('positioned') }} as consistency_share,
        case
            when scheme.teacher_in_attention[positioned.teacher_position]
                then {{ flagged_student_share('scheme.attention_flags', 'positioned') }}
        end as attention_share,
        positioned.loaded_at

    from positioned
    cross join scheme

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
        -- loaded_at is constant within a lesson run; leading with it writes the rows in load order
        partition by loaded_at, lesson_run_id order by point_index rows between unbounded preceding and current row
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
