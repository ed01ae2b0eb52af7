-- A sweep that revisits only the customers something happened to (issue
-- 13): kind 'incremental', and how many customers its rules revisited
-- (src/schedule/sweep_scope.sql); NULL for the other kinds.
ALTER TABLE scheduler_runs DROP CONSTRAINT scheduler_runs_kind_check;
ALTER TABLE scheduler_runs
  ADD CONSTRAINT scheduler_runs_kind_check CHECK (kind IN ('full', 'incremental', 'unchanged')),
  ADD COLUMN revisited integer;

-- A sweep's check for promises broken and installments missed at an
-- instant between two sweeps' (arc_sweep_dated_between): a payment's
-- evaluation records the instant it ran, which a sweep for an earlier
-- instant does not see yet.
CREATE INDEX promises_broken_idx ON promises (broken_at) WHERE status = 'broken';
CREATE INDEX payment_plan_installments_missed_at_idx ON payment_plan_installments (missed_at) WHERE status = 'missed';
