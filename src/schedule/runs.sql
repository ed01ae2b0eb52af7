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
    r.kind,
    r.revisited,
    arc_ts(r.started_at) AS started_at,
    arc_ts(r.finished_at) AS finished_at,
    arc_json_compact(r.created) AS created,
    arc_json_compact(r.closed) AS closed,
    r.actor) d);
END
$$;

-- A preview (POST /v1/scheduler/runs with "preview": true, or an as_of
-- while ARC_TIME_TRAVEL is off) is the sweep run and rolled back
-- (src/schedule/sweep.c).  Before its rules: the follow-ups open or
-- snoozed now, to tell afterwards which of them the sweep would move.
-- Dropped with the transaction, like everything the preview wrote.
CREATE FUNCTION arc_sweep_preview_begin() RETURNS void
LANGUAGE plpgsql AS
$$
BEGIN
  CREATE TEMPORARY TABLE arc_preview_before ON COMMIT DROP AS
  SELECT f.id, f.status, f.due_on, f.snoozed_until, f.assignee, f.amount_overdue, f.currency, f.invoice_ids
  FROM follow_ups f WHERE f.status IN ('open', 'snoozed');
END
$$;

-- After its rules: the preview's document.  CREATED and CLOSED are the
-- rules' own counts (as a run records them); moved counts the follow-ups
-- open before and after whose status (a snooze that ends), due date,
-- assignee, amount, currency or invoices would change; proposed counts the
-- escalation proposals the run would make or raise, by level (the level
-- proposed on an open escalation); follow_ups are the first P_LIMIT
-- follow-ups it would create, in worklist order for its business day.
CREATE FUNCTION arc_sweep_preview(p_run bigint, p_created json, p_closed json, p_limit integer)
RETURNS json
LANGUAGE plpgsql STABLE AS
$$
DECLARE
  v_as_of timestamptz := (SELECT r.as_of FROM scheduler_runs r WHERE r.id = p_run);
  v_day date := arc_business_date(v_as_of);
BEGIN
  RETURN json_build_object(
    'as_of', arc_ts(v_as_of),
    'preview', true,
    'created', p_created,
    'closed', p_closed,
    'moved', (SELECT coalesce(json_object_agg(m.reason, m.n ORDER BY m.reason), '{}')
              FROM (SELECT f.reason, count(*) AS n
                    FROM follow_ups f JOIN pg_temp.arc_preview_before b ON b.id = f.id
                    WHERE f.status IN ('open', 'snoozed')
                      AND (f.status, f.due_on, f.snoozed_until, f.assignee, f.amount_overdue, f.currency, f.invoice_ids)
                          IS DISTINCT FROM
                          (b.status, b.due_on, b.snoozed_until, b.assignee, b.amount_overdue, b.currency, b.invoice_ids)
                    GROUP BY f.reason) m),
    'proposed', (SELECT coalesce(json_object_agg(p.level, p.n ORDER BY arc_escalation_rank(p.level)), '{}')
                 FROM (SELECT CASE e.status WHEN 'open' THEN e.proposed_level ELSE e.level END AS level,
                              count(*) AS n
                       FROM escalations e
                       WHERE e.run_id = p_run AND e.status IN ('proposed', 'open')
                       GROUP BY 1) p
                 WHERE p.level IS NOT NULL),
    'follow_ups', (SELECT coalesce(json_agg(row_to_json(d) ORDER BY x.k1, x.k2, x.k3, x.k4, x.k5), '[]')
                   FROM (SELECT f, c, -f.amount_overdue AS k1, NOT arc_preferred_on(c, v_day) AS k2,
                                arc_follow_up_priority(f.reason) AS k3, f.due_on AS k4, f.id AS k5
                         FROM follow_ups f JOIN customers c ON c.id = f.customer_id
                         WHERE f.run_id = p_run
                         ORDER BY 3, 4, 5, 6, 7 LIMIT p_limit) x
                   CROSS JOIN LATERAL arc_follow_up_fields(x.f, x.c, v_day) d));
END
$$;
