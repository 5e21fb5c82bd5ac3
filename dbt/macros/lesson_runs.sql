{#-
    The lesson runs an incremental lesson model must (re)compute: in a full build all of them; in an incremental
    build those whose latest delivery (fct_lesson_runs.loaded_at) differs from the one the model's own rows were
    computed from. `key_filter` narrows the probe into the model's table to one row per run where the model
    has several (e.g. "window_index = 0"). A build that stopped half way is caught up by the next one.
-#}
{% macro pending_lesson_runs(key_filter=none) -%}
    select runs.*
    from {{ ref('fct_lesson_runs') }} as runs
    {% if is_incremental() %}
    where not exists (
        select 1
        from {{ this }} as done
        where done.lesson_run_id = runs.lesson_run_id
          and done.loaded_at = runs.loaded_at
          {%- if key_filter %} and done.{{ key_filter }}{% endif %}
    )
    {% endif %}
{%- endmacro %}
