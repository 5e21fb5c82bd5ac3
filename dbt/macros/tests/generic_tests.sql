{#- Generic data tests written here instead of pulling dbt_utils (no package hub offline). -#}

{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
select *
from {{ model }}
where {{ column_name }} is not null
  and not (
    true
    {%- if min_value is not none %} and {{ column_name }} >{{ '=' if inclusive }} {{ min_value }}{% endif %}
    {%- if max_value is not none %} and {{ column_name }} <{{ '=' if inclusive }} {{ max_value }}{% endif %}
  )
{% endtest %}

{% test expression_is_true(model, expression, where_clause=none) %}
select *
from {{ model }}
where not ({{ expression }})
{%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}

{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{% test sums_to_one(model, columns, tolerance=0.01) %}
select *
from {{ model }}
where abs(({{ columns | join(' + ') }}) - 1) > {{ tolerance }}
{% endtest %}

{#-
    Several column rules of a large fact in one scan (one query per rule would read the night's millions of rows
    once per rule): every failing row, with the rules it breaks. `references` is a list of {column, to, field}:
    the column's values must be in model `to`'s `field` (checked against a hashed copy of it).
-#}
{% test well_formed(model, not_null=[], accepted_values={}, references=[]) %}
with checked as (

    select * from {{ model }}

)

select *
from (

    select
        checked.*,
        array_remove(array[
            {%- for column in not_null %}
            case when checked.{{ column }} is null then '{{ column }} is null' end,
            {%- endfor %}
            {%- for column, values in accepted_values.items() %}
            case when checked.{{ column }} not in ({% for value in values %}'{{ value }}'{{ ', ' if not loop.last }}{% endfor %})
                then '{{ column }} is not one of {{ values | join(", ") }}' end,
            {%- endfor %}
            {%- for reference in references %}
            case when checked.{{ reference.column }} not in (
                select {{ reference.field }} from {{ ref(reference.to) }} where {{ reference.field }} is not null
            ) then '{{ reference.column }} is not a {{ reference.to }}.{{ reference.field }}' end,
            {%- endfor %}
            null
        ]::text[], null) as broken_rules

    from checked

) as rows
where cardinality(broken_rules) > 0
{% endtest %}
