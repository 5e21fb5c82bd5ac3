with

universities as (

    select * from {{ ref('stg_jiaoyan__universities') }}

),

provinces as (

    select * from {{ ref('provinces') }}

),

final as (

    select
        universities.university_id,
        universities.university_name,
        universities.province_code,
        provinces.name_zh as province_name,
        provinces.iso_3166_2 as province_iso_3166_2,
        universities.region_group,
        case universities.region_group
            when 'east' then '东部' when 'central' then '中部' when 'western' then '西部'
        end as region_group_name_zh,
        universities.region_group in ('central', 'western') as is_central_or_western

    from universities
    left join provinces
        on universities.province_code = provinces.province_code

)

select * from final
