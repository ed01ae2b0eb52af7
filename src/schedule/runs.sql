-- Scheduler runs as the API shows them (SPEC §2, §4).  The table is in
-- migrations/0007_scheduler_runs.sql; the sweep that fills it is src/schedule/sweep.c.

-- A run never changes once finished, so lists and ETags need no version.
CREATE FUNCTION arc_scheduler_run_json(r scheduler_runs) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM (SELECT
    r.id::text AS id,
    arc_ts(r.as_of) AS as_of,
    r.trigger,
    arc_ts(r.started_at) AS started_at,
    arc_ts(r.finished_at) AS finished_at,
    arc_json_compact(r.created) AS created,
    arc_json_compact(r.closed) AS closed,
    r.actor) d);
END
$$;
