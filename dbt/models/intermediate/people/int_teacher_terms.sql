-- The teachers a term's portraits are about: every school teacher with a version valid during the term, described by
-- the version valid at the term's end (or the last one during the term) and that version's school as of then.
-- Grain: teacher × term, for the terms that have begun by the latest lesson in the warehouse (a future term has no
-- portrait, and must not raise coverage alerts). Teachers without an analysed lesson are here too (coverage counts
-- them).
with

terms as (

    select * from {{ ref('dim_terms') }}
    where term_start <= (select max(lesson_date) from {{ ref('fct_lessons') }})

),

teachers as (

    select * from {{ ref('dim_teachers') }}
    where teacher_sector = 'school'

),

schools as (

    select * from {{ ref('dim_schools') }}

),

teacher_versions as (

    select distinct on (teachers.teacher_id, terms.term_code)
        terms.term_code,
        terms.term_end,
        teachers.*

    from teachers
    inner join terms
        on teachers.valid_from <= terms.term_end
        and (teachers.valid_to is null or teachers.valid_to > terms.term_start)
    order by teachers.teacher_id, terms.term_code, teachers.valid_from desc

),

with_school as (

    select distinct on (teacher_versions.teacher_id, teacher_versions.term_code)
        teacher_versions.*,
        schools.school_key,
        schools.district_code,
        schools.city_code,
        schools.province_code,
        schools.urban_rural,
        schools.is_weak_school,
        schools.school_stage

    from teacher_versions
    left join schools
        on teacher_versions.school_id = schools.school_id
    order by teacher_versions.teacher_id, teacher_versions.term_code,
        (schools.valid_from <= teacher_versions.term_end) desc, schools.valid_from desc

),

final as (

    select
        teacher_id,
        term_code,
        teacher_key,
        teacher_pseudonym,
        subject_code,
        grade,
        title_code,
        school_id,
        school_key,
        district_code,
        city_code,
        province_code,
        urban_rural,
        is_weak_school,
        school_stage,
        case '{{ var("peer_region_level") }}'
            when 'province' then province_code
            when 'district' then district_code
            else city_code
        end as peer_region_code

    from with_school

)

select * from final
