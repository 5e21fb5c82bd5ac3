-- Bookkeeping and quarantine tables shared by every loader and job.
set role jiaoyan_owner;

create table if not exists ops.batches (
    batch_id        text primary key,
    batch_date      date not null,
    producer        text not null,
    manifest        jsonb not null,
    registered_at   timestamptz not null default now()
);
comment on table ops.batches is 'Nightly batches seen in the landing zone, with their _batch.json';

create table if not exists quarantine.rejected_rows (
    batch_id        text not null,
    contract        text not null,
    source_file     text not null,
    line            bigint,
    field           text,
    value           text,
    reason          text not null,
    raw             text,
    quarantined_at  timestamptz not null default now()
);
create index if not exists rejected_rows_batch on quarantine.rejected_rows (batch_id, contract);
comment on table quarantine.rejected_rows is
    'Rows that broke their contract: where they came from (file, line), the field, the value and why';

create table if not exists quarantine.rejected_files (
    batch_id        text not null,
    contract        text not null,
    source_file     text not null,
    reason          text not null,
    quarantined_at  timestamptz not null default now(),
    primary key (batch_id, source_file)
);
comment on table quarantine.rejected_files is
    'Whole files that could not be used (unreadable, missing a required column, a corrupt video)';

reset role;
