-- What each publication put in front of readers: every relation of the published marts with its row count and an
-- order-independent checksum of its rows, written by the pipeline (the transformer) right after the swap. Two
-- publications of the same data have the same manifest, which is how a rerun night is shown to change nothing.
set role jiaoyan_owner;

create table if not exists ops.publication_marts (
    publication_id      bigint not null references ops.publications (publication_id),
    relation            text not null,
    kind                text not null check (kind in ('table', 'view', 'materialized view')),
    row_count           bigint not null,
    checksum            text not null,
    primary key (publication_id, relation)
);
comment on table ops.publication_marts is
    'Per publication: each published mart relation, its row count and a checksum of its rows (audit columns excluded)';

grant select, insert, update, delete on ops.publication_marts to jiaoyan_transformer;
grant select on ops.publications to jiaoyan_transformer;

create or replace view quality.publication_marts as
select p.batch_id, p.published_at, m.publication_id, m.relation, m.kind, m.row_count, m.checksum
from ops.publication_marts as m
join ops.publications as p using (publication_id);
grant select on quality.publication_marts to jiaoyan_reader;

reset role;
