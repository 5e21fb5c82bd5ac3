-- Model–human agreement per model version and label set: Cohen's kappa between machine and gold codes,
-- kappa = (p_o − p_e) / (1 − p_e) with p_o the observed agreement and p_e = Σ_k (gold share of k × machine share of k),
-- and the macro-averaged F1 over the classes present in the gold codes.
with

pairs as (

    select * from {{ ref('int_model_label_pairs') }}

),

f1 as (

    select * from {{ ref('mart_model_behaviour_f1') }}

),

totals as (

    select
        model_name,
        model_version,
        label_set,
        sum(n_points) as n_points,
        sum(n_points) filter (where gold_label = machine_label) as n_agreeing

    from pairs
    group by model_name, model_version, label_set

),

marginals as (

    select model_name, model_version, label_set, gold_label as label, sum(n_points) as n_gold, 0 as n_machine
    from pairs group by 1, 2, 3, 4
    union all
    select model_name, model_version, label_set, machine_label, 0, sum(n_points)
    from pairs group by 1, 2, 3, 4

),

expected as (

    select
        marginals.model_name,
        marginals.model_version,
        marginals.label_set,
        sum(by_label.n_gold::numeric * by_label.n_machine) as sum_products

    from (
        select model_name, model_version, label_set, label, sum(n_gold) as n_gold, sum(n_machine) as n_machine
        from marginals
        group by 1, 2, 3, 4
    ) as by_label
    inner join (select distinct model_name, model_version, label_set from marginals) as marginals
        using (model_name, model_version, label_set)
    group by marginals.model_name, marginals.model_version, marginals.label_set

),

macro_f1 as (

    select model_name, model_version, label_set, avg(f1) as macro_f1, count(*) as n_classes
    from f1
    where support > 0
    group by model_name, model_version, label_set

),

lessons as (

    select model_name, model_version, max(n_lessons) as n_lessons
    from pairs
    where label_set = 'teacher_behaviour'
    group by model_name, model_version

),

final as (

    select
        totals.model_name,
        totals.model_version,
        totals.label_set,
        lessons.n_lessons,
        totals.n_points,
        {{ metric_round('coalesce(totals.n_agreeing, 0)::numeric / totals.n_points') }} as observed_agreement,
        {{ metric_round('expected.sum_products / (totals.n_points::numeric * totals.n_points)') }} as expected_agreement,
        {{ metric_round('(coalesce(totals.n_agreeing, 0)::numeric / totals.n_points
            - expected.sum_products / (totals.n_points::numeric * totals.n_points))
            / nullif(1 - expected.sum_products / (totals.n_points::numeric * totals.n_points), 0)') }} as cohens_kappa,
        {{ metric_round('macro_f1.macro_f1') }} as macro_f1,
        macro_f1.n_classes

    from totals
    inner join expected using (model_name, model_version, label_set)
    left join macro_f1 using (model_name, model_version, label_set)
    left join lessons using (model_name, model_version)

)

select * from final
