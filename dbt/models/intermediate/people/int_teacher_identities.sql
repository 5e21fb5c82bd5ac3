-- Who a pseudonym is: the teacher's current name and personal data, for the teacher's own view only. Lives in the
-- intermediate schema, which the reader role (Superset, shared reports) cannot see.
{{ config(materialized='table') }}

with

snapshot as (

    select distinct on (teacher_id) *
    from {{ ref('snap_teachers') }}
    where dbt_valid_to is null
    order by teacher_id, valid_from desc

),

final as (

    select
        teacher_id,
        {{ pseudonym('teacher_id') }} as teacher_pseudonym,
        teacher_name,
        gender,
        birth_year

    from snapshot

)

select * from final
