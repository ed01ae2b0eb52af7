-- A sweep that revisits only the customers something happened to (issue
-- 13): kind 'incremental', and how many customers its rules revisited
-- (src/schedule/sweep_scope.sql); NULL for the other kinds.
ALTER TABLE scheduler_runs DROP CONSTRAINT scheduler_runs_kind_check;
ALTER TABLE scheduler_runs
  ADD CONSTRAINT scheduler_runs_kind_check CHECK (kind IN ('full', 'incremental', 'unchanged')),
  ADD COLUMN revisited integer;

-- Broken promises by the day they broke (arc_promise_broken_on: the rules
-- and the incremental sweep's scope look them up by promised_on).
CREATE INDEX promises_broken_idx ON promises (promised_on) WHERE status = 'broken';
