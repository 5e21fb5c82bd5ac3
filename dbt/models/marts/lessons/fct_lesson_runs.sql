-- One row per lesson coded by one model version (a "lesson run"), from the latest delivery of its codes.
-- Incremental: a night reads only the code rows loaded since the last build (found through ops.load_tables and the
-- raw table's batch index, not a scan of the history) and replaces the runs they deliver.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='lesson_run_id',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['lesson_run_id'], 'unique': true},
            {'columns': ['lesson_id']},
        ],
    )
}}

with

codes as (

    select * from {{ ref('stg_jiaoyan__behaviour_codes') }} as codes
    {% if is_incremental() %}
    where {{ loaded_since('codes', 'behaviour_codes', watermark()) }}
    {% endif %}

),

deliveries as (

    select
        lesson_id,
        model_name,
        model_version,
        batch_id,
        loaded_at,
        count(*) as n_points,
        min(point_index) as first_point_index,
        max(point_index) as last_point_index,
        bool_or(audio_present) as has_audio

    from codes
    group by lesson_id, model_name, model_version, batch_id, loaded_at

),

latest_deliveries as (

    select distinct on (lesson_id, model_name, model_version) *
    from deliveries
    order by lesson_id, model_name, model_version, loaded_at desc, batch_id desc

),

final as (

    select
        {{ lesson_run_id('lesson_id', 'model_name', 'model_version') }} as lesson_run_id,
        lesson_id,
        model_name,
        model_version,
        starts_with(model_name, '{{ var("simulated_model_prefix") }}') as is_simulated_model,
        n_points,
        first_point_index,
        last_point_index,
        first_point_index = 0 and last_point_index = n_points - 1 as has_contiguous_points,
        has_audio,
        batch_id,
        loaded_at

    from latest_deliveries

)

select * from final
