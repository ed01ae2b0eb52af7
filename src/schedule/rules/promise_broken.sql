-- Rule 4d (P5): a broken promise is followed up at once: promises broken by
-- the business day of AS_OF (broken_on: the day of the evaluation that found
-- it broken, a sweep's or a payment's) with no contact since that day, of
-- customers still overdue (what the close rule asks) who have not asked us
-- to stop.  The latest one per customer; due the day it broke.
CREATE FUNCTION arc_rule_promise_broken(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off SET plan_cache_mode = force_custom_plan AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_scope bigint[] := arc_sweep_scope_ids();
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH b AS (
    SELECT DISTINCT ON (pr.customer_id) pr.customer_id, pr.id, pr.broken_on
    FROM promises pr
    WHERE pr.status = 'broken' AND pr.broken_on <= v_day
      AND (v_scope IS NULL OR pr.customer_id = ANY (v_scope))
    ORDER BY pr.customer_id, pr.broken_on DESC, pr.id DESC),
  ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, promise_id, run_id, priority, preferred,
                            overdue_since)
    SELECT b.customer_id, 'promise_broken', 'promise:' || b.id, b.broken_on,
           c.collector, s.amount, s.currency, s.invoice_ids, b.id, p_run,
           arc_follow_up_priority('promise_broken'), coalesce(arc_preferred_on(c, v_day), false), s.first_due
    FROM b
    JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = b.customer_id
    JOIN customers c ON c.id = b.customer_id
    WHERE s.first_due IS NOT NULL
      AND NOT c.cease_communication
      -- No contact since it broke: the last contact is from before that day (or none).
      AND (s.last_day IS NULL OR s.last_day < b.broken_on)
    ORDER BY b.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'promise_broken'::text, count(*)::integer, 0 FROM ins;
END
$$;
