-- Rule 4c (P3): repeat every cadence_days (per customer, else the default)
-- until paid: overdue accounts, not quiet, not asking us to stop, whose last
-- contact L (an unanswered attempt or a talk that ended without a promise)
-- was after they went overdue, once L's day + cadence has come.  The cause
-- is L: a new contact makes a new retry.
CREATE FUNCTION arc_rule_retry(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_cadence integer := arc_setting_int('cadence_days', 3);
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, promise_id, run_id, priority, preferred,
                            overdue_since)
    SELECT s.customer_id, 'retry', 'retry:' || s.last_call_log_id, s.last_day + coalesce(c.cadence_days, v_cadence),
           c.collector, s.amount, s.currency, s.invoice_ids, pp.promise_id, p_run,
           arc_follow_up_priority('retry'), coalesce(arc_preferred_on(c, v_day), false), s.first_due
    FROM pg_temp.arc_sweep_accounts s
    JOIN customers c ON c.id = s.customer_id
    LEFT JOIN arc_promise_pending(p_as_of) pp ON pp.customer_id = s.customer_id
    WHERE s.first_due IS NOT NULL
      AND s.last_day > s.first_due
      AND s.last_day + coalesce(c.cadence_days, v_cadence) <= v_day
      AND NOT c.cease_communication
      AND NOT EXISTS (SELECT 1 FROM arc_promise_quiet(p_as_of) q WHERE q.customer_id = s.customer_id)
    ORDER BY s.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'retry'::text, count(*)::integer, 0 FROM ins;
END
$$;
