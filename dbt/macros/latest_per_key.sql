{#-
    The latest row of each key across nightly batches: reference data arrives as a full snapshot then
    deltas, corrections arrive later. `order_by` lists what "latest" means, most important first
    (default: the load time, then the batch, then the line within the file); every term is sorted
    descending. PostgreSQL's `distinct on` keeps the first row of each key in that order.
-#}
{% macro latest_per_key(relation, key_columns, order_by=none) -%}
    {%- set order_by = order_by or ['_loaded_at', '_batch_id', '_line'] -%}
    select distinct on ({{ key_columns | join(', ') }}) *
    from {{ relation }}
    order by {{ key_columns | join(', ') }}, {% for column in order_by %}{{ column }} desc nulls last{{ ', ' if not loop.last }}{% endfor %}
{%- endmacro %}
