-- One row per lesson run: the rose chart (teacher behaviours as shares of points, student behaviours as mean
-- shares), Rt, Ch and the S/T runs, the teaching mode, and the lesson's participation, consistency and attention
-- levels — with the sampling interval and thresholds they were computed with.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='lesson_run_id',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['lesson_run_id'], 'unique': true}],
    )
}}

with

lesson_runs as (

    {{ pending_lesson_runs() }}

),

points as (

    select points.*
    from {{ ref('fct_behaviour_points') }} as points
    inner join lesson_runs using (lesson_run_id)
    {% if is_incremental() %}
    -- the pending runs' points are the ones loaded after the watermark: read through the loaded_at index
    where points.loaded_at > {{ watermark() }}
    {% endif %}

),

totals as (

    select
        lesson_run_id,
        count(*) as n_points,
        count(*) filter (where st_code = 'T') as n_t_points,
        count(*) filter (where st_code = 'S') as n_s_points,
        count(*) filter (where is_st_switch) as n_st_switches,
        {% for code in teacher_behaviour_codes() -%}
        {{ metric_round("count(*) filter (where teacher_behaviour = '" ~ code ~ "')::numeric / count(*)") }} as share_{{ code }},
        {% endfor -%}
        {% for code, column in student_behaviour_columns() -%}
        {{ metric_round('avg(' ~ column ~ ')') }} as mean_{{ column }},
        {% endfor -%}
        {{ metric_round('avg(participation_share)') }} as participation_level,
        {{ metric_round('avg(consistency_share)') }} as consistency_level,
        {{ metric_round('avg(attention_share)') }} as attention_level,
        count(attention_share) as n_attention_points

    from points
    group by lesson_run_id

),

rt_ch as (

    select
        *,
        trim_scale(n_t_points::numeric / n_points) as rt,
        n_st_switches + 1 as n_st_runs,
        trim_scale(n_st_switches::numeric / n_points) as ch  -- (g - 1) / N with g runs of identical S/T codes

    from totals

),

classified as (

    select
        *,
        -- the first matching rule wins, boundaries inclusive (order matters: Ch >= 0.4 is possible for Rt in 0.2–0.8)
        case
            when rt <= {{ var('rt_practice_max') }} then 'practice'
            when rt >= {{ var('rt_lecture_min') }} then 'lecture'
            when ch >= {{ var('ch_dialogue_min') }} then 'dialogue'
            else 'mixed'
        end as teaching_mode

    from rt_ch

),

final as (

    select
        ---------- ids
        classified.lesson_run_id,
        lesson_runs.lesson_id,
        lesson_runs.model_name,
        lesson_runs.model_version,

        ---------- S-T analysis
        classified.n_points,
        classified.n_t_points,
        classified.n_s_points,
        classified.n_st_runs,
        classified.rt,
        classified.ch,
        classified.teaching_mode,

        ---------- rose chart: teacher behaviours as shares of points (sum 1)
        {% for code in teacher_behaviour_codes() -%}
        classified.share_{{ code }},
        {% endfor %}
        ---------- rose chart: student behaviours as mean shares (sum 1)
        {% for code, column in student_behaviour_columns() -%}
        classified.mean_{{ column }},
        {% endfor %}
        ---------- curves, whole lesson
        classified.participation_level,
        classified.consistency_level,
        classified.attention_level,
        classified.n_attention_points,

        ---------- settings the metrics were computed with
        {{ var('sampling_interval_s') }}::numeric as sampling_interval_s,
        classified.n_points * {{ var('sampling_interval_s') }}::numeric as coded_duration_s,
        {{ var('rt_practice_max') }}::numeric as rt_practice_max,
        {{ var('rt_lecture_min') }}::numeric as rt_lecture_min,
        {{ var('ch_dialogue_min') }}::numeric as ch_dialogue_min,

        ---------- lineage
        lesson_runs.loaded_at

    from classified
    inner join lesson_runs using (lesson_run_id)

)

select * from final
