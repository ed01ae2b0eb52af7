-- Sweep rule (P7): one installment_missed follow-up per customer whose
-- active plan has a missed, unpaid installment, for the first of them
-- (cause installment:<id>), due the first day it counted as missed
-- (due_on + grace_days + 1, the day after the last day it could be paid),
-- with what the missed installments lack as amount_overdue in the plan's
-- currency and the plan's invoices; not for customers who asked us to stop
-- (a contact reason) or who are handed off.  Its own open or snoozed ones
-- whose cause is gone (the installment paid, the plan no longer active, the
-- customer handed off) close first, releasing the cause (a
-- bounced payment that un-pays the installment makes a new one); the ones
-- that stay get their amounts, currency and invoices brought up to date.
CREATE FUNCTION arc_rule_installment_missed(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off SET plan_cache_mode = force_custom_plan AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_scope bigint[] := arc_sweep_scope_ids();
  v_gone bigint[];
  v_closed integer;
  v_created integer;
BEGIN
  SELECT array_agg(f.id) INTO v_gone
  FROM follow_ups f
  LEFT JOIN (payment_plan_installments i JOIN payment_plans p ON p.id = i.plan_id AND p.status = 'active')
    ON i.id = f.installment_id AND i.status = 'missed' AND i.due_on + p.grace_days < v_day
  WHERE f.reason = 'installment_missed' AND f.status IN ('open', 'snoozed')
    AND (v_scope IS NULL OR f.customer_id = ANY (v_scope))
    AND (i.id IS NULL OR f.customer_id IN (SELECT h.customer_id FROM arc_handed_off_customers() h));
  WITH done AS (
    UPDATE follow_ups f SET
      status = 'done', snoozed_until = NULL,
      closed_reason = 'cause_gone', closed_at = arc_recorded_at(), closed_by = NULL,
      cause_key = f.cause_key || ' (closed as ' || f.id || ')'
    WHERE f.id = ANY (v_gone)
    RETURNING 1)
  SELECT count(*)::integer INTO v_closed FROM done;

  WITH ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, plan_id, installment_id, run_id, priority, preferred)
    SELECT m.customer_id, 'installment_missed', 'installment:' || m.first_id, m.follow_up_due, c.collector,
           m.unpaid, m.currency, m.invoice_ids, m.plan_id, m.first_id, p_run,
           arc_follow_up_priority('installment_missed'), coalesce(arc_preferred_on(c, v_day), false)
    FROM arc_missed_installments(p_as_of) m
    JOIN customers c ON c.id = m.customer_id
    WHERE NOT c.cease_communication AND (v_scope IS NULL OR m.customer_id = ANY (v_scope))
      AND m.customer_id NOT IN (SELECT h.customer_id FROM arc_handed_off_customers() h)
    ORDER BY m.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT count(*)::integer INTO v_created FROM ins;

  UPDATE follow_ups f SET amount_overdue = m.unpaid, currency = m.currency, invoice_ids = m.invoice_ids
  FROM arc_missed_installments(p_as_of) m
  WHERE f.customer_id = m.customer_id AND f.reason = 'installment_missed' AND f.status IN ('open', 'snoozed')
    AND (v_scope IS NULL OR m.customer_id = ANY (v_scope))
    AND (f.amount_overdue, f.currency, f.invoice_ids) IS DISTINCT FROM (m.unpaid, m.currency, m.invoice_ids);

  IF v_created > 0 OR v_closed > 0 THEN
    RETURN QUERY SELECT 'installment_missed'::text, v_created, v_closed;
  END IF;
END
$$;
