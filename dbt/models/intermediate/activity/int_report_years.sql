-- The years the annual report covers: from the first office founded or first activity to the latest activity (or
-- the annual_report_as_of var), each with its reference date — 31 December, or the data's as-of date for the
-- running year — so any past year is reproducible from the warehouse.
with

vtros as (

    select * from {{ ref('stg_jiaoyan__vtros') }}

),

vtro_days as (

    select * from {{ ref('stg_jiaoyan__vtro_days') }}

),

bounds as (

    select
        least((select min(founded_on) from vtros), (select min(activity_date) from vtro_days)) as first_day,
        {% if var('annual_report_as_of') -%}
        '{{ var("annual_report_as_of") }}'::date
        {%- else -%}
        greatest((select max(activity_date) from vtro_days), (select max(founded_on) from vtros))
        {%- endif %} as as_of_date

),

years as (

    select
        generate_series(extract(year from first_day)::int, extract(year from as_of_date)::int) as report_year,
        as_of_date

    from bounds
    where first_day is not null

),

final as (

    select
        report_year,
        make_date(report_year, 1, 1) as year_start,
        make_date(report_year, 12, 31) as year_end,
        least(make_date(report_year, 12, 31), as_of_date) as reference_date,
        make_date(report_year, 12, 31) > as_of_date as is_running_year

    from years

)

select * from final
