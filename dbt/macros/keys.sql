{#- A stable 64-bit key for a lesson coded by one model version (the first 16 hex digits of an md5). -#}
{% macro lesson_run_id(lesson_id, model_name, model_version) -%}
    ('x' || left(md5({{ lesson_id }} || '|' || {{ model_name }} || '|' || {{ model_version }}), 16))::bit(64)::bigint
{%- endmacro %}

{#-
    A stable pseudonym for a person (teacher, observer, member): marts read outside the teacher's own
    view carry this, never the name. The salt comes from JIAOYAN_PSEUDONYM_SALT (set it in production so
    pseudonyms cannot be recomputed from known ids); it is not a secret of the repository.
-#}
{% macro pseudonym(person_id, prefix='T') -%}
    '{{ prefix }}-' || upper(left(md5('{{ env_var("JIAOYAN_PSEUDONYM_SALT", "jiaoyan-pseudonym-v1") }}' || ':' || {{ person_id }}), 10))
{%- endmacro %}

{#- A timestamp's calendar date in the platform's time zone (China Standard Time by default). -#}
{% macro local_date(timestamp_expression) -%}
    ({{ timestamp_expression }} at time zone '{{ env_var("JIAOYAN_TIMEZONE", "Asia/Shanghai") }}')::date
{%- endmacro %}
