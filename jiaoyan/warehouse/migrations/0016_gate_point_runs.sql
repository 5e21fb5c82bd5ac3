-- Quality gates: one row per lesson run of a batch's point table (behaviour codes, gold codes), with the
-- aggregates the raw gate's point rules share — rows, distinct points, first and last point, first file and line.
-- The raw gate records it once per run (under its lock, before validating), so the key, contiguity,
-- completeness, pattern and reference rules read a few thousand runs instead of each aggregating the night's
-- ~1 million points again. Rebuilt by every gate run of the batch, so it is working state, not history.
set role jiaoyan_owner;

create unlogged table if not exists ops.gate_point_runs (
    batch_id            text not null,
    contract            text not null,
    run_key             text[] not null,
    n_rows              bigint not null,
    n_points            bigint not null,
    first_index         integer not null,
    last_index          integer not null,
    _source_file        text,
    _line               bigint,
    primary key (batch_id, contract, run_key)
);
comment on table ops.gate_point_runs is
    'Per batch and point table, each lesson run (the key without point_index, as text) with its row count, '
    'distinct points, first and last point and first source file and line: recorded by the raw gate, read by '
    'its point rules';

-- The rules join these runs to reference tables: without statistics the planner takes a fresh batch's 2,000 runs
-- for one and loops over the lesson manifest once per run. The gate (loader role, not the owner) refreshes them
-- right after recording, through this function.
create or replace function ops.analyze_gate_point_runs() returns void
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
begin
    analyze ops.gate_point_runs;
end
$$;
revoke all on function ops.analyze_gate_point_runs() from public;
grant execute on function ops.analyze_gate_point_runs() to jiaoyan_loader;

reset role;
