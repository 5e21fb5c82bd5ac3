-- (lesson_run_id, point_index) identifies a point: a unique btree on the table enforces it on every write, so the
-- test checks that the index is there and valid instead of grouping the night's millions of points (a returned
-- row means the index is missing, and with it the guarantee).
{% set points = ref('fct_behaviour_points') %}
select '{{ points }} has no valid unique index on (lesson_run_id, point_index)' as problem
where not exists (

    select 1
    from pg_index as ix
    inner join pg_class as tbl on tbl.oid = ix.indrelid
    inner join pg_namespace as ns on ns.oid = tbl.relnamespace
    where ns.nspname = '{{ points.schema }}'
      and tbl.relname = '{{ points.identifier }}'
      and ix.indisunique
      and ix.indisvalid
      and ix.indpred is null
      and ix.indnkeyatts = 2
      and ix.indkey[0] = (select attnum from pg_attribute where attrelid = tbl.oid and attname = 'lesson_run_id')
      and ix.indkey[1] = (select attnum from pg_attribute where attrelid = tbl.oid and attname = 'point_index')

)
