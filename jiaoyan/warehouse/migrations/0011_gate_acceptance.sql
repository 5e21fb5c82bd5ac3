-- Quality gates: a person may accept a batch a gate held (`jiaoyan gate accept`), recorded as a gate run with
-- status 'accepted'; an accepted gate counts as passed for the publication and for the nights after it.
set role jiaoyan_owner;

alter table ops.gate_runs drop constraint if exists gate_runs_status_check;
alter table ops.gate_runs add constraint gate_runs_status_check
    check (status in ('running', 'passed', 'warned', 'failed', 'error', 'accepted'));
comment on table ops.gate_runs is
    'Every quality-gate attempt: batch, gate (raw or marts), verdict (passed, warned = passed with alerts, failed = '
    'a blocking expectation failed, error = the gate could not run, accepted = a person released a held batch, '
    'the reason in error), counts and where its Data Docs are';

create or replace function ops.publish_marts(p_batch_id text) returns bigint
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
    v_marts ops.gate_runs;
    v_raw ops.gate_runs;
    v_id bigint;
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
    alter schema marts rename to marts__swap;
    alter schema marts_next rename to marts;
    alter schema marts__swap rename to marts_next;
    grant usage on schema marts to jiaoyan_reader;
    revoke usage on schema marts_next from jiaoyan_reader;
    comment on schema marts is
        'Published metrics, portraits and annual figures: the only schema readers see';
    comment on schema marts_next is
        'Where dbt builds the marts (the audit copy): swapped with marts by ops.publish_marts() once the marts gate passed';
    insert into ops.publications (batch_id, raw_run_id, marts_run_id)
    values (p_batch_id, v_raw.run_id, v_marts.run_id) returning publication_id into v_id;
    return v_id;
end
$$;
revoke all on function ops.publish_marts(text) from public;
grant execute on function ops.publish_marts(text) to jiaoyan_transformer;

reset role;
