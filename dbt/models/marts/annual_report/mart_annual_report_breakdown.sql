-- The annual report's breakdowns, one row per report unit, year, figure and category: offices by scope and by
-- content type, activities and participant-times by activity kind, resources by kind (knowledge graphs among them),
-- with Chinese labels from the seeds.
with

years as (

    select * from {{ ref('int_report_years') }}

),

units as (

    select * from {{ ref('int_vtro_report_units') }}

),

vtros as (

    select * from {{ ref('dim_vtros') }}

),

activities as (

    select * from {{ ref('stg_jiaoyan__activities') }}

),

resources as (

    select * from {{ ref('stg_jiaoyan__resources_published') }}

),

offices_by_scope as (

    select units.report_level, units.report_unit_id, years.report_year,
        'offices_by_scope' as figure, vtros.vtro_scope as category, max(vtros.vtro_scope_name_zh) as category_name_zh,
        count(*)::numeric as value, null::numeric as secondary_value

    from units
    inner join vtros using (vtro_id)
    cross join years
    where vtros.founded_on <= years.reference_date
    group by 1, 2, 3, 4, 5

),

offices_by_type as (

    select units.report_level, units.report_unit_id, years.report_year,
        'offices_by_content_type', vtros.vtro_content_type, max(vtros.vtro_content_type_name_zh),
        count(*)::numeric, null::numeric

    from units
    inner join vtros using (vtro_id)
    cross join years
    where vtros.founded_on <= years.reference_date
    group by 1, 2, 3, 4, 5

),

activities_by_kind as (

    select units.report_level, units.report_unit_id, years.report_year,
        'activities_by_kind', activities.activity_kind, max(kinds.name_zh),
        count(*)::numeric, coalesce(sum(activities.n_participants), 0)::numeric

    from activities
    inner join units
        on activities.host_vtro_id = units.vtro_id
    inner join years
        on activities.first_event_date between years.year_start and years.reference_date
    left join {{ ref('activity_kinds') }} as kinds
        on activities.activity_kind = kinds.code
    group by 1, 2, 3, 4, 5

),

resources_by_kind as (

    select units.report_level, units.report_unit_id, years.report_year,
        'resources_by_kind', resources.resource_kind, max(kinds.name_zh),
        count(distinct coalesce(resources.resource_id, resources.event_id))::numeric, null::numeric

    from resources
    inner join units
        on resources.vtro_id = units.vtro_id
    inner join years
        on resources.published_on between years.year_start and years.reference_date
    left join {{ ref('resource_kinds') }} as kinds
        on resources.resource_kind = kinds.code
    group by 1, 2, 3, 4, 5

),

final as (

    select * from offices_by_scope
    union all select * from offices_by_type
    union all select * from activities_by_kind
    union all select * from resources_by_kind

)

select
    report_level,
    report_unit_id,
    report_year,
    figure,
    category,
    category_name_zh,
    value,
    secondary_value,
    case figure when 'activities_by_kind' then 'participant_times' end as secondary_value_meaning
from final
