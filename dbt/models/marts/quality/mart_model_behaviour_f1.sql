-- Per model version, label set and class: support (gold points), predictions, precision, recall and F1 of the machine
-- codes against the gold codes; for student behaviours also the mean absolute error of the predicted shares.
with

pairs as (

    select * from {{ ref('int_model_label_pairs') }}

),

comparisons as (

    select * from {{ ref('fct_gold_point_comparisons') }}

),

labels as (

    select model_name, model_version, label_set, gold_label as label from pairs
    union
    select model_name, model_version, label_set, machine_label from pairs

),

counts as (

    select
        labels.model_name,
        labels.model_version,
        labels.label_set,
        labels.label,
        coalesce(sum(pairs.n_points) filter (where pairs.gold_label = labels.label and pairs.machine_label = labels.label), 0)
            as true_positives,
        coalesce(sum(pairs.n_points) filter (where pairs.gold_label = labels.label), 0) as support,
        coalesce(sum(pairs.n_points) filter (where pairs.machine_label = labels.label), 0) as predicted

    from labels
    inner join pairs using (model_name, model_version, label_set)
    group by labels.model_name, labels.model_version, labels.label_set, labels.label

),

share_errors as (

    select model_name, model_version, behaviour_code, avg(abs(machine_share - gold_share)) as mean_absolute_share_error
    from comparisons
    cross join lateral (
        values
            {% for code, column in student_behaviour_columns() -%}
            ('{{ code }}', machine_{{ column }}, gold_{{ column }}){{ ',' if not loop.last }}
            {% endfor %}
    ) as shares (behaviour_code, machine_share, gold_share)
    group by model_name, model_version, behaviour_code

),

final as (

    select
        counts.model_name,
        counts.model_version,
        counts.label_set,
        counts.label,
        counts.support,
        counts.predicted,
        counts.true_positives,
        {{ metric_round('counts.true_positives::numeric / nullif(counts.predicted, 0)') }} as precision,
        {{ metric_round('counts.true_positives::numeric / nullif(counts.support, 0)') }} as recall,
        {{ metric_round('2 * counts.true_positives::numeric / nullif(counts.predicted + counts.support, 0)') }} as f1,
        {{ metric_round('share_errors.mean_absolute_share_error') }} as mean_absolute_share_error

    from counts
    left join share_errors
        on counts.label_set = 'dominant_student_behaviour'
        and counts.model_name = share_errors.model_name
        and counts.model_version = share_errors.model_version
        and counts.label = share_errors.behaviour_code

)

select * from final
