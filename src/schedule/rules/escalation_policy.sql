-- Sweep rule (P8), after the plans rule and before any follow-up rule:
--
-- 1. Settles escalations whose account no longer owes what they are about
--    (arc_escalation_owed: invoices' balances, not the dunnable view, in
--    which handed-off accounts owe nothing): an open one is resolved
--    `paid` (`written_off` when none of its invoices was paid and one was
--    written off), a proposed one cancelled; closed_by 'system', closed_at
--    the real time.  Handed-off ones first, so that the accounts built next see
--    their invoices as dunnable again (routine dunning resumes in this
--    sweep); for the others the accounts already say that most of them
--    still owe (an overdue invoice of theirs), and only the rest is looked
--    up.
-- 2. The policy level of every overdue account (days from the oldest
--    dunnable due date; unsuccessful attempts since the last successful
--    contact, counted in one pass over the call logs of the accounts that
--    could only reach sales: overdue for less than the management days,
--    with no escalation under way and none closed by a manager in this
--    episode).
-- 3. The ladder (P8: sales, then management, then legal): the policy
--    level says how far an account may go, and a proposal is only ever the
--    next rung above where the account stands, so that what a manager is
--    asked is what can be acted on now.  Where it stands: with no
--    escalation under way, the highest level a manager closed (cancelled,
--    or resolved with the account still overdue) in this overdue episode
--    (proposed after the oldest due date), none at first; with one open,
--    its level or a level proposed to it and declined, whichever is
--    higher (a manager who opened legal by hand has skipped the rungs
--    below).  No escalation under way and the policy above that: a
--    proposal at the next rung.  One open: the next rung is proposed to it
--    (proposed_level) unless it is proposed already.  A proposal waits at
--    its rung for a manager's decision: it is not raised while the policy
--    rises; once it is opened or cancelled, the next rung follows.
-- An incremental sweep (arc_sweep_scope_ids) decides for the customers it
-- revisits only: the accounts are built for them alone.
-- Every update is guarded by the version the sweep read: a row a manager
-- changed meanwhile (the sweep takes no row locks before deciding) is
-- left as the manager left it, and looked at again by the next sweep.
-- Proposals are events, not follow-ups: no rows returned.
CREATE FUNCTION arc_rule_escalation_policy(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off SET plan_cache_mode = force_custom_plan AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_scope bigint[] := arc_sweep_scope_ids();
  v_sales integer := arc_setting_int('escalate_sales_attempts', 5);
  v_mgmt integer := arc_setting_int('escalate_management_days', 45);
  v_legal integer := arc_setting_int('escalate_legal_days', 90);
  v_changed bigint;
BEGIN
  -- 1a. Handed-off accounts, before the accounts are built.
  UPDATE escalations e SET
    status = CASE e.status WHEN 'open' THEN 'resolved' ELSE 'cancelled' END,
    outcome = CASE WHEN e.status <> 'open' THEN NULL
                   WHEN NOT w.any_paid AND w.any_written_off THEN 'written_off' ELSE 'paid' END,
    outcome_notes = 'closed by the scheduler: nothing is owed on its invoices any more',
    proposed_level = NULL, closed_at = arc_recorded_at(), closed_by = 'system'
  FROM escalations x
  CROSS JOIN LATERAL arc_escalation_owed(x, v_day) w
  WHERE e.id = x.id AND e.version = x.version
    AND x.status = 'open' AND x.level IN ('legal', 'agency') AND NOT w.owes
    AND (v_scope IS NULL OR x.customer_id = ANY (v_scope));

  PERFORM arc_sweep_accounts(p_as_of, p_run);

  -- 1b. The others that the accounts do not show owing.
  UPDATE escalations e SET
    status = CASE e.status WHEN 'open' THEN 'resolved' ELSE 'cancelled' END,
    outcome = CASE WHEN e.status <> 'open' THEN NULL
                   WHEN NOT w.any_paid AND w.any_written_off THEN 'written_off' ELSE 'paid' END,
    outcome_notes = 'closed by the scheduler: nothing is owed on its invoices any more',
    proposed_level = NULL, closed_at = arc_recorded_at(), closed_by = 'system'
  FROM escalations x
  CROSS JOIN LATERAL arc_escalation_owed(x, v_day) w
  WHERE e.id = x.id AND e.version = x.version AND x.status IN ('proposed', 'open')
    AND NOT (x.status = 'open' AND x.level IN ('legal', 'agency'))
    AND (v_scope IS NULL OR x.customer_id = ANY (v_scope))
    AND NOT EXISTS (SELECT 1 FROM pg_temp.arc_sweep_accounts s
                    WHERE s.customer_id = x.customer_id AND s.first_due IS NOT NULL
                      AND (x.invoice_ids = '{}' OR x.invoice_ids && s.invoice_ids))
    AND NOT w.owes;

  -- 2 and 3.
  WITH acc AS (
    SELECT s.customer_id, s.first_due, v_day - s.first_due AS days, s.invoice_ids
    FROM pg_temp.arc_sweep_accounts s
    WHERE s.first_due IS NOT NULL),
  cur AS (
    SELECT e.id, e.version, e.customer_id, e.status, e.level, e.proposed_level, e.declined_level
    FROM escalations e WHERE e.status IN ('proposed', 'open')),
  -- The highest level a manager closed (cancelled, or resolved while the
  -- account stayed overdue) in this overdue episode.
  -- proposed_at is real time; the business day of a policy's proposal is
  -- that of its run's as_of (the same day but in a replay; a climb's run,
  -- once one was proposed to it, which is later in the same episode).
  refused AS (
    SELECT e.customer_id, max(arc_escalation_rank(e.level)) AS rank
    FROM escalations e
    JOIN acc a ON a.customer_id = e.customer_id
    LEFT JOIN scheduler_runs r ON r.id = e.run_id
    WHERE e.status IN ('cancelled', 'resolved') AND e.closed_by IS DISTINCT FROM 'system'
      AND arc_business_date(coalesce(r.as_of, e.proposed_at)) > a.first_due
    GROUP BY e.customer_id),
  -- Accounts where only the attempts can decide.
  cand AS (
    SELECT a.customer_id FROM acc a
    WHERE a.days < v_mgmt
      AND NOT EXISTS (SELECT 1 FROM cur WHERE cur.customer_id = a.customer_id)
      AND NOT EXISTS (SELECT 1 FROM refused r WHERE r.customer_id = a.customer_id)),
  -- Every call log is a successful contact or an unsuccessful outbound
  -- attempt; the attempts since the last success are the logs newer than
  -- the newest successful one.
  tries AS (
    SELECT t.customer_id, count(*) FILTER (WHERE NOT t.reached) AS attempts, bool_or(t.reached) AS ever_reached
    FROM (SELECT l.customer_id,
                 bool_or(l.successful) OVER (PARTITION BY l.customer_id
                                             ORDER BY l.occurred_at DESC, l.id DESC) AS reached
          FROM call_logs l
          WHERE l.customer_id IN (SELECT cand.customer_id FROM cand) AND l.occurred_at <= p_as_of) AS t
    GROUP BY t.customer_id
    HAVING count(*) FILTER (WHERE NOT t.reached) >= v_sales),
  pol AS (
    SELECT a.customer_id, a.invoice_ids, p.level, arc_escalation_rank(p.level) AS rank,
           CASE WHEN p.level = 'sales'
                THEN t.attempts || ' unsuccessful attempts '
                     || CASE WHEN t.ever_reached THEN 'since the last successful contact'
                             ELSE 'and no successful contact yet' END
                ELSE a.days || ' days overdue' END AS reason
    FROM acc a
    LEFT JOIN tries t ON t.customer_id = a.customer_id
    CROSS JOIN LATERAL (SELECT CASE WHEN a.days >= v_legal THEN 'legal'
                                    WHEN a.days >= v_mgmt THEN 'management'
                                    WHEN t.customer_id IS NOT NULL THEN 'sales' END AS level) AS p
    WHERE p.level IS NOT NULL),
  -- Each account's policy beside its escalation under way and the rung it
  -- stands on, joined once; then only the rows that change are joined
  -- further and written.
  pc AS MATERIALIZED (
    SELECT p.customer_id, p.invoice_ids, p.reason, cur.id, cur.version, cur.status, n.rank,
           (ARRAY['sales', 'management', 'legal', 'agency'])[n.rank] AS level,
           arc_escalation_rank(cur.proposed_level) AS proposed_rank
    FROM pol p
    LEFT JOIN cur ON cur.customer_id = p.customer_id
    LEFT JOIN refused r ON r.customer_id = p.customer_id
    CROSS JOIN LATERAL (SELECT CASE WHEN cur.id IS NULL THEN coalesce(r.rank, 0)
                                    ELSE greatest(arc_escalation_rank(cur.level),
                                                  arc_escalation_rank(cur.declined_level)) END AS rank) AS b
    CROSS JOIN LATERAL (SELECT least(p.rank, b.rank + 1) AS rank) AS n
    WHERE p.rank > b.rank),
  proposed AS (
    INSERT INTO escalations (customer_id, invoice_ids, level, reason, assignee, status, proposed_by, proposed_at,
                             run_id)
    SELECT p.customer_id, p.invoice_ids, p.level, p.reason, arc_escalation_assignee(c, p.level), 'proposed',
           'policy', arc_recorded_at(), p_run
    FROM pc p
    JOIN customers c ON c.id = p.customer_id
    WHERE p.id IS NULL
    ORDER BY p.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1),
  climbs AS (
    UPDATE escalations e SET proposed_level = p.level, run_id = p_run
    FROM pc p
    WHERE p.status = 'open' AND p.rank > p.proposed_rank
      AND e.id = p.id AND e.version = p.version
    RETURNING 1)
  SELECT (SELECT count(*) FROM proposed) + (SELECT count(*) FROM climbs)
  INTO v_changed;
END
$$;
