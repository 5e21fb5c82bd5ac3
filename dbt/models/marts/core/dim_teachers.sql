-- Teachers as a type-2 dimension from the snapshot: one row per version (a change of school or title), valid
-- from valid_from until the next version's valid_from (exclusive; null while current), each with the latest
-- known content of that version. Personal data stays out: readers see a stable pseudonym, never the name
-- (the name is in intermediate.int_teacher_identities, for the teacher's own view).
with

snapshot as (

    select * from {{ ref('snap_teachers') }}
    where dbt_valid_to is null

),

titles as (

    select * from {{ ref('teacher_titles') }}

),

subjects as (

    select * from {{ ref('subjects') }}

),

versions as (

    select
        *,
        lead(valid_from) over (partition by teacher_id order by valid_from) as valid_to,
        row_number() over (partition by teacher_id order by valid_from) as version_number

    from snapshot

),

final as (

    select
        ---------- ids
        versions.teacher_id || '@' || versions.valid_from as teacher_key,
        versions.teacher_id,
        {{ pseudonym('versions.teacher_id') }} as teacher_pseudonym,
        versions.school_id,
        versions.university_id,

        ---------- text
        versions.teacher_sector,
        versions.title_code,
        titles.name_zh as title_name_zh,
        versions.subject_code,
        subjects.name_zh as subject_name_zh,

        ---------- numerics
        titles.rank as title_rank,
        versions.grade,

        ---------- validity
        versions.version_number,
        versions.valid_from,
        versions.valid_to,
        versions.valid_to is null as is_current_version

    from versions
    left join titles
        on versions.title_code = titles.code
    left join subjects
        on versions.subject_code = subjects.code

)

select * from final
