-- What changed since a sweep (issue 13): one row per customer whose data a
-- write touched, with the transaction that touched it last.  A sweep
-- records the snapshot its rules saw at least (seen); the next one knows a
-- customer changed since when that transaction was not visible in it.  Written by statement triggers (src/schedule/sweep_changes.sql),
-- read by the sweep (src/schedule/sweep.c); never by anything else.
-- No index on txid: a write then updates its customer's row in place (a
-- HOT update, no index entry), where an index on an ever-growing txid made
-- every writer insert into its last page (a call log's p99 doubled); the
-- sweep reads the whole table, one row per customer ever written, once.
CREATE TABLE sweep_changes (
  customer_id bigint PRIMARY KEY,
  txid        xid8 NOT NULL
);

-- kind: 'full' (every rule over the whole book) or 'unchanged' (nothing
-- the rules read changed since the last sweep of the same business day: no
-- rule ran).  basis: the settings and SQL code the rules ran with.
ALTER TABLE scheduler_runs
  ADD COLUMN kind text NOT NULL DEFAULT 'full' CONSTRAINT scheduler_runs_kind_check CHECK (kind IN ('full', 'unchanged')),
  ADD COLUMN basis text,
  ADD COLUMN seen pg_snapshot;

-- A sweep's check for call logs and receipt confirmations dated between
-- two sweeps' instants (arc_sweep_kind).
CREATE INDEX call_logs_occurred_idx ON call_logs (occurred_at);
CREATE INDEX invoices_receipt_confirmed_idx ON invoices (receipt_confirmed_at) WHERE receipt_confirmed_at IS NOT NULL;
