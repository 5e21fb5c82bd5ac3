-- Quality gates: ops.gate_scope (0010) is not used. The gates narrow every expectation to the night's batch
-- themselves (a row condition on _batch_id, or the batch id in a rule's SQL), which keeps the GX assets plain
-- tables and every query on the _batch_id index.
set role jiaoyan_owner;
drop table if exists ops.gate_scope;
reset role;
