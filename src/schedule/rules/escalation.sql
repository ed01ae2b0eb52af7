-- Sweep rule (P8): an open escalation is worked by its assignee through an
-- `escalation` follow-up, due the business day it was opened at its level;
-- the cause is the escalation at that level, so a climb makes a new one
-- for the new level's assignee in the same sweep, and the old one closes
-- (cause_gone) like one whose escalation was resolved or
-- cancelled.  Internal work: a call log does not close it and a
-- cease-communication request does not stop it, and it continues while the
-- account is handed off.  amount_overdue/currency are the customer's
-- largest open, past-due balance (from the invoices: a handed-off account
-- has no dunnable balance); they and invoice_ids (the escalation's) are
-- kept current here, not by the refresh rule.
CREATE FUNCTION arc_rule_escalation(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off SET plan_cache_mode = force_custom_plan AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_scope bigint[] := arc_sweep_scope_ids();
  v_closed integer;
  v_created integer;
BEGIN
  WITH gone AS (
    UPDATE follow_ups f SET
      status = 'done', snoozed_until = NULL, closed_reason = 'cause_gone', closed_at = arc_recorded_at(), closed_by = NULL
    WHERE f.reason = 'escalation' AND f.status IN ('open', 'snoozed')
      AND (v_scope IS NULL OR f.customer_id = ANY (v_scope))
      AND NOT EXISTS (SELECT 1 FROM escalations e
                      WHERE e.id = f.escalation_id AND e.status = 'open'
                        AND f.cause_key = 'escalation:' || e.id || ':' || e.level)
    RETURNING 1)
  SELECT count(*) INTO v_closed FROM gone;

  WITH esc AS (
    SELECT e.* FROM escalations e
    WHERE e.status = 'open' AND (v_scope IS NULL OR e.customer_id = ANY (v_scope))),
  owed AS (
    SELECT DISTINCT ON (g.customer_id) g.customer_id, g.amount, g.currency
    FROM (SELECT i.customer_id, i.currency, sum(i.balance)::bigint AS amount
          FROM invoices i
          WHERE i.customer_id IN (SELECT esc.customer_id FROM esc)
            AND i.status = 'open' AND i.balance > 0 AND i.due_on < v_day AND NOT i.factored
          GROUP BY i.customer_id, i.currency) AS g
    ORDER BY g.customer_id, g.amount DESC, g.currency),
  kept AS (
    UPDATE follow_ups f SET amount_overdue = coalesce(o.amount, 0), currency = o.currency,
                            invoice_ids = e.invoice_ids
    FROM esc e
    LEFT JOIN owed o ON o.customer_id = e.customer_id
    WHERE f.escalation_id = e.id AND f.reason = 'escalation' AND f.status IN ('open', 'snoozed')
      AND (f.amount_overdue, f.currency, f.invoice_ids)
          IS DISTINCT FROM (coalesce(o.amount, 0), o.currency, e.invoice_ids)
    RETURNING 1),
  ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, escalation_id, run_id)
    SELECT e.customer_id, 'escalation', 'escalation:' || e.id || ':' || e.level,
           arc_business_date(arc_escalation_level_since(e)), e.assignee, coalesce(o.amount, 0), o.currency,
           e.invoice_ids, e.id, p_run
    FROM esc e
    LEFT JOIN owed o ON o.customer_id = e.customer_id
    ORDER BY e.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT count(*) INTO v_created FROM ins;

  RETURN QUERY SELECT 'escalation'::text, v_created, v_closed WHERE v_created + v_closed > 0;
END
$$;
