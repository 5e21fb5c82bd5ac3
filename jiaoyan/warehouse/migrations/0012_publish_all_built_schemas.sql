-- Publication swaps every schema dbt rebuilds, not only the marts. dbt replaces a view by creating the new one
-- and dropping the old with CASCADE, so a published mart view that reads a staging or intermediate view would
-- be dropped by the next build of that view. Staging and intermediate therefore get audit copies too
-- (dbt var build_schema_suffix: _next) and ops.publish_marts() swaps the three pairs in one transaction.
-- Seeds and snapshots stay shared: dbt truncates and merges them in place, it never drops them.

create schema if not exists staging_next authorization jiaoyan_transformer;
create schema if not exists intermediate_next authorization jiaoyan_transformer;
comment on schema staging_next is 'The staging views of the unpublished build (see ops.publish_marts)';
comment on schema intermediate_next is 'The intermediate models of the unpublished build (see ops.publish_marts)';

set role jiaoyan_owner;

create or replace function ops.publish_marts(p_batch_id text) returns bigint
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
    v_marts ops.gate_runs;
    v_raw ops.gate_runs;
    v_id bigint;
    v_layer text;
begin
    perform pg_advisory_xact_lock(hashtext('jiaoyan.publish_marts'));
    select * into v_marts from ops.gate_runs
     where batch_id = p_batch_id and gate = 'marts' and status <> 'running' order by run_id desc limit 1;
    if v_marts.run_id is null or v_marts.status not in ('passed', 'warned', 'accepted') then
        raise exception 'batch %: the latest marts gate did not pass (%); nothing published',
            p_batch_id, coalesce(v_marts.status, 'never run');
    end if;
    select * into v_raw from ops.gate_runs
     where batch_id = p_batch_id and gate = 'raw' and status <> 'running' order by run_id desc limit 1;
    if v_raw.run_id is not null and v_raw.status not in ('passed', 'warned', 'accepted') then
        raise exception 'batch %: the latest raw gate did not pass (%); nothing published', p_batch_id, v_raw.status;
    end if;
    if v_raw.run_id is not null and v_raw.run_id > v_marts.run_id then
        raise exception 'batch %: the raw gate ran again after the marts gate; run the marts gate again', p_batch_id;
    end if;
    foreach v_layer in array array['staging', 'intermediate', 'marts'] loop
        execute format('alter schema %I rename to %I', v_layer, v_layer || '__swap');
        execute format('alter schema %I rename to %I', v_layer || '_next', v_layer);
        execute format('alter schema %I rename to %I', v_layer || '__swap', v_layer || '_next');
    end loop;
    grant usage on schema marts to jiaoyan_reader;
    revoke usage on schema marts_next from jiaoyan_reader;
    comment on schema marts is
        'Published metrics, portraits and annual figures: the only schema readers see';
    comment on schema marts_next is
        'Where dbt builds the marts (the audit copy): swapped with marts by ops.publish_marts() once the marts gate passed';
    comment on schema staging is 'The staging views of the published build';
    comment on schema intermediate is 'The intermediate models of the published build';
    comment on schema staging_next is 'The staging views of the unpublished build (see ops.publish_marts)';
    comment on schema intermediate_next is 'The intermediate models of the unpublished build (see ops.publish_marts)';
    insert into ops.publications (batch_id, raw_run_id, marts_run_id)
    values (p_batch_id, v_raw.run_id, v_marts.run_id) returning publication_id into v_id;
    return v_id;
end
$$;
revoke all on function ops.publish_marts(text) from public;
grant execute on function ops.publish_marts(text) to jiaoyan_transformer;

reset role;
