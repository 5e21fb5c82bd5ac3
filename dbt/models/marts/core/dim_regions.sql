-- Administrative regions with their enclosing province and city, names for readers, the ISO 3166-2 code of the
-- province (Superset's country map) and its east / central / western group (from the provinces seed).
with

regions as (

    select * from {{ ref('stg_jiaoyan__regions') }}

),

provinces as (

    select * from {{ ref('provinces') }}

),

with_parents as (

    select
        regions.region_code,
        regions.region_name,
        regions.region_level,
        regions.parent_region_code,
        case regions.region_level
            when 'province' then regions.region_code
            when 'city' then coalesce(regions.parent_region_code, left(regions.region_code, 2) || '0000')
            else coalesce(parents.parent_region_code, left(regions.region_code, 2) || '0000')
        end as province_code,
        case regions.region_level
            when 'city' then regions.region_code
            when 'district' then coalesce(regions.parent_region_code, left(regions.region_code, 4) || '00')
        end as city_code,
        case when regions.region_level = 'district' then regions.region_code end as district_code

    from regions
    left join regions as parents
        on regions.parent_region_code = parents.region_code

),

final as (

    select
        with_parents.region_code,
        with_parents.region_name,
        with_parents.region_level,
        with_parents.parent_region_code,
        with_parents.province_code,
        with_parents.city_code,
        with_parents.district_code,
        coalesce(provinces.name_zh, province_regions.region_name) as province_name,
        city_regions.region_name as city_name,
        district_regions.region_name as district_name,
        concat_ws(' ', coalesce(provinces.name_zh, province_regions.region_name), city_regions.region_name,
                  district_regions.region_name) as full_name,
        provinces.iso_3166_2 as province_iso_3166_2,
        provinces.region_group

    from with_parents
    left join provinces
        on with_parents.province_code = provinces.province_code
    left join regions as province_regions
        on with_parents.province_code = province_regions.region_code
    left join regions as city_regions
        on with_parents.city_code = city_regions.region_code
    left join regions as district_regions
        on with_parents.district_code = district_regions.region_code

)

select * from final
