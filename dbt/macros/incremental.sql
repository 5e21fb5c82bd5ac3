{#-
    Batches loaded into raw.<contract> after `watermark` (a SQL expression), from ops.load_tables — the loader
    records each load there in the same transaction as the rows, so its loaded_at equals the rows' _loaded_at.
    With `var('incremental_batch_lookup') == 'scan'` it returns none and callers fall back to scanning the raw
    table by _loaded_at (for raw rows written without the loader).
-#}
{% macro batches_loaded_since(contract, watermark) -%}
    select load_tables.batch_id
    from {{ source('ops', 'load_tables') }} as load_tables
    where load_tables.contract = '{{ contract }}'
      and load_tables.loaded_at > {{ watermark }}
{%- endmacro %}

{#-
    The filter an incremental model puts on a raw-backed staging relation (`alias`) to read only what was loaded
    since `watermark`: through ops.load_tables and the raw table's _batch_id index by default, by a scan of
    _loaded_at when var('incremental_batch_lookup') is 'scan'.
-#}
{% macro loaded_since(alias, contract, watermark) -%}
    {%- if var('incremental_batch_lookup', 'ops') == 'ops' -%}
    {{ alias }}.batch_id in ({{ batches_loaded_since(contract, watermark) }})
    and {{ alias }}.loaded_at > {{ watermark }}
    {%- else -%}
    {{ alias }}.loaded_at > {{ watermark }}
    {%- endif -%}
{%- endmacro %}

{#-
    `touched_lessons` CTE for models incremental by lesson: the lessons of `relation` (a CTE or relation with
    lesson_id and loaded_at) loaded after this model's latest loaded_at. Renders nothing in a full build.
    Use it between CTEs: `{{ touched_lessons('scores') }}` (it ends with a comma).
-#}
{% macro touched_lessons(relation) -%}
    {%- if is_incremental() %}
touched_lessons as (

    select distinct lesson_id
    from {{ relation }}
    where loaded_at > (select coalesce(max(loaded_at), '-infinity'::timestamptz) from {{ this }})

),
    {% endif -%}
{%- endmacro %}
