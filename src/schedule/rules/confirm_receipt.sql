-- Rule 4a (P1): confirm receipt with customers that are new (no payment
-- received by the day) or have a history (a broken promise, or an invoice
-- paid in full after its due date).  One per customer over its invoices to
-- confirm, due when the first of them is.  Customers with one open already
-- are left out first: the payment history is the expensive part.
--
-- The history reads every allocation of the customers asked about, often
-- most of the book: hash joins, not an index probe per allocation, even
-- when the planner underestimates how many customers that is.
CREATE FUNCTION arc_rule_confirm_receipt(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off SET enable_nestloop = off
  SET plan_cache_mode = force_custom_plan AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_scope bigint[] := arc_sweep_scope_ids();
BEGIN
  -- Revisiting a few customers, index probes are what is cheap.
  IF v_scope IS NOT NULL THEN
    PERFORM set_config('enable_nestloop', 'on', true);
  END IF;
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH r AS (
    SELECT x.* FROM arc_receipts_to_confirm(p_as_of) x
    WHERE (v_scope IS NULL OR x.customer_id = ANY (v_scope))
      AND NOT EXISTS (SELECT 1 FROM follow_ups f
                      WHERE f.customer_id = x.customer_id AND f.reason = 'confirm_receipt'
                        AND f.status IN ('open', 'snoozed'))),
  -- Of the customers asked about: who paid anything by the day, and who
  -- paid an invoice in full after its due date.  One pass over their
  -- allocations.
  paid AS (
    SELECT a.customer_id, bool_or(i.status = 'paid' AND p.received_on > i.due_on) AS late
    FROM payment_allocations a
    JOIN payments p ON p.id = a.payment_id
    JOIN invoices i ON i.id = a.invoice_id
    WHERE a.reversed_at IS NULL AND p.received_on <= v_day
      AND a.customer_id IN (SELECT r.customer_id FROM r)
    GROUP BY a.customer_id),
  broke AS (
    SELECT DISTINCT pr.customer_id FROM promises pr
    WHERE pr.status = 'broken' AND pr.broken_on <= v_day
      AND pr.customer_id IN (SELECT r.customer_id FROM r)),
  ask AS (
    SELECT r.customer_id, min(r.invoice_id) AS first_id, min(r.due) AS due,
           array_agg(r.invoice_id ORDER BY r.invoice_id) AS invoice_ids
    FROM r
    LEFT JOIN paid ON paid.customer_id = r.customer_id
    LEFT JOIN broke ON broke.customer_id = r.customer_id
    WHERE paid.customer_id IS NULL OR paid.late OR broke.customer_id IS NOT NULL
    GROUP BY r.customer_id),
  ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, run_id, priority, preferred,
                            overdue_since)
    SELECT k.customer_id, 'confirm_receipt', 'receipt:' || k.first_id, k.due, c.collector,
           coalesce(s.amount, 0), s.currency, k.invoice_ids, p_run,
           arc_follow_up_priority('confirm_receipt'), coalesce(arc_preferred_on(c, v_day), false), s.first_due
    FROM ask k
    JOIN customers c ON c.id = k.customer_id
    LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = k.customer_id
    ORDER BY k.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'confirm_receipt'::text, count(*)::integer, 0 FROM ins;
END
$$;
