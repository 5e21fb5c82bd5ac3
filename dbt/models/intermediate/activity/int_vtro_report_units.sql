-- Every office once per unit the annual report rolls it up to: itself, its host university, the university's
-- province and the nation. Distinct counts (members, universities, trained teachers) are taken per unit, never summed.
with

vtros as (

    select * from {{ ref('dim_vtros') }}

),

final as (

    select vtro_id, 'vtro' as report_level, vtro_id as report_unit_id from vtros
    union all
    select vtro_id, 'university', university_id from vtros where university_id is not null
    union all
    select vtro_id, 'province', province_code from vtros where province_code is not null
    union all
    select vtro_id, 'nation', 'CN' from vtros

)

select * from final
