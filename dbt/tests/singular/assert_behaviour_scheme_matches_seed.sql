-- The column layout in macros/behaviour_scheme.sql must list the seed's behaviours in the seed's order;
-- any row returned is a behaviour on one side only.
with

scheme as (

    {% for code in teacher_behaviour_codes() -%}
    select 'teacher' as actor, {{ loop.index }} as position, '{{ code }}' as code, '' as share_column
    union all
    {% endfor -%}
    {% for code, column in student_behaviour_columns() -%}
    select 'student', {{ loop.index }}, '{{ code }}', '{{ column }}'
    {{ 'union all' if not loop.last }}
    {% endfor %}

),

seed as (

    select actor, position, code, coalesce(share_column, '') as share_column
    from {{ ref('behaviour_codes') }}

),

only_in_scheme as (select * from scheme except select * from seed),
only_in_seed as (select * from seed except select * from scheme)

select 'only in macros/behaviour_scheme.sql' as problem, * from only_in_scheme
union all
select 'only in seeds/behaviour_codes.csv', * from only_in_seed
