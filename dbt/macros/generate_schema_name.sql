{#-
    Models land in the schemas the migrations created (seeds, staging, intermediate, snapshots, marts)
    and nowhere else: the transformer role may not create schemas. A model's `+schema` is used as is,
    not prefixed with the target schema as dbt does by default.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
