-- Schemas and least-privilege roles.
--   jiaoyan_owner        NOLOGIN; owns raw, quarantine and ops (created by migrations)
--   jiaoyan_loader       writes raw, quarantine and ops; nothing else
--   jiaoyan_transformer  dbt: reads raw/quarantine/ops, owns what it builds in staging..marts
--   jiaoyan_reader       Superset and report readers: reads marts only
-- The login roles and their passwords are created by the migration runner from the
-- configured URLs before this file runs; no password is ever written here.

revoke all on database {{database}} from public;
revoke create on schema public from public;
grant connect, temporary on database {{database}} to jiaoyan_loader, jiaoyan_transformer, jiaoyan_reader;

create schema if not exists raw authorization jiaoyan_owner;
create schema if not exists quarantine authorization jiaoyan_owner;
create schema if not exists ops authorization jiaoyan_owner;
comment on schema raw is 'Landing data as loaded by COPY, one table per contract, tagged with batch and source line';
comment on schema quarantine is 'Rows and files that broke their contract, with file, line, field, value and reason';
comment on schema ops is 'Pipeline bookkeeping: migrations, batches, loads, gates, publications';

create schema if not exists seeds authorization jiaoyan_transformer;
create schema if not exists staging authorization jiaoyan_transformer;
create schema if not exists intermediate authorization jiaoyan_transformer;
create schema if not exists snapshots authorization jiaoyan_transformer;
create schema if not exists marts authorization jiaoyan_transformer;
comment on schema marts is 'Published metrics, portraits and annual figures: the only schema readers see';

-- loader: write landing data and bookkeeping, read nothing it does not load
grant usage on schema raw, quarantine, ops to jiaoyan_loader;
alter default privileges for role jiaoyan_owner in schema raw, quarantine, ops
    grant select, insert, update, delete, truncate on tables to jiaoyan_loader;
alter default privileges for role jiaoyan_owner in schema raw, quarantine, ops
    grant usage, select on sequences to jiaoyan_loader;

-- transformer (dbt): read the inputs, build in its own schemas
grant usage on schema raw, quarantine, ops to jiaoyan_transformer;
alter default privileges for role jiaoyan_owner in schema raw, quarantine, ops
    grant select on tables to jiaoyan_transformer;

-- reader: marts only
grant usage on schema marts to jiaoyan_reader;
alter default privileges for role jiaoyan_transformer in schema marts
    grant select on tables to jiaoyan_reader;
