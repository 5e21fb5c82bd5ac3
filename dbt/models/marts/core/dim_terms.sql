-- School terms from the seed, in order, each with the previous term (for change against the previous term) and its
-- activity period: from the day after the previous term ends to its own end, so the holiday before a term counts
-- towards it (the convention of the Spark job's member_term_research).
with

terms as (

    select * from {{ ref('terms') }}

),

final as (

    select
        term_code,
        name_zh as term_name_zh,
        name_en as term_name_en,
        school_year,
        term_start,
        term_end,
        row_number() over (order by term_start) as term_number,
        lag(term_code) over (order by term_start) as previous_term_code,
        coalesce(lag(term_end) over (order by term_start) + 1, term_start) as period_start,
        term_end as period_end

    from terms

)

select * from final
