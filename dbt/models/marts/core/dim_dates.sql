-- One row per calendar day from the first term's school year to two years after the last term, with the term the
-- day falls in (null in holidays) and calendar attributes.
with

bounds as (

    select
        make_date(extract(year from min(term_start))::int, 1, 1) as first_day,
        make_date(extract(year from max(term_end))::int + 2, 12, 31) as last_day
    from {{ ref('terms') }}

),

days as (

    select generate_series(first_day, last_day, interval '1 day')::date as date_day
    from bounds

),

final as (

    select
        days.date_day,
        extract(year from days.date_day)::int as calendar_year,
        extract(month from days.date_day)::int as calendar_month,
        date_trunc('month', days.date_day)::date as month_start,
        extract(isodow from days.date_day)::int as iso_weekday,
        extract(isodow from days.date_day) >= 6 as is_weekend,
        terms.term_code,
        terms.school_year

    from days
    left join {{ ref('terms') }} as terms
        on days.date_day between terms.term_start and terms.term_end

)

select * from final
