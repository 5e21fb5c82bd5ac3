-- The S-T chart per lesson run: at every point, the cumulative T points (x) and S points (y). A view over the
-- point fact: a report reads one lesson through the (lesson_run_id, point_index) index, nothing is stored twice.
{{ config(materialized='view') }}

select
    points.lesson_run_id,
    runs.lesson_id,
    runs.model_name,
    runs.model_version,
    points.point_index,
    points.t_start_s,
    points.st_code,
    points.cumulative_t_points as t_axis,
    points.cumulative_s_points as s_axis
from {{ ref('fct_behaviour_points') }} as points
inner join {{ ref('fct_lesson_runs') }} as runs
    on points.lesson_run_id = runs.lesson_run_id
