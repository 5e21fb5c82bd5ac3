-- Bookkeeping of the bulk loads (jiaoyan.load): one row per attempt, and per batch what each
-- table and file gave. The quarantine itself is in quarantine.rejected_rows / rejected_files.
set role jiaoyan_owner;

create table if not exists ops.loads (
    load_id         bigserial primary key,
    batch_id        text not null,
    batch_uri       text not null,
    status          text not null check (status in ('running', 'succeeded', 'failed')),
    started_at      timestamptz not null default now(),
    finished_at     timestamptz,
    rows_loaded     bigint,
    rows_rejected   bigint,
    files_rejected  integer,
    seconds         double precision,
    error           text,
    loaded_by       text not null default current_user
);
create index if not exists loads_batch on ops.loads (batch_id, load_id);
comment on table ops.loads is
    'Every load attempt of a batch (running, succeeded, failed); a batch counts as loaded once one succeeded';

create table if not exists ops.load_tables (
    batch_id        text not null,
    contract        text not null,
    load_id         bigint not null references ops.loads (load_id) on delete cascade,
    files           integer not null,
    files_rejected  integer not null,
    rows_loaded     bigint not null,
    rows_rejected   bigint not null,
    seconds         double precision not null,
    copy_seconds    double precision not null,
    loaded_at       timestamptz not null default now(),
    primary key (batch_id, contract)
);
comment on table ops.load_tables is
    'Per batch and raw table: files, rows loaded and quarantined, time spent (replaced when the batch is reloaded)';

create table if not exists ops.load_files (
    batch_id        text not null,
    contract        text not null,
    source_file     text not null,
    status          text not null check (status in ('loaded', 'rejected')),
    rows_read       bigint not null,
    rows_loaded     bigint not null,
    rows_rejected   bigint not null,
    seconds         double precision not null,
    reason          text,
    primary key (batch_id, contract, source_file)
);
comment on table ops.load_files is
    'Per batch and file: rows read, loaded and quarantined, or why the whole file was rejected; read time';

create or replace view ops.quarantine_summary as
select batch_id, contract, field, reason, rows, source_file as example_file, line as example_line
from (
    select batch_id, contract, field, reason, source_file, line,
           count(*) over w as rows,
           row_number() over (w order by source_file collate "C", line) as k
    from quarantine.rejected_rows
    window w as (partition by batch_id, contract, field, reason)
) ranked
where k = 1;
comment on view ops.quarantine_summary is
    'Quarantined rows per batch, contract, field and reason, with the first file:line as an example';

reset role;
