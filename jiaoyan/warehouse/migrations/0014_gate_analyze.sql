-- Quality gates: fresh statistics before a gate plans its queries. Right after a bulk COPY the planner may not
-- know a raw table grew (autovacuum analyzes later), and an anti-join of a night's 900,000 points against the
-- lesson manifest then runs as a nested loop for minutes instead of a hash join for a second. The loader role
-- does not own the raw tables and may not ANALYZE them, so the owner does it through this function, and only
-- for tables whose statistics are stale (never analyzed, or 5 % of their rows changed since).
set role jiaoyan_owner;

create or replace function ops.analyze_raw(p_tables text[]) returns text[]
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
    v_table text;
    v_done text[] := '{}';
begin
    foreach v_table in array p_tables loop
        if to_regclass(format('raw.%I', v_table)) is null then
            raise exception 'no table raw.%', v_table;
        end if;
        if exists (
            select 1 from pg_stat_user_tables as s
            where s.relid = format('raw.%I', v_table)::regclass
              and (coalesce(s.last_analyze, s.last_autoanalyze) is null
                   or s.n_mod_since_analyze > 0.05 * greatest(s.n_live_tup, 1000))
        ) then
            execute format('analyze raw.%I', v_table);
            v_done := v_done || v_table;
        end if;
    end loop;
    return v_done;
end
$$;
revoke all on function ops.analyze_raw(text[]) from public;
grant execute on function ops.analyze_raw(text[]) to jiaoyan_loader, jiaoyan_transformer;

reset role;
