-- Schools as type-2 versions: a school that changes (location class, weak-school status, …) has one row per
-- version, valid from valid_from until the next version's valid_from (exclusive; null while current).
with

schools as (

    select * from {{ ref('stg_jiaoyan__schools') }}

),

regions as (

    select * from {{ ref('dim_regions') }}

),

stages as (

    select * from {{ ref('school_stages') }}

),

urban_rural as (

    select * from {{ ref('urban_rural') }}

),

versions as (

    select
        *,
        lead(valid_from) over (partition by school_id order by valid_from) as valid_to,
        row_number() over (partition by school_id order by valid_from) as version_number

    from schools

),

final as (

    select
        ---------- ids
        versions.school_id || '@' || versions.valid_from as school_key,
        versions.school_id,
        versions.district_code,
        regions.city_code,
        regions.province_code,

        ---------- text
        versions.school_name,
        versions.school_stage,
        stages.name_zh as school_stage_name_zh,
        versions.urban_rural,
        urban_rural.name_zh as urban_rural_name_zh,
        regions.district_name,
        regions.city_name,
        regions.province_name,
        regions.region_group,

        ---------- booleans
        versions.is_weak_school,
        versions.valid_to is null as is_current_version,

        ---------- validity
        versions.version_number,
        versions.valid_from,
        versions.valid_to

    from versions
    left join regions
        on versions.district_code = regions.region_code
    left join stages
        on versions.school_stage = stages.code
    left join urban_rural
        on versions.urban_rural = urban_rural.code

)

select * from final
