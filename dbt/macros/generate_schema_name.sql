{#-
    Models land in the schemas the migrations created (seeds, staging, intermediate, snapshots, marts)
    and nowhere else: the transformer role may not create schemas. A model's `+schema` is used as is,
    not prefixed with the target schema as dbt does by default.

    `--vars '{build_schema_suffix: _next}'` builds staging, intermediate and marts into their audit copies
    (staging_next, …) instead; the quality gate checks the marts there and publishes all three by swapping
    them with the live schemas (expectations/, docs/quality-gates.md). Seeds and snapshots are shared.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set schema = (target.schema if custom_schema_name is none else custom_schema_name) | trim -%}
    {%- if schema in ('staging', 'intermediate', 'marts') -%}
        {{ schema ~ (var('build_schema_suffix', '') | trim) }}
    {%- else -%}
        {{ schema }}
    {%- endif -%}
{%- endmacro %}
