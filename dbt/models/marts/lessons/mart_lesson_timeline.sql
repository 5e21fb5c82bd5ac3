-- The behaviour timeline 教学行为时序图 and the three curves per lesson run and 2-minute window, with the video
-- position each window starts at (a click on the window seeks the video there).
-- A view over the incremental facts: a report reads one lesson run through their indexes; nothing is rebuilt nightly.
{{ config(materialized='view') }}

with

windows as (

    select * from {{ ref('fct_lesson_windows') }}

),

runs as (

    select * from {{ ref('fct_lesson_runs') }}

),

lessons as (

    select * from {{ ref('fct_lessons') }}

),

final as (

    select
        windows.lesson_run_id,
        runs.lesson_id,
        runs.model_name,
        runs.model_version,
        coalesce(windows.lesson_run_id = lessons.current_lesson_run_id, false) as is_current_run,
        windows.window_index,
        windows.start_s as video_seek_s,
        windows.start_s,
        windows.end_s,
        to_char(make_interval(secs => windows.start_s), 'MI:SS') as window_label,
        windows.n_points,
        windows.n_t_points,
        windows.n_s_points,
        {% for code in teacher_behaviour_codes() -%}
        windows.share_{{ code }},
        {% endfor -%}
        {% for code, column in student_behaviour_columns() -%}
        windows.mean_{{ column }},
        {% endfor -%}
        windows.participation,
        windows.performance,
        windows.attention,
        lessons.video_uri,
        windows.loaded_at

    from windows
    inner join runs using (lesson_run_id)
    left join lessons
        on runs.lesson_id = lessons.lesson_id

)

select * from final
