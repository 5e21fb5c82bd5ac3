{#-
    Small-group suppression: a figure about a group of fewer than `min_group_teachers` teachers is not
    shown outside the teacher's own view. Returns the value when the group is large enough, else null.
-#}
{% macro suppress(value_expression, n_teachers_expression) -%}
    case when {{ n_teachers_expression }} >= {{ var('min_group_teachers') }} then {{ value_expression }} end
{%- endmacro %}

{#- Division that yields null instead of failing on a zero or null denominator. -#}
{% macro safe_divide(numerator, denominator) -%}
    ({{ numerator }})::double precision / nullif({{ denominator }}, 0)
{%- endmacro %}

{#-
    Metrics are stored as numeric rounded to `metric_decimals` places: averages of floating-point shares would
    otherwise differ in their last bits between builds (parallel aggregation changes the summation order), and a
    rebuild must not change a published row. Trailing zeros are trimmed (0.5, not 0.500000).
-#}
{% macro metric_round(expression) -%}
    trim_scale(round(({{ expression }})::numeric, {{ var('metric_decimals', 6) }}))
{%- endmacro %}

{#-
    A lateral join giving the rubric band of a ratio: the best band of the rubric whose min_ratio the ratio reaches
    (inclusive); bands come from stg_jiaoyan__rubric_bands. Use as `left join lateral {{ rubric_band(...) }} as band on true`.
-#}
{% macro rubric_band(rubric_id_expression, ratio_expression) -%}
    (
        select bands.band_code, bands.band_label_zh, bands.band_rank
        from {{ ref('stg_jiaoyan__rubric_bands') }} as bands
        where bands.rubric_id = {{ rubric_id_expression }}
          and bands.band_min_ratio::numeric <= {{ ratio_expression }}
        order by bands.band_min_ratio desc
        limit 1
    )
{%- endmacro %}
