-- Scheduler runs (SPEC §2, §4): one row per sweep, with what it made and
-- closed.  The sweep that fills it is src/schedule/sweep.c.

CREATE TABLE scheduler_runs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  as_of       timestamptz NOT NULL,
  trigger     text NOT NULL CHECK (trigger IN ('scheduler', 'api')),
  started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz,
  created     jsonb NOT NULL DEFAULT '{}',
  closed      jsonb NOT NULL DEFAULT '{}',
  actor       text
);
CREATE INDEX scheduler_runs_as_of_idx ON scheduler_runs (as_of);
