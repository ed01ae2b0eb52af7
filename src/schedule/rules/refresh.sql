-- Rule 5: what the worklist shows of open (and snoozed) follow-ups follows
-- the account: the assignee is the customer's collector; amount_overdue and
-- currency are its dunnable overdue balance at AS_OF in its largest
-- currency (0 and no currency when none), overdue_since the due date of its
-- oldest dunnable invoice past due (every reason: it is the account's); invoice_ids are those overdue
-- invoices for the dunning reasons and the invoices still to be confirmed
-- for confirm_receipt; an overdue or retry follow-up shows the account's
-- pending promise (one that does not cover all of it: arc_promise_quiet).
-- Only rows that really change are written.
-- Not every follow-up is the collector's: an escalation follow-up is its
-- escalation's assignee's (a new assignee named on the escalation moves
-- it), and the amounts and invoices of escalation and installment_missed
-- follow-ups are kept by their own rules (escalation.sql,
-- installment_missed.sql).
-- The refresh also keeps the worklist order (src/schedule/follow_ups.sql):
-- priority, and preferred for the business day of AS_OF, which it records
-- in worklist_order — so the first sweep of a day moves the order to it.
-- A full sweep looks at every open follow-up; an incremental one at those
-- of the customers it revisits (arc_sweep_scope_ids), and on a new day also
-- at those of the customers whose contact days tell the two days apart
-- (every other follow-up is in the order of the last sweep's day, which
-- that sweep left right).
CREATE FUNCTION arc_rule_refresh(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off SET plan_cache_mode = force_custom_plan AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_scope bigint[] := arc_sweep_scope_ids();
  v_reorder bigint[] := v_scope;
  v_was date;
  v_ids bigint[];
  v_assignees text[];
  v_amounts bigint[];
  v_currencies text[];
  v_invoices text[];
  v_since date[];
  v_promises bigint[];
  v_order_ids bigint[];
  v_preferred boolean[];
  v_priorities smallint[];
BEGIN
  -- First, before customers are read: a change to a customer's contact
  -- days either committed before this (and is read below) or waits for
  -- the sweep's commit (arc_follow_ups_customer_days).
  SELECT w.preferred_on INTO v_was FROM worklist_order w;
  UPDATE worklist_order SET preferred_on = v_day;
  IF v_was IS NULL THEN
    v_reorder := NULL; -- the order is not kept (new code): every follow-up
  ELSIF v_scope IS NOT NULL AND v_was <> v_day THEN
    SELECT v_scope || coalesce(array_agg(c.id), '{}') INTO v_reorder
    FROM customers c
    WHERE arc_preferred_on(c, v_day) IS DISTINCT FROM arc_preferred_on(c, v_was);
  END IF;
  -- The rules before this one may have just written many follow-ups; with
  -- statistics that still say the table is small, the planner picks nested
  -- loops that take minutes.  Sampling is cheap next to that (and not
  -- needed after the few rows of an incremental sweep).
  IF v_scope IS NULL THEN
    ANALYZE follow_ups;
  END IF;
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  WITH r AS (
    SELECT x.customer_id, array_agg(x.invoice_id ORDER BY x.invoice_id) AS invoice_ids
    FROM arc_receipts_to_confirm(p_as_of) x
    WHERE (v_scope IS NULL OR x.customer_id = ANY (v_scope))
      AND x.customer_id IN (SELECT f.customer_id FROM follow_ups f
                            WHERE f.reason = 'confirm_receipt' AND f.status IN ('open', 'snoozed')
                              AND (v_scope IS NULL OR f.customer_id = ANY (v_scope)))
    GROUP BY x.customer_id),
  n AS (
    SELECT f.id, f.assignee, f.amount_overdue, f.currency, f.invoice_ids, f.overdue_since, f.promise_id,
           s.first_due AS new_since,
           CASE WHEN f.reason IN ('overdue', 'retry') THEN pp.promise_id ELSE f.promise_id END AS new_promise_id,
           -- A lookup for escalation follow-ups only: the rest need no join.
           CASE WHEN f.reason = 'escalation'
                THEN (SELECT e.assignee FROM escalations e WHERE e.id = f.escalation_id)
                ELSE c.collector END AS new_assignee,
           CASE WHEN f.reason IN ('escalation', 'installment_missed') THEN f.amount_overdue
                ELSE coalesce(s.amount, 0) END AS new_amount,
           CASE WHEN f.reason IN ('escalation', 'installment_missed') THEN f.currency
                ELSE s.currency END AS new_currency,
           CASE WHEN f.reason IN ('overdue', 'retry', 'promise_broken') THEN coalesce(s.invoice_ids, '{}')
                WHEN f.reason = 'confirm_receipt' THEN coalesce(r.invoice_ids, f.invoice_ids)
                ELSE f.invoice_ids END AS new_invoice_ids
    FROM follow_ups f
    JOIN customers c ON c.id = f.customer_id
    LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = f.customer_id
    LEFT JOIN r ON r.customer_id = f.customer_id
    LEFT JOIN arc_promise_pending(p_as_of) pp ON pp.customer_id = f.customer_id
    WHERE f.status IN ('open', 'snoozed') AND (v_scope IS NULL OR f.customer_id = ANY (v_scope)))
  SELECT array_agg(n.id), array_agg(n.new_assignee), array_agg(n.new_amount), array_agg(n.new_currency),
         array_agg(n.new_invoice_ids::text), array_agg(n.new_since), array_agg(n.new_promise_id)
  INTO v_ids, v_assignees, v_amounts, v_currencies, v_invoices, v_since, v_promises
  FROM n
  WHERE (n.assignee, n.amount_overdue, n.currency, n.invoice_ids, n.overdue_since, n.promise_id)
        IS DISTINCT FROM (n.new_assignee, n.new_amount, n.new_currency, n.new_invoice_ids, n.new_since,
                          n.new_promise_id);

  UPDATE follow_ups f SET assignee = u.assignee, amount_overdue = u.amount, currency = u.currency,
                          invoice_ids = u.invoice_ids::bigint[], overdue_since = u.since, promise_id = u.promise_id
  FROM unnest(v_ids, v_assignees, v_amounts, v_currencies, v_invoices, v_since, v_promises)
       AS u (id, assignee, amount, currency, invoice_ids, since, promise_id)
  WHERE f.id = u.id;

  SELECT array_agg(f.id), array_agg(o.preferred), array_agg(o.priority)
  INTO v_order_ids, v_preferred, v_priorities
  FROM follow_ups f
  JOIN customers c ON c.id = f.customer_id
  CROSS JOIN LATERAL (SELECT coalesce(arc_preferred_on(c, v_day), false) AS preferred,
                             arc_follow_up_priority(f.reason)::smallint AS priority) o
  WHERE f.status IN ('open', 'snoozed') AND (v_reorder IS NULL OR f.customer_id = ANY (v_reorder))
    AND (f.preferred, f.priority) IS DISTINCT FROM (o.preferred, o.priority);
  -- The order apart: a statement that sets only these makes no new version
  -- (follow_ups_touch).  On a day whose weekday changes what many
  -- customers prefer (Monday, Tuesday for commercial accounts' default),
  -- this rewrites their follow-ups.
  UPDATE follow_ups f SET preferred = u.preferred, priority = u.priority
  FROM unnest(v_order_ids, v_preferred, v_priorities) AS u (id, preferred, priority)
  WHERE f.id = u.id;
END
$$;
