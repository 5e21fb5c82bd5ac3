{#-
    Incremental helpers. A night's deliveries are found through ops.load_tables, which the loader writes in the same
    transaction as the raw rows (so its loaded_at equals the rows' _loaded_at): the batches loaded after a model's
    watermark are looked up when the model runs and written into its SQL as constants, so PostgreSQL reads their
    rows through the raw table's _batch_id index instead of scanning the history.
-#}

{#- The latest loaded_at in this model's table (its watermark), as a SQL expression. -#}
{% macro watermark() -%}
    (select coalesce(max(loaded_at), '-infinity'::timestamptz) from {{ this }})
{%- endmacro %}

{#- A SQL list of the values of `column_sql` (a query returning one text column), run now; `null` when empty. -#}
{% macro constant_list(column_sql) -%}
    {%- if execute -%}
        {%- set values = run_query(column_sql).columns[0].values() -%}
        {%- if values | length == 0 -%}null{%- else -%}
            {%- for value in values %}'{{ value | replace("'", "''") }}'{{ ', ' if not loop.last }}{% endfor -%}
        {%- endif -%}
    {%- else -%}null{%- endif -%}
{%- endmacro %}

{#-
    The filter an incremental model puts on a raw-backed staging relation (`alias`) to read only what was loaded
    into raw.<contract> after `watermark_sql`. With var('incremental_batch_lookup') == 'scan' it filters on the load
    time alone (for raw rows written without the loader's bookkeeping; scans the table).
-#}
{% macro loaded_since(alias, contract, watermark_sql) -%}
    {%- if var('incremental_batch_lookup', 'ops') == 'ops' -%}
    {{ alias }}.batch_id in ({{ constant_list(
        "select distinct batch_id from " ~ source('ops', 'load_tables') ~ " where contract = '" ~ contract
        ~ "' and loaded_at > " ~ watermark_sql) }})
    and {{ alias }}.loaded_at > {{ watermark_sql }}
    {%- else -%}
    {{ alias }}.loaded_at > {{ watermark_sql }}
    {%- endif -%}
{%- endmacro %}

{#-
    The lesson runs an incremental lesson-run model must (re)compute: all in a full build; in an incremental build
    those whose latest delivery (fct_lesson_runs.loaded_at) is newer than the model's watermark. A model's
    delete+insert is one transaction, so its rows are always complete up to its watermark.
-#}
{% macro pending_lesson_runs() -%}
    select runs.*
    from {{ ref('fct_lesson_runs') }} as runs
    {% if is_incremental() %}
    where runs.loaded_at > {{ watermark() }}
    {% endif %}
{%- endmacro %}

{#-
    `touched_lessons` CTE for models incremental by lesson: the lessons of `relation` (a CTE or relation with
    lesson_id and loaded_at) loaded after this model's watermark. Renders nothing in a full build.
    Use it between CTEs: `{{ touched_lessons('scores') }}` (it ends with a comma).
-#}
{% macro touched_lessons(relation) -%}
    {%- if is_incremental() %}
touched_lessons as (

    select distinct lesson_id
    from {{ relation }}
    where loaded_at > {{ watermark() }}

),
    {% endif -%}
{%- endmacro %}
