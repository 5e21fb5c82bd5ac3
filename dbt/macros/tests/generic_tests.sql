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
