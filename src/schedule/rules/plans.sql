-- Sweep rule (P7), before the accounts are summed up (it changes what is
-- dunnable): at the business day D of AS_OF, installments of active plans
-- not paid in full by due_on + grace_days (due_on + grace_days < D) are
-- missed (missed_at, like completed_at and defaulted_at, the real time:
-- arc_recorded_at); missed_count = installments missed and still
-- unpaid; a plan owing nothing (or paid to schedule) is completed, else one
-- at max_missed is defaulted; either way its invoices leave it,
-- so a defaulted plan's invoices are dunned in this same sweep.  Makes no
-- follow-ups.
--
-- Only the active plans with something to decide are read twice, locked
-- and written: first which (and which of them will end), then the locks in
-- the order payments take them - the invoices of the plans that will end
-- (they are written), then the plans - then the decisions on what the locks
-- return.  The invoices' events are appended here in one statement (each
-- invoice's in_plan flipped; nothing later in the sweep changes invoices),
-- so the deferred per-row invoice trigger finds them recorded already.
CREATE FUNCTION arc_rule_plans(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_plans bigint[];
  v_ending bigint[];
  v_invoices bigint[];
BEGIN
  SELECT array_agg(c.id ORDER BY c.id), array_agg(c.id ORDER BY c.id) FILTER (WHERE c.ends)
    INTO v_plans, v_ending
  FROM (SELECT p.id, p.missed_count, p.max_missed, m.due,
               p.paid_amount >= p.total OR p.missed_count + m.due >= p.max_missed
                 OR NOT EXISTS (SELECT 1 FROM invoices v
                                WHERE v.id = ANY (p.invoice_ids) AND v.status = 'open' AND v.balance > 0) AS ends
        FROM payment_plans p
        CROSS JOIN LATERAL (SELECT count(*)::integer AS due FROM payment_plan_installments i
                            WHERE i.plan_id = p.id AND i.status = 'pending'
                              AND i.due_on + p.grace_days < v_day) m
        WHERE p.status = 'active') c
  WHERE c.ends OR c.due > 0;
  IF v_plans IS NULL THEN
    RETURN;
  END IF;
  SELECT array_agg(DISTINCT u.id) INTO v_invoices
  FROM payment_plans p, unnest(p.invoice_ids) AS u(id)
  WHERE p.id = ANY (v_ending);
  PERFORM 1 FROM invoices v WHERE v.id = ANY (v_invoices) ORDER BY v.id FOR UPDATE;
  PERFORM 1 FROM payment_plans p WHERE p.id = ANY (v_plans) ORDER BY p.id FOR UPDATE;

  UPDATE payment_plan_installments i SET status = 'missed', missed_at = arc_recorded_at()
  FROM payment_plans p
  WHERE p.id = ANY (v_plans) AND p.status = 'active' AND i.plan_id = p.id
    AND i.status = 'pending' AND i.due_on + p.grace_days < v_day;

  WITH s AS (
    SELECT p.id,
           (SELECT count(*) FROM payment_plan_installments i WHERE i.plan_id = p.id AND i.status = 'missed')::integer
             AS missed,
           p.paid_amount >= p.total
             OR NOT EXISTS (SELECT 1 FROM invoices v
                            WHERE v.id = ANY (p.invoice_ids) AND v.status = 'open' AND v.balance > 0) AS settled
    FROM payment_plans p WHERE p.id = ANY (v_plans) AND p.status = 'active'),
  changed AS (
    UPDATE payment_plans p SET
      missed_count = s.missed,
      status = CASE WHEN s.settled THEN 'completed' WHEN s.missed >= p.max_missed THEN 'defaulted' ELSE 'active' END,
      completed_at = CASE WHEN s.settled THEN arc_recorded_at() ELSE p.completed_at END,
      defaulted_at = CASE WHEN NOT s.settled AND s.missed >= p.max_missed THEN arc_recorded_at() ELSE p.defaulted_at END
    FROM s
    WHERE p.id = s.id AND (p.missed_count <> s.missed OR s.settled OR s.missed >= p.max_missed)
    RETURNING p.id, p.status, p.invoice_ids),
  cleared AS (
    UPDATE invoices v SET plan_id = NULL
    FROM (SELECT x.id, unnest(x.invoice_ids) AS invoice_id FROM changed x WHERE x.status <> 'active') c
    WHERE v.id = c.invoice_id AND v.plan_id = c.id
    RETURNING v.id, v.customer_id, arc_invoice_json(v) AS doc)
  INSERT INTO events (type, resource_type, resource_id, customer_id, actor, request_id, data)
  SELECT 'invoice.updated', 'invoice', x.id::text, x.customer_id,
         coalesce(nullif(current_setting('arc.actor', true), ''), 'system'),
         nullif(current_setting('arc.request_id', true), ''), x.doc
  FROM cleared x
  ORDER BY x.id;
END
$$;
