-- Rule 4e (P6): an open dispute is worked internally (also for customers
-- who asked us to stop calling): one per customer, for its oldest open
-- dispute, due the day that dispute was opened.
CREATE FUNCTION arc_rule_resolve_dispute(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off SET plan_cache_mode = force_custom_plan AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_scope bigint[] := arc_sweep_scope_ids();
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH d AS (
    SELECT DISTINCT ON (x.customer_id) x.customer_id, x.id, x.invoice_id, x.created_at
    FROM disputes x
    WHERE x.status = 'open' AND (v_scope IS NULL OR x.customer_id = ANY (v_scope))
    ORDER BY x.customer_id, x.created_at, x.id),
  ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, dispute_id, run_id, priority, preferred,
                            overdue_since)
    SELECT d.customer_id, 'resolve_dispute', 'dispute:' || d.id, arc_business_date(d.created_at),
           c.collector, coalesce(s.amount, 0), s.currency, ARRAY[d.invoice_id], d.id, p_run,
           arc_follow_up_priority('resolve_dispute'), coalesce(arc_preferred_on(c, v_day), false), s.first_due
    FROM d
    JOIN customers c ON c.id = d.customer_id
    LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = d.customer_id
    ORDER BY d.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'resolve_dispute'::text, count(*)::integer, 0 FROM ins;
END
$$;
