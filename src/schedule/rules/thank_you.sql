-- Rule 4f (P11): thank the people who got us paid: payments received in
-- the last 7 days (not reversed) on an invoice that had collection activity
-- (a call log naming it, or naming no invoice) in the 60 days up to the
-- payment.  The latest such payment per customer; due the day it came.
-- Not for handed-off accounts.
CREATE FUNCTION arc_rule_thank_you(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off SET plan_cache_mode = force_custom_plan AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_scope bigint[] := arc_sweep_scope_ids();
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH p AS (
    SELECT DISTINCT ON (x.customer_id) x.customer_id, x.id, x.received_on
    FROM payments x
    WHERE x.status = 'received' AND x.received_on BETWEEN v_day - 7 AND v_day
      AND (v_scope IS NULL OR x.customer_id = ANY (v_scope))
      AND EXISTS (SELECT 1
                  FROM payment_allocations a
                  JOIN call_logs l ON l.customer_id = x.customer_id
                                  AND (l.invoice_ids = '{}' OR a.invoice_id = ANY (l.invoice_ids))
                  WHERE a.payment_id = x.id AND a.reversed_at IS NULL
                    AND l.occurred_at <= p_as_of
                    AND arc_business_date(l.occurred_at) BETWEEN x.received_on - 60 AND x.received_on)
    ORDER BY x.customer_id, x.received_on DESC, x.id DESC),
  ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, payment_id, run_id, priority, preferred,
                            overdue_since)
    SELECT p.customer_id, 'thank_you', 'payment:' || p.id, p.received_on, c.collector,
           coalesce(s.amount, 0), s.currency,
           ARRAY(SELECT a.invoice_id FROM payment_allocations a
                 WHERE a.payment_id = p.id AND a.reversed_at IS NULL ORDER BY a.id),
           p.id, p_run, arc_follow_up_priority('thank_you'), coalesce(arc_preferred_on(c, v_day), false), s.first_due
    FROM p
    JOIN customers c ON c.id = p.customer_id
    LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = p.customer_id
    WHERE NOT c.cease_communication
      AND p.customer_id NOT IN (SELECT h.customer_id FROM arc_handed_off_customers() h)
    ORDER BY p.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'thank_you'::text, count(*)::integer, 0 FROM ins;
END
$$;
