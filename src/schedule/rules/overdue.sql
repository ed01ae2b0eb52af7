-- Rule 4b (P2): call as soon as an account is overdue: customers with
-- dunnable invoices past due, not kept quiet by a promise, not asking us to
-- stop, and not contacted since the account went overdue (the day after
-- its oldest due date).  Due that day.
CREATE FUNCTION arc_rule_overdue(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, promise_id, run_id, priority, preferred,
                            overdue_since)
    SELECT s.customer_id, 'overdue', 'overdue:' || to_char(s.first_due, 'YYYY-MM-DD'), s.first_due + 1,
           c.collector, s.amount, s.currency, s.invoice_ids, pp.promise_id, p_run,
           arc_follow_up_priority('overdue'), coalesce(arc_preferred_on(c, v_day), false), s.first_due
    FROM pg_temp.arc_sweep_accounts s
    JOIN customers c ON c.id = s.customer_id
    LEFT JOIN arc_promise_pending(p_as_of) pp ON pp.customer_id = s.customer_id
    WHERE s.first_due IS NOT NULL
      AND (s.last_day IS NULL OR s.last_day <= s.first_due)
      AND NOT c.cease_communication
      AND NOT EXISTS (SELECT 1 FROM arc_promise_quiet(p_as_of) q WHERE q.customer_id = s.customer_id)
    ORDER BY s.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'overdue'::text, count(*)::integer, 0 FROM ins;
END
$$;
