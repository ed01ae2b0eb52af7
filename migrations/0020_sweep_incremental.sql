-- A sweep that revisits only the customers something happened to (issue
-- 13): kind 'incremental', and how many customers its rules revisited
-- (src/schedule/sweep_scope.sql); NULL for the other kinds.
ALTER TABLE scheduler_runs DROP CONSTRAINT scheduler_runs_kind_check;
ALTER TABLE scheduler_runs
  ADD CONSTRAINT scheduler_runs_kind_check CHECK (kind IN ('full', 'incremental', 'unchanged')),
  ADD COLUMN revisited integer;
