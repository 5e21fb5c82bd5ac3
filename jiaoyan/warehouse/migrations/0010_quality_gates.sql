-- Quality gates (expectations/): every gate run, each expectation's outcome with a sample of the rows that broke
-- it, warning alerts for the dashboards, the night metrics the drift checks compare with, and the publication of
-- the marts by a schema swap (write → audit → publish).
--
-- Publication: dbt builds the marts into `marts_next` (var marts_schema, see docs/quality-gates.md); readers only
-- ever see `marts`. When the marts gate passes, ops.publish_marts() swaps the two schemas in one transaction, so
-- a failing gate leaves every reader on the previous night's marts, and a reader never sees half a build.

create schema if not exists marts_next authorization jiaoyan_transformer;
comment on schema marts_next is
    'Where dbt builds the marts (the audit copy): swapped with marts by ops.publish_marts() once the marts gate passed';
-- the same table grants as marts, so a table keeps them when its schema is published; readers get no usage here
alter default privileges for role jiaoyan_transformer in schema marts_next grant select on tables to jiaoyan_reader;

-- ops.publish_marts() runs as the owner role: renaming the two schemas needs their owner and CREATE on the database
grant create on database {{database}} to jiaoyan_owner;
grant jiaoyan_transformer to jiaoyan_owner;

-- what dashboards may read about the gates (the reader role sees marts and this schema, nothing else)
create schema if not exists quality authorization jiaoyan_owner;
comment on schema quality is 'Quality-gate status for dashboards: runs, alerts and publications (views over ops)';
grant usage on schema quality to jiaoyan_reader;

set role jiaoyan_owner;

create table if not exists ops.gate_runs (
    run_id              bigserial primary key,
    batch_id            text not null,
    gate                text not null check (gate in ('raw', 'marts')),
    status              text not null check (status in ('running', 'passed', 'warned', 'failed', 'error')),
    started_at          timestamptz not null default now(),
    finished_at         timestamptz,
    seconds             double precision,
    expectations        integer,
    failed_blocking     integer,
    failed_warning      integer,
    gx_run_name         text,
    data_docs           text,
    error               text,
    run_by              text not null default current_user
);
create index if not exists gate_runs_batch on ops.gate_runs (batch_id, gate, run_id);
comment on table ops.gate_runs is
    'Every quality-gate attempt: batch, gate (raw or marts), verdict (passed, warned = passed with alerts, failed = '
    'a blocking expectation failed, error = the gate could not run), counts and where its Data Docs are';

create table if not exists ops.gate_results (
    run_id              bigint not null references ops.gate_runs (run_id) on delete cascade,
    batch_id            text not null,
    gate                text not null,
    suite               text not null,
    check_name          text not null,
    expectation_type    text not null,
    column_name         text,
    severity            text not null check (severity in ('blocking', 'warning')),
    success             boolean,
    unexpected_count    bigint,
    element_count       bigint,
    observed            text,
    sample              jsonb,
    description         text,
    exception           text,
    primary key (run_id, suite, check_name)
);
create index if not exists gate_results_batch on ops.gate_results (batch_id, gate);
comment on table ops.gate_results is
    'Each expectation of each gate run: severity, success, unexpected count and a sample of the unexpected rows '
    '(their keys, _source_file and _line)';

create table if not exists ops.gate_alerts (
    batch_id            text not null,
    gate                text not null,
    suite               text not null,
    check_name          text not null,
    run_id              bigint not null references ops.gate_runs (run_id) on delete cascade,
    severity            text not null,
    message             text not null,
    unexpected_count    bigint,
    sample              jsonb,
    raised_at           timestamptz not null default now(),
    primary key (batch_id, gate, suite, check_name)
);
comment on table ops.gate_alerts is
    'Failed expectations of the latest gate run per batch (warnings that let the batch through, and blocking '
    'failures that held it); a rerun replaces the batch''s alerts';

create table if not exists ops.gate_scope (
    gate                text primary key,
    batch_id            text not null,
    run_id              bigint,
    set_at              timestamptz not null default now()
);
comment on table ops.gate_scope is
    'The batch a gate is validating now: the Great Expectations assets select the rows of this batch '
    '(gates of one kind run one at a time, under an advisory lock)';

create table if not exists ops.gate_metrics (
    batch_id            text not null,
    gate                text not null,
    metric              text not null,
    dimension           text not null,
    value               double precision,
    n                   bigint not null,
    recorded_at         timestamptz not null default now(),
    primary key (batch_id, gate, metric, dimension)
);
comment on table ops.gate_metrics is
    'Per batch, the distributions the drift checks compare (mode mix per province, behaviour shares per model): '
    'recorded by each gate run; only published batches serve as the baseline';

create table if not exists ops.publications (
    publication_id      bigserial primary key,
    batch_id            text not null,
    raw_run_id          bigint references ops.gate_runs (run_id),
    marts_run_id        bigint not null references ops.gate_runs (run_id),
    published_at        timestamptz not null default now(),
    published_by        text not null default session_user
);
create index if not exists publications_batch on ops.publications (batch_id, publication_id);
comment on table ops.publications is 'Every publication of the marts: the batch, the gate runs that allowed it, when';

-- The swap. SECURITY DEFINER: the pipeline's transformer role may call it, but it refuses a batch whose latest
-- marts gate (and raw gate, when there was one) did not pass.
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
    if v_marts.run_id is null or v_marts.status not in ('passed', 'warned') then
        raise exception 'batch %: the latest marts gate did not pass (%); nothing published',
            p_batch_id, coalesce(v_marts.status, 'never run');
    end if;
    select * into v_raw from ops.gate_runs
     where batch_id = p_batch_id and gate = 'raw' and status <> 'running' order by run_id desc limit 1;
    if v_raw.run_id is not null and v_raw.status not in ('passed', 'warned') then
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

-- the marts gate runs as the transformer (it reads the marts): it writes its own bookkeeping
grant select, insert, update, delete on ops.gate_runs, ops.gate_results, ops.gate_alerts, ops.gate_scope,
    ops.gate_metrics to jiaoyan_transformer;
grant usage, select on sequence ops.gate_runs_run_id_seq to jiaoyan_transformer;

create or replace view quality.gate_runs as
select run_id, batch_id, gate, status, started_at, finished_at, seconds, expectations, failed_blocking,
       failed_warning, data_docs
from ops.gate_runs;
create or replace view quality.gate_alerts as
select batch_id, gate, suite, check_name, severity, message, unexpected_count, raised_at from ops.gate_alerts;
create or replace view quality.publications as
select publication_id, batch_id, published_at from ops.publications;
grant select on quality.gate_runs, quality.gate_alerts, quality.publications to jiaoyan_reader;

reset role;
