-- Rule 4g (P12): check in with customers that asked for it (check_in_days)
-- when nothing is overdue, no promise keeps them quiet, and the last
-- contact (or, with none, the day they became a customer) is check_in_days
-- old.  The cause is that day: a new contact moves the next check-in.
-- Not for handed-off accounts (which have no dunnable overdue balance, so
-- the rule would otherwise take them for accounts owing nothing).
CREATE FUNCTION arc_rule_check_in(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off SET plan_cache_mode = force_custom_plan AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_scope bigint[] := arc_sweep_scope_ids();
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH k AS (
    SELECT c.id AS customer_id, c.collector, coalesce(arc_preferred_on(c, v_day), false) AS preferred,
           coalesce(s.last_day, arc_business_date(c.created_at)) + c.check_in_days AS due
    FROM customers c
    LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = c.id
    WHERE c.check_in_days IS NOT NULL AND NOT c.cease_communication
      AND (v_scope IS NULL OR c.id = ANY (v_scope))
      AND s.first_due IS NULL
      AND c.id NOT IN (SELECT h.customer_id FROM arc_handed_off_customers() h)
      AND NOT EXISTS (SELECT 1 FROM arc_promise_quiet(p_as_of) q WHERE q.customer_id = c.id)),
  ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, run_id, priority, preferred)
    SELECT k.customer_id, 'check_in', 'check_in:' || to_char(k.due, 'YYYY-MM-DD'), k.due, k.collector, p_run,
           arc_follow_up_priority('check_in'), k.preferred
    FROM k
    WHERE k.due <= v_day
    ORDER BY k.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'check_in'::text, count(*)::integer, 0 FROM ins;
END
$$;
