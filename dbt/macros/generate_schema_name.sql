{#-
    Models land in the schemas the migrations created (seeds, staging, intermediate, snapshots, marts)
    and nowhere else: the transformer role may not create schemas. A model's `+schema` is used as is,
    not prefixed with the target schema as dbt does by default.

    `--vars '{marts_schema: marts_next}'` builds the marts into the audit copy instead, which the quality gate
    checks and then publishes by swapping it with `marts` (expectations/, docs/quality-gates.md).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- elif custom_schema_name | trim == 'marts' -%}
        {{ var('marts_schema', 'marts') | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
