-- Each portrait indicator of a teacher in a term beside the norm of the teacher's peers — teachers of the same subject
-- and grade in the same region (var peer_region_level, default the city) in that term — and the teacher's value in
-- the previous term. z = (value − peer mean) / peer standard deviation; the norm is withheld (null) when fewer than
-- min_group_teachers peers have a value. Strength: the indicator furthest above the norm (largest positive z among
-- those the seed allows as strengths); weakness: furthest below (most negative z).
with

values_ as (

    select * from {{ ref('int_teacher_term_indicator_values') }}

),

teacher_terms as (

    select * from {{ ref('int_teacher_terms') }}

),

terms as (

    select * from {{ ref('dim_terms') }}

),

definitions as (

    select * from {{ ref('metric_definitions') }}

),

with_group as (

    select
        values_.*,
        teacher_terms.teacher_pseudonym,
        teacher_terms.subject_code,
        teacher_terms.grade,
        teacher_terms.peer_region_code

    from values_
    inner join teacher_terms using (teacher_id, term_code)

),

norms as (

    select
        term_code,
        subject_code,
        grade,
        peer_region_code,
        indicator_code,
        count(*) as peer_n,
        avg(value) as peer_mean,
        stddev_samp(value) as peer_sd

    from with_group
    group by term_code, subject_code, grade, peer_region_code, indicator_code

),

compared as (

    select
        with_group.*,
        norms.peer_n,
        {{ suppress('norms.peer_mean', 'norms.peer_n') }} as peer_mean,
        {{ suppress('norms.peer_sd', 'norms.peer_n') }} as peer_sd,
        {{ suppress('(with_group.value - norms.peer_mean) / nullif(norms.peer_sd, 0)', 'norms.peer_n') }} as z_score,
        previous_values.value as previous_value

    from with_group
    inner join norms using (term_code, subject_code, grade, peer_region_code, indicator_code)
    inner join terms using (term_code)
    left join values_ as previous_values
        on with_group.teacher_id = previous_values.teacher_id
        and terms.previous_term_code = previous_values.term_code
        and with_group.indicator_code = previous_values.indicator_code

),

ranked as (

    select
        compared.*,
        definitions.name_zh as indicator_name_zh,
        definitions.name_en as indicator_name_en,
        definitions.in_strengths,
        row_number() over (
            partition by compared.teacher_id, compared.term_code
            order by case when definitions.in_strengths and compared.z_score > 0 then compared.z_score end desc nulls last,
                compared.indicator_code
        ) as strength_rank,
        row_number() over (
            partition by compared.teacher_id, compared.term_code
            order by case when definitions.in_strengths and compared.z_score < 0 then compared.z_score end asc nulls last,
                compared.indicator_code
        ) as weakness_rank

    from compared
    inner join definitions
        on compared.indicator_code = definitions.code

),

final as (

    select
        teacher_id,
        teacher_pseudonym,
        term_code,
        indicator_code,
        indicator_name_zh,
        indicator_name_en,
        {{ metric_round('value') }} as value,
        {{ metric_round('previous_value') }} as previous_value,
        {{ metric_round('value - previous_value') }} as change_from_previous_term,
        subject_code,
        grade,
        peer_region_code,
        peer_n,
        {{ metric_round('peer_mean') }} as peer_mean,
        {{ metric_round('peer_sd') }} as peer_sd,
        {{ metric_round('z_score') }} as z_score,
        coalesce(in_strengths and z_score > 0, false) and strength_rank = 1 as is_strength,
        coalesce(in_strengths and z_score < 0, false) and weakness_rank = 1 as is_weakness

    from ranked

)

select * from final
