-- The customers an incremental sweep revisits (issue 13; the kind is
-- arc_sweep_kind in sweep_changes.sql).  The last sweep left every account
-- as the rules would leave it; since then an account can only have moved
-- because something was written for it, something dated came within the
-- new instant, or one of its dates fell due.  The rules that read or write
-- per account run for these customers only (arc_sweep_scope_ids); the rules
-- whose work is bounded by what is pending anyway (plans, wake,
-- consumer_limits) run as in a full sweep: what plans and wake change in
-- this sweep falls on dates that put the customer in scope here, and
-- consumer_limits runs last, so no scoped rule reads what it changes.  A forced full
-- sweep after an incremental one must change nothing: the tests check that
-- after every sweep they make (ARC_TEST_SWEEPS, tests/http/harness.h).

-- The customers with something falling due in business days (D0, D1], the
-- days since the last sweep's day D0 (none when D1 = D0), at instant
-- P_AS_OF.  Each branch is the day a rule's condition flips, most of them
-- found through an index (the installments, the check-in customers and the
-- cadences in use are read whole: small tables, or one pass):
--   an open invoice falls overdue (due_on < day: the accounts, promise
--   quiet, the escalation's debt) and stops being one to confirm (due_on
--   >= day); the oldest dunnable one of an account reaches the management
--   or legal days of the ladder;
--   a receipt becomes one to confirm (issued_on + confirm_receipt_days);
--   a pending promise's grace ends (it breaks, or stops keeping quiet); a
--   promise broken on a later day than the last sweep's (by a payment's
--   evaluation, before a sweep replayed for an earlier day) counts;
--   an installment's grace ends (plans; installment_missed, also for one
--   missed already);
--   a snooze ends (wake);
--   a retry's cadence ends (the day of the last contact + cadence), or a
--   check-in's days (from the last contact, or the day the customer was
--   created);
--   a payment dated in the future arrives (thank_you, confirm_receipt).
-- The worklist's order (preferred days) moves with the weekday: on a new
-- day arc_rule_refresh also reorders the follow-ups of the customers whose
-- contact days tell the two days apart.
CREATE FUNCTION arc_sweep_falling_due(p_d0 date, p_d1 date, p_as_of timestamptz)
RETURNS TABLE (customer_id bigint)
LANGUAGE plpgsql STABLE SET jit = off SET plan_cache_mode = force_custom_plan AS
$$
DECLARE
  v_mgmt integer := arc_setting_int('escalate_management_days', 45);
  v_legal integer := arc_setting_int('escalate_legal_days', 90);
  v_confirm integer := arc_setting_int('confirm_receipt_days', 2);
  v_grace integer := arc_setting_int('promise_grace_days', 1);
  v_cadence integer := arc_setting_int('cadence_days', 3);
  v_days integer;
BEGIN
  IF p_d1 <= p_d0 THEN
    RETURN;
  END IF;
  -- Per cadence in use: the last contacts of its customers (a retry counts
  -- from the last one) whose day + cadence falls in the days, one index
  -- range of call_logs_occurred_idx each.
  FOR v_days IN SELECT DISTINCT coalesce(c.cadence_days, v_cadence) FROM customers c LOOP
    RETURN QUERY
    SELECT l.customer_id
    FROM call_logs l JOIN customers c ON c.id = l.customer_id
    WHERE l.occurred_at >= (p_d0 - v_days + 1)::timestamptz AND l.occurred_at < (p_d1 - v_days + 1)::timestamptz
      AND l.occurred_at <= p_as_of AND coalesce(c.cadence_days, v_cadence) = v_days
      AND NOT EXISTS (SELECT 1 FROM call_logs n
                      WHERE n.customer_id = l.customer_id AND n.occurred_at > l.occurred_at
                        AND n.occurred_at <= p_as_of);
  END LOOP;
  RETURN QUERY
  SELECT i.customer_id FROM invoices i
  WHERE i.status = 'open' AND i.due_on >= p_d0 AND i.due_on < p_d1
  UNION ALL
  -- The ladder counts days from the account's oldest dunnable invoice.
  SELECT i.customer_id FROM arc_dunnable_invoices(p_as_of) i
  WHERE ((i.due_on > p_d0 - v_mgmt AND i.due_on <= p_d1 - v_mgmt)
         OR (i.due_on > p_d0 - v_legal AND i.due_on <= p_d1 - v_legal))
    AND NOT EXISTS (SELECT 1 FROM arc_dunnable_invoices(p_as_of) o
                    WHERE o.customer_id = i.customer_id AND o.due_on < i.due_on)
  UNION ALL
  SELECT i.customer_id FROM invoices i
  WHERE i.status = 'open' AND NOT i.factored AND i.due_on >= p_d0
    AND i.issued_on > p_d0 - v_confirm AND i.issued_on <= p_d1 - v_confirm
  UNION ALL
  SELECT p.customer_id FROM promises p
  WHERE p.status = 'pending' AND p.promised_on >= p_d0 - v_grace AND p.promised_on < p_d1 - v_grace
  UNION ALL
  SELECT p.customer_id FROM promises p
  WHERE p.status = 'broken' AND p.broken_on > p_d0 AND p.broken_on <= p_d1
  UNION ALL
  SELECT p.customer_id FROM payment_plan_installments i JOIN payment_plans p ON p.id = i.plan_id
  WHERE i.status IN ('pending', 'missed') AND p.status = 'active'
    AND i.due_on + p.grace_days >= p_d0 AND i.due_on + p.grace_days < p_d1
  UNION ALL
  SELECT f.customer_id FROM follow_ups f
  WHERE f.status = 'snoozed' AND f.snoozed_until > p_d0 AND f.snoozed_until <= p_d1
  UNION ALL
  SELECT c.id FROM customers c
  LEFT JOIN LATERAL (SELECT arc_business_date(l.occurred_at) AS day FROM call_logs l
                     WHERE l.customer_id = c.id AND l.occurred_at <= p_as_of
                     ORDER BY l.occurred_at DESC LIMIT 1) last ON true
  WHERE c.check_in_days IS NOT NULL
    AND coalesce(last.day, arc_business_date(c.created_at)) + c.check_in_days > p_d0
    AND coalesce(last.day, arc_business_date(c.created_at)) + c.check_in_days <= p_d1
  UNION ALL
  SELECT p.customer_id FROM payments p
  WHERE p.status = 'received' AND p.received_on > p_d0 AND p.received_on <= p_d1;
END
$$;

-- Decides the scope of incremental run P_RUN from the last finished sweep:
-- the customers written since its snapshot, those with a call log or
-- receipt confirmation dated between the two instants, and those with
-- something falling due since its day.  Kept for the transaction (the
-- setting arc.sweep_scope, read by arc_sweep_scope_ids) and counted on the
-- run (revisited).
CREATE FUNCTION arc_sweep_scope(p_run bigint) RETURNS integer
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  r scheduler_runs;
  last scheduler_runs;
  v_ids bigint[];
BEGIN
  SELECT * INTO r FROM scheduler_runs x WHERE x.id = p_run;
  last := arc_sweep_last();
  SELECT coalesce(array_agg(DISTINCT s.customer_id), '{}') INTO v_ids
  FROM (SELECT w.customer_id FROM arc_sweep_written_since(last.seen) w
        UNION ALL
        SELECT d.customer_id FROM arc_sweep_dated_between(last.as_of, r.as_of) d
        UNION ALL
        SELECT f.customer_id FROM arc_sweep_falling_due(arc_business_date(last.as_of), arc_business_date(r.as_of), r.as_of) f
       ) s;
  PERFORM set_config('arc.sweep_scope', v_ids::text, true);
  UPDATE scheduler_runs x SET revisited = cardinality(v_ids) WHERE x.id = p_run;
  RETURN cardinality(v_ids);
END
$$;

-- The customers this transaction's sweep revisits, or NULL when it is a
-- full sweep (every customer).  Rules read it once into a variable and
-- filter with "v_scope IS NULL OR customer_id = ANY (v_scope)" under custom
-- plans (plan_cache_mode force_custom_plan), so that a full sweep's plan has
-- no filter at all and an incremental one's starts from the customers'
-- index entries.
CREATE FUNCTION arc_sweep_scope_ids() RETURNS bigint[]
LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('arc.sweep_scope', true), '')::bigint[] $$;
