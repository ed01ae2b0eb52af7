-- Payment plans (SPEC P7): making one, filling its installments as money
-- comes in, the sweep's missed / defaulted / completed decisions, the
-- installment_missed follow-up, events, the invoice's in_plan and the call
-- sheet's plan.  The tables are in migrations/0005_plans_escalations.sql.
--
-- Filling.  What counts toward a plan is the money allocated to its
-- invoices by payments recorded after the plan was made (allocations not
-- reversed): it fills the installments in order, installment k holding
-- clamp(paid - amounts of 1..k-1, 0, its amount).  Credits and write-offs
-- lower what is owed but fill nothing.
--
-- Settled.  A plan is done when its invoices owe nothing any more, or when
-- its schedule is paid in full (what is still owed then came from outside
-- the arrangement - a debit, or a payment from before the plan that
-- bounced - and goes back to normal dunning).  An active plan that is
-- settled is completed; a completed one that no longer is (a bounced check
-- un-filled it and the invoices owe again) is active again, unless the
-- customer has made another plan since.  Defaulted and cancelled plans are
-- history: their installments stay as they were when the plan ended.
--
-- Who decides what.  Money moves fill and settle plans at once, in the
-- transaction that moved it (a deferred trigger on invoices, so the plan is
-- judged on the transaction's final state: a payment inserts its
-- allocations before it lowers the balances, a reversal raises the balances
-- before it marks the allocations).  Time decides the rest, in the sweep,
-- from as_of alone: an installment not paid in full by due_on + grace_days
-- is missed; max_missed installments missed and unpaid at once default the
-- plan.  A missed installment paid later is paid and keeps missed_at
-- (caught up).
--
-- Lock order, everywhere: the covered invoices (id order), then the plan
-- (then, to make or reopen a plan, the customer).  Payments and reversals
-- hold their invoices and take the plan at commit; the sweep and a
-- cancellation take the invoices first for the same reason.

CREATE FUNCTION arc_payment_plan_json(p payment_plans) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM (SELECT
    p.id::text AS id,
    p.customer_id::text AS customer_id,
    coalesce(p.invoice_ids::text[], '{}') AS invoice_ids,
    p.currency,
    p.total,
    p.paid_amount,
    p.total - p.paid_amount AS remaining,
    -- What the covered invoices owe now (credits and debits included).
    (SELECT coalesce(sum(v.balance), 0)::bigint FROM invoices v
     WHERE v.id = ANY (p.invoice_ids) AND v.status = 'open') AS balance,
    p.frequency,
    p.grace_days,
    p.max_missed,
    p.status,
    p.missed_count,
    CASE WHEN p.status = 'active' THEN
      (SELECT min(i.due_on) FROM payment_plan_installments i
       WHERE i.plan_id = p.id AND i.status <> 'paid') END AS next_due_on,
    array_to_json(ARRAY(
      SELECT row_to_json(x) FROM (SELECT i.id::text AS id, i.seq, i.due_on, i.amount, i.paid_amount, i.status,
                                         arc_ts(i.missed_at) AS missed_at, arc_ts(i.paid_at) AS paid_at
                                  FROM payment_plan_installments i WHERE i.plan_id = p.id ORDER BY i.seq) x))
      AS installments,
    p.notes,
    p.created_by,
    arc_ts(p.completed_at) AS completed_at,
    arc_ts(p.defaulted_at) AS defaulted_at,
    arc_ts(p.cancelled_at) AS cancelled_at,
    p.cancelled_by,
    p.cancel_reason,
    p.version,
    arc_ts(p.created_at) AS created_at,
    arc_ts(p.updated_at) AS updated_at) d);
END
$$;

-- Events of plans, one INSERT per statement (a sweep that changes many
-- plans runs it once): payment_plan.<status> when the status moved
-- (active again: payment_plan.reopened), payment_plan.installment_missed
-- when more installments are missed than before, else
-- payment_plan.updated (paid amounts, a catch-up, notes).  Updates that
-- changed nothing (the version stayed) record nothing.  The document is
-- the plan as the statement left it: writers change installments first and
-- the plan row last.  payment_plan.created is appended by
-- arc_payment_plan_create once the installments exist.
CREATE FUNCTION arc_payment_plans_emit() RETURNS trigger
LANGUAGE plpgsql AS
$$
BEGIN
  -- Statements that changed no row fire it too: nothing to plan then.
  IF NOT EXISTS (SELECT 1 FROM new_rows) THEN
    RETURN NULL;
  END IF;
  -- EXECUTE: planned for this transition table, not the first one seen.
  EXECUTE $q$
    INSERT INTO events (type, resource_type, resource_id, customer_id, actor, request_id, data)
    SELECT CASE WHEN n.status <> o.status
                THEN CASE n.status WHEN 'active' THEN 'payment_plan.reopened' ELSE 'payment_plan.' || n.status END
                WHEN n.missed_count > o.missed_count THEN 'payment_plan.installment_missed'
                ELSE 'payment_plan.updated' END,
           'payment_plan', n.id::text, n.customer_id,
           coalesce(nullif(current_setting('arc.actor', true), ''), 'system'),
           nullif(current_setting('arc.request_id', true), ''),
           arc_payment_plan_json(n::payment_plans)::jsonb
    FROM new_rows n
    JOIN old_rows o ON o.id = n.id
    WHERE n.version <> o.version
    ORDER BY n.id $q$;
  RETURN NULL;
END
$$;

-- Makes a plan from a body P that the handler validated (shapes, ranges,
-- one schedule form, ascending dates).  Checks what needs the data, and
-- reports every problem at once instead of raising the first: a row with
-- res_status 422 (the request is wrong in itself) or 409 (it conflicts with
-- another plan) and res_errors [{field, message}], having changed nothing.
-- Otherwise the plan, its installments, invoices.plan_id, and the row's
-- (id, version, doc).
--
-- The invoices are locked first (id order), then the customer: a second
-- plan over the same invoices, or for the same customer, waits here and
-- then sees this one (409).
CREATE FUNCTION arc_payment_plan_create(p jsonb, p_actor text)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text, res_status integer, res_errors jsonb)
LANGUAGE plpgsql AS
$$
DECLARE
  v_customer bigint := (p->>'customer_id')::bigint;
  v_ids bigint[] := ARRAY(SELECT (e.x #>> '{}')::bigint
                          FROM jsonb_array_elements(p->'invoice_ids') WITH ORDINALITY AS e(x, o) ORDER BY e.o);
  v_today date := current_date;
  v_horizon date := (current_date + interval '20 years')::date;
  v_invalid jsonb := '[]';
  v_conflicts jsonb := '[]';
  v_invoices_ok boolean := true;
  v_currency text;
  v_first_invoice bigint;
  v_total bigint;
  v_other bigint;
  v_dues date[];
  v_amounts bigint[];
  v_sum numeric;
  v_count integer;
  v_base bigint;
  v_freq text := p->>'frequency';
  v_first date := (p->>'first_due_on')::date;
  v_field text;
  v_updated integer;
  v_plan payment_plans;
  r record;
BEGIN
  PERFORM 1 FROM invoices v WHERE v.id = ANY (v_ids) ORDER BY v.id FOR UPDATE;
  PERFORM 1 FROM customers c WHERE c.id = v_customer FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    v_invalid := v_invalid || jsonb_build_object('field', 'customer_id',
                                                 'message', format('no customer with id %s', v_customer));
  END IF;

  -- Each invoice, in the body's order: its first problem.
  FOR r IN
    SELECT (u.o - 1)::integer AS idx, u.x AS id, v.customer_id, v.status, v.currency, v.factored, v.plan_id,
           EXISTS (SELECT 1 FROM disputes d WHERE d.invoice_id = u.x AND d.status = 'open') AS disputed
    FROM unnest(v_ids) WITH ORDINALITY AS u(x, o)
    LEFT JOIN invoices v ON v.id = u.x
    ORDER BY u.o
  LOOP
    v_field := format('invoice_ids[%s]', r.idx);
    IF r.customer_id IS NULL THEN
      v_invalid := v_invalid || jsonb_build_object('field', v_field, 'message', format('no invoice with id %s', r.id));
    ELSIF r.customer_id <> v_customer THEN
      v_invalid := v_invalid || jsonb_build_object('field', v_field,
                     'message', format('invoice %s belongs to another customer', r.id));
    ELSIF r.status <> 'open' THEN
      v_invalid := v_invalid || jsonb_build_object('field', v_field,
                     'message', format('invoice %s is %s; a plan covers open invoices with something owed', r.id,
                                       replace(r.status, '_', ' ')));
    ELSIF r.factored THEN
      v_invalid := v_invalid || jsonb_build_object('field', v_field,
                     'message', format('invoice %s is factored: the factor collects it', r.id));
    ELSIF r.disputed THEN
      v_invalid := v_invalid || jsonb_build_object('field', v_field,
                     'message', format('invoice %s is under an open dispute; resolve the dispute first', r.id));
    ELSIF v_currency IS NOT NULL AND r.currency <> v_currency THEN
      v_invalid := v_invalid || jsonb_build_object('field', v_field,
                     'message', format('invoice %s is in %s, invoice %s in %s: a plan is in one currency', r.id,
                                       r.currency, v_first_invoice, v_currency));
    ELSIF r.plan_id IS NOT NULL THEN
      v_conflicts := v_conflicts || jsonb_build_object('field', v_field,
                       'message', format('invoice %s is already in payment plan %s', r.id, r.plan_id));
    END IF;
    IF r.customer_id IS NULL OR r.customer_id <> v_customer OR r.status <> 'open' OR r.factored OR r.disputed
       OR (v_currency IS NOT NULL AND r.currency <> v_currency) THEN
      v_invoices_ok := false;
    ELSIF v_currency IS NULL THEN
      v_currency := r.currency;
      v_first_invoice := r.id;
    END IF;
  END LOOP;

  SELECT x.id INTO v_other FROM payment_plans x WHERE x.customer_id = v_customer AND x.status = 'active';
  IF FOUND THEN
    v_conflicts := v_conflicts || jsonb_build_object('field', 'customer_id',
                     'message', format('the customer already has an active payment plan (%s): cancel it first to '
                                       'make a new arrangement', v_other));
  END IF;
  -- What the plan covers: what its invoices owe now.
  IF v_invoices_ok THEN
    SELECT sum(v.balance)::bigint INTO v_total FROM invoices v WHERE v.id = ANY (v_ids);
  END IF;

  IF jsonb_typeof(p->'installments') = 'array' THEN
    SELECT array_agg((e.x->>'due_on')::date ORDER BY e.o), array_agg((e.x->>'amount')::bigint ORDER BY e.o),
           sum((e.x->>'amount')::numeric)
      INTO v_dues, v_amounts, v_sum
      FROM jsonb_array_elements(p->'installments') WITH ORDINALITY AS e(x, o);
    v_count := cardinality(v_dues);
    IF v_dues[1] < v_today THEN
      v_invalid := v_invalid || jsonb_build_object('field', 'installments[0].due_on',
                     'message', format('must be today (%s) or later', to_char(v_today, 'YYYY-MM-DD')));
    END IF;
    IF v_dues[v_count] > v_horizon THEN
      v_invalid := v_invalid || jsonb_build_object('field', format('installments[%s].due_on', v_count - 1),
                     'message', format('must be within 20 years (by %s)', to_char(v_horizon, 'YYYY-MM-DD')));
    END IF;
    IF v_total IS NOT NULL AND v_sum <> v_total THEN
      v_invalid := v_invalid || jsonb_build_object('field', 'installments',
                     'message', format('add up to %s, but the covered invoices owe %s: the installments must add '
                                       'up to exactly what is owed', arc_money(v_sum, v_currency),
                                       arc_money(v_total, v_currency)));
    END IF;
    v_freq := NULL;
  ELSE
    -- Generated: every frequency-th day or month from first_due_on
    -- (months by PostgreSQL's calendar: the 31st falls back to the end of
    -- shorter months), the total split evenly, the remainder on the last.
    v_count := (p->>'count')::integer;
    v_dues := ARRAY(SELECT CASE v_freq WHEN 'weekly' THEN v_first + 7 * k
                                       WHEN 'biweekly' THEN v_first + 14 * k
                                       ELSE (v_first + make_interval(months => k))::date END
                    FROM generate_series(0, v_count - 1) AS k ORDER BY k);
    IF v_first < v_today THEN
      v_invalid := v_invalid || jsonb_build_object('field', 'first_due_on',
                     'message', format('must be today (%s) or later', to_char(v_today, 'YYYY-MM-DD')));
    ELSIF v_dues[v_count] > v_horizon THEN
      v_invalid := v_invalid || jsonb_build_object('field', 'count',
                     'message', format('puts the last installment on %s, more than 20 years from today',
                                       to_char(v_dues[v_count], 'YYYY-MM-DD')));
    END IF;
    IF v_total IS NOT NULL AND v_count > v_total THEN
      v_invalid := v_invalid || jsonb_build_object('field', 'count',
                     'message', format('is more than the %s owed: every installment must be at least 1', v_total));
    ELSIF v_total IS NOT NULL THEN
      v_base := v_total / v_count;
      v_amounts := ARRAY(SELECT CASE WHEN k = v_count THEN v_base + v_total % v_count ELSE v_base END
                         FROM generate_series(1, v_count) AS k ORDER BY k);
    END IF;
  END IF;

  IF jsonb_array_length(v_invalid) > 0 THEN
    RETURN QUERY SELECT NULL::bigint, NULL::bigint, NULL::text, 422, v_invalid;
    RETURN;
  END IF;
  IF jsonb_array_length(v_conflicts) > 0 THEN
    RETURN QUERY SELECT NULL::bigint, NULL::bigint, NULL::text, 409, v_conflicts;
    RETURN;
  END IF;

  INSERT INTO payment_plans AS x (customer_id, invoice_ids, currency, total, frequency, grace_days, max_missed,
                                  notes, created_by)
  VALUES (v_customer, v_ids, v_currency, v_total, v_freq,
          coalesce((p->>'grace_days')::integer, arc_setting_int('plan_grace_days', 3)),
          coalesce((p->>'max_missed')::integer, arc_setting_int('plan_max_missed', 2)),
          p->>'notes', p_actor)
  RETURNING x.* INTO v_plan;
  INSERT INTO payment_plan_installments (plan_id, customer_id, seq, due_on, amount)
  SELECT v_plan.id, v_customer, u.k, u.due, u.amount
  FROM unnest(v_dues, v_amounts) WITH ORDINALITY AS u(due, amount, k)
  ORDER BY u.k;
  -- Conditional, under the locks above: each invoice joins one plan.
  -- Setting plan_id gives each invoice a new version and an
  -- invoice.updated event (in_plan is part of its document).
  UPDATE invoices v SET plan_id = v_plan.id WHERE v.id = ANY (v_ids) AND v.plan_id IS NULL;
  GET DIAGNOSTICS v_updated = ROW_COUNT;
  IF v_updated <> cardinality(v_ids) THEN
    PERFORM arc_raise('AR409', 'an invoice joined another payment plan meanwhile; retry', 'invoice_ids');
  END IF;
  PERFORM arc_event_append('payment_plan.created', 'payment_plan', v_plan.id::text, v_customer,
                           arc_payment_plan_json(v_plan)::jsonb);
  RETURN QUERY SELECT v_plan.id, v_plan.version, arc_payment_plan_json(v_plan)::text, NULL::integer, NULL::jsonb;
END
$$;

-- PATCH locks: the plan's invoices (id order), then the plan; its version,
-- or no row when there is no such plan.
CREATE FUNCTION arc_payment_plan_lock(p_id bigint) RETURNS TABLE (version bigint)
LANGUAGE plpgsql AS
$$
DECLARE
  v_ids bigint[];
BEGIN
  SELECT x.invoice_ids INTO v_ids FROM payment_plans x WHERE x.id = p_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  PERFORM 1 FROM invoices v WHERE v.id = ANY (v_ids) ORDER BY v.id FOR UPDATE;
  RETURN QUERY SELECT x.version FROM payment_plans x WHERE x.id = p_id FOR UPDATE;
END
$$;

-- PATCH of a plan (locked by arc_payment_plan_lock, If-Match checked):
-- {status: cancelled, cancel_reason} ends an active plan - its invoices
-- leave it and are dunned as usual from the next sweep - and/or {notes}.
CREATE FUNCTION arc_payment_plan_update(p_id bigint, p jsonb, p_actor text)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text)
LANGUAGE plpgsql AS
$$
DECLARE
  cur payment_plans;
  v_cancel boolean := p->>'status' = 'cancelled';
BEGIN
  SELECT * INTO cur FROM payment_plans x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM arc_raise('AR404', format('no payment plan with id %s', p_id));
  END IF;
  IF v_cancel AND cur.status <> 'active' THEN
    PERFORM arc_raise('AR409', format('the plan is %s; only an active plan can be cancelled', cur.status), 'status');
  END IF;
  UPDATE payment_plans x SET
    status        = CASE WHEN v_cancel THEN 'cancelled' ELSE x.status END,
    cancelled_at  = CASE WHEN v_cancel THEN now() ELSE x.cancelled_at END,
    cancelled_by  = CASE WHEN v_cancel THEN p_actor ELSE x.cancelled_by END,
    cancel_reason = CASE WHEN v_cancel THEN p->>'cancel_reason' ELSE x.cancel_reason END,
    notes         = CASE WHEN p ? 'notes' THEN p->>'notes' ELSE x.notes END
  WHERE x.id = p_id
  RETURNING x.* INTO cur;
  IF v_cancel THEN
    UPDATE invoices v SET plan_id = NULL WHERE v.id = ANY (cur.invoice_ids) AND v.plan_id = cur.id;
  END IF;
  RETURN QUERY SELECT cur.id, cur.version, arc_payment_plan_json(cur)::text;
END
$$;

-- Brings plans P_IDS in line with the money (see the top of this file):
-- fills their installments, then completes the settled active ones and
-- reopens the completed ones that no longer are, at P_AT.  Active and
-- completed plans only.  Locks the plans, then reads with a fresh snapshot,
-- so two payments committing at once on two invoices of one plan both
-- count.  A repeated call changes nothing.
CREATE FUNCTION arc_payment_plans_settle(p_ids bigint[], p_at timestamptz) RETURNS void
LANGUAGE plpgsql AS
$$
DECLARE
  v_ids bigint[];
  v_reopen bigint[];
BEGIN
  SELECT array_agg(x.id) INTO v_ids
  FROM (SELECT p.id FROM payment_plans p WHERE p.id = ANY (p_ids) AND p.status IN ('active', 'completed')
        ORDER BY p.id FOR UPDATE) x;
  IF v_ids IS NULL THEN
    RETURN;
  END IF;

  WITH paid AS (
    SELECT p.id, coalesce((SELECT sum(a.amount) FROM payment_allocations a
                           WHERE a.invoice_id = ANY (p.invoice_ids) AND a.reversed_at IS NULL
                             AND a.created_at >= p.created_at), 0) AS amount
    FROM payment_plans p WHERE p.id = ANY (v_ids)),
  fill AS (
    SELECT i.id,
           greatest(0, least(i.amount, s.amount - (sum(i.amount) OVER w - i.amount)))::bigint AS paid
    FROM payment_plan_installments i
    JOIN paid s ON s.id = i.plan_id
    WINDOW w AS (PARTITION BY i.plan_id ORDER BY i.seq)),
  want AS (
    SELECT i.id, f.paid,
           CASE WHEN f.paid = i.amount THEN 'paid' WHEN i.missed_at IS NOT NULL THEN 'missed' ELSE 'pending' END
             AS status
    FROM payment_plan_installments i JOIN fill f ON f.id = i.id)
  UPDATE payment_plan_installments i SET
    paid_amount = w.paid,
    status = w.status,
    paid_at = CASE WHEN w.status = 'paid' THEN coalesce(i.paid_at, p_at) END
  FROM want w
  WHERE i.id = w.id AND (i.paid_amount <> w.paid OR i.status <> w.status);

  -- Completed plans that are no longer settled: reopened when nothing has
  -- taken their place.  The customer lock queues a plan being made for the
  -- same customer behind this (or this behind it).
  SELECT array_agg(p.id ORDER BY p.id) INTO v_reopen
  FROM payment_plans p
  WHERE p.id = ANY (v_ids) AND p.status = 'completed'
    AND (SELECT coalesce(sum(i.paid_amount), 0) FROM payment_plan_installments i WHERE i.plan_id = p.id) < p.total
    AND EXISTS (SELECT 1 FROM invoices v WHERE v.id = ANY (p.invoice_ids) AND v.status = 'open' AND v.balance > 0);
  IF v_reopen IS NOT NULL THEN
    PERFORM 1 FROM customers c
    WHERE c.id IN (SELECT p.customer_id FROM payment_plans p WHERE p.id = ANY (v_reopen))
    ORDER BY c.id FOR NO KEY UPDATE;
    SELECT array_agg(p.id) INTO v_reopen
    FROM payment_plans p
    WHERE p.id = ANY (v_reopen)
      AND NOT EXISTS (SELECT 1 FROM payment_plans o WHERE o.customer_id = p.customer_id AND o.status = 'active')
      AND NOT EXISTS (SELECT 1 FROM invoices v WHERE v.id = ANY (p.invoice_ids) AND v.plan_id IS NOT NULL);
  END IF;

  WITH s AS (
    SELECT p.id,
           (SELECT coalesce(sum(i.paid_amount), 0) FROM payment_plan_installments i WHERE i.plan_id = p.id)::bigint
             AS paid,
           (SELECT count(*) FROM payment_plan_installments i WHERE i.plan_id = p.id AND i.status = 'missed')::integer
             AS missed,
           NOT EXISTS (SELECT 1 FROM invoices v WHERE v.id = ANY (p.invoice_ids) AND v.status = 'open' AND v.balance > 0)
             AS owes_nothing
    FROM payment_plans p WHERE p.id = ANY (v_ids)),
  n AS (
    SELECT p.id, s.paid, s.missed,
           CASE WHEN p.status = 'active' AND (s.owes_nothing OR s.paid >= p.total) THEN 'completed'
                WHEN p.id = ANY (v_reopen) THEN 'active'
                ELSE p.status END AS status
    FROM payment_plans p JOIN s ON s.id = p.id),
  changed AS (
    UPDATE payment_plans p SET
      paid_amount = n.paid,
      missed_count = n.missed,
      status = n.status,
      completed_at = CASE WHEN n.status = p.status THEN p.completed_at
                          WHEN n.status = 'completed' THEN p_at END
    FROM n
    WHERE p.id = n.id AND (p.paid_amount, p.missed_count, p.status) IS DISTINCT FROM (n.paid, n.missed, n.status)
    RETURNING p.id, p.status, p.invoice_ids)
  UPDATE invoices v SET plan_id = CASE WHEN c.status = 'active' THEN c.id END
  FROM (SELECT x.id, x.status, unnest(x.invoice_ids) AS invoice_id FROM changed x) c
  WHERE v.id = c.invoice_id
    AND ((c.status = 'completed' AND v.plan_id = c.id) OR (c.status = 'active' AND v.plan_id IS NULL
                                                          AND c.id = ANY (v_reopen)));
END
$$;

-- Deferred to commit, after every statement of the transaction that moved
-- money on the invoice: its active plan, or - when its balance went up
-- again (a reversal, a debit) - the latest completed plan over it, is
-- settled again.  Named to run before invoices_emit (triggers fire in name
-- order), so the invoice's event already shows in_plan as the plan left it.
CREATE FUNCTION arc_invoices_settle_plans() RETURNS trigger
LANGUAGE plpgsql AS
$$
DECLARE
  v_plan bigint;
BEGIN
  SELECT v.plan_id INTO v_plan FROM invoices v WHERE v.id = NEW.id;
  IF v_plan IS NULL AND NEW.status = 'open' THEN
    SELECT p.id INTO v_plan FROM payment_plans p
    WHERE p.customer_id = NEW.customer_id AND p.status = 'completed' AND NEW.id = ANY (p.invoice_ids)
    ORDER BY p.id DESC LIMIT 1;
  END IF;
  IF v_plan IS NOT NULL THEN
    PERFORM arc_payment_plans_settle(ARRAY[v_plan], now());
  END IF;
  RETURN NULL;
END
$$;

-- Customers whose active plan has installments missed by the business day
-- of AS_OF (from due_on + grace_days + 1, the day it counted as missed, on:
-- missed_at is when that was recorded, in real time) and still unpaid: the
-- first of them (its id, and that day), what they lack in all, and the
-- plan.  One row per customer (one active plan each).
CREATE FUNCTION arc_missed_installments(p_as_of timestamptz)
RETURNS TABLE (customer_id bigint, plan_id bigint, invoice_ids bigint[], currency text, first_id bigint,
               follow_up_due date, unpaid bigint)
LANGUAGE sql STABLE AS
$$
  SELECT p.customer_id, p.id, p.invoice_ids, p.currency,
         (array_agg(i.id ORDER BY i.seq))[1], (array_agg(i.due_on + p.grace_days + 1 ORDER BY i.seq))[1],
         sum(i.amount - i.paid_amount)::bigint
  FROM payment_plan_installments i
  JOIN payment_plans p ON p.id = i.plan_id AND p.status = 'active'
  WHERE i.status = 'missed' AND i.due_on + p.grace_days < arc_business_date(p_as_of)
  GROUP BY p.id
$$;

CREATE TRIGGER payment_plans_emit AFTER UPDATE ON payment_plans
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_payment_plans_emit();

CREATE CONSTRAINT TRIGGER invoices_cover_plans AFTER UPDATE OF balance, status ON invoices
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN ((OLD.balance, OLD.status) IS DISTINCT FROM (NEW.balance, NEW.status)
        AND (NEW.plan_id IS NOT NULL OR (NEW.status = 'open' AND NEW.balance > OLD.balance)))
  EXECUTE FUNCTION arc_invoices_settle_plans();
