-- Offices to remind 提醒名单: no activity created or attended for at least inactive_days_to_remind days by the year's
-- reference date (31 December, or the data's as-of date for the running year); since founding when they never had one.
select
    vtro_id,
    vtro_name,
    report_year,
    reference_date,
    vtro_scope,
    vtro_scope_name_zh,
    university_id,
    university_name,
    province_code,
    province_name,
    leader_pseudonym,
    n_members,
    last_activity_date,
    days_inactive,
    {{ var('inactive_days_to_remind') }} as inactive_days_threshold
from {{ ref('mart_exemplary_offices') }}
where to_remind
