-- Payments: JSON rendering, recording with allocations, correction of the
-- bookkeeping fields, the external upsert and reversal.
--
-- Money moves only here.  Every function that changes invoice balances
-- locks the invoice rows FOR UPDATE in id order before reading a balance,
-- so concurrent payments and reversals queue on the same rows in the same
-- order: they cannot over-allocate and cannot deadlock each other.  The
-- CHECK on invoices.balance stays the last line of defence.
--
-- Invariant kept for every payment: amount = sum(its allocations) + unapplied.
-- A reversed payment keeps its allocations (marked reversed_at) as history.

-- The payment as clients see it; allocations in the order they were made.
CREATE FUNCTION arc_payment_json(p payments) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM (SELECT
    p.id::text AS id,
    p.customer_id::text AS customer_id,
    p.external_id,
    p.amount,
    p.currency,
    p.received_on,
    p.method,
    p.reference,
    p.status,
    array_to_json(ARRAY(SELECT row_to_json(x) FROM (SELECT a.invoice_id::text AS invoice_id, a.amount
                                                    FROM payment_allocations a
                                                    WHERE a.payment_id = p.id ORDER BY a.id) x)) AS allocations,
    p.unapplied,
    arc_ts(p.reversed_at) AS reversed_at,
    p.reversal_reason,
    p.created_by,
    p.version,
    arc_ts(p.created_at) AS created_at,
    arc_ts(p.updated_at) AS updated_at) d);
END
$$;

-- Serialises writers of one external id, so two concurrent upserts of the
-- same payment see each other instead of both inserting.
CREATE FUNCTION arc_payment_external_lock(ext text) RETURNS void
LANGUAGE plpgsql AS
$$
BEGIN
  IF coalesce(current_setting('arc.import', true), '') <> 'on' THEN
    PERFORM pg_advisory_xact_lock(hashtextextended('payments.external_id:' || ext, 7250005));
  END IF;
END
$$;

-- Records a payment from a validated body P (customer_id, amount, currency,
-- received_on, method, reference, external_id, allocations).  With
-- allocations: each is checked against the invoice as locked.  Without: the
-- customer's open invoices in the payment's currency are paid oldest first
-- (due_on, then id), each up to its balance.  What is left is unapplied.
-- The doc is rendered here, after the writes: the caller's snapshot would
-- not see the new allocations.
CREATE FUNCTION arc_payment_record(p jsonb, p_actor text)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text)
LANGUAGE plpgsql AS
$$
DECLARE
  v_customer bigint := (p->>'customer_id')::bigint;
  v_amount bigint := (p->>'amount')::bigint;
  v_currency text := p->>'currency';
  v_ids bigint[] := '{}';
  v_amts bigint[] := '{}';
  v_left bigint;
  v_share bigint;
  v_sum numeric;
  v_item record;
  v_inv invoices;
  v_open_ids bigint[];
  v_open_bal bigint[];
  v_pay payments;
  i integer;
BEGIN
  IF p->>'external_id' IS NOT NULL THEN
    PERFORM arc_payment_external_lock(p->>'external_id');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = v_customer) THEN
    PERFORM arc_raise('AR422', format('no customer with id %s', v_customer), 'customer_id');
  END IF;
  IF (p->>'received_on')::date > current_date THEN
    PERFORM arc_raise('AR422', 'must not be later than today', 'received_on');
  END IF;

  IF jsonb_typeof(p->'allocations') = 'array' THEN
    FOR v_item IN
      SELECT (e.ord - 1)::integer AS idx, (e.a->>'invoice_id')::bigint AS invoice_id,
             (e.a->>'amount')::bigint AS amount
      FROM jsonb_array_elements(p->'allocations') WITH ORDINALITY AS e(a, ord)
      ORDER BY e.ord
    LOOP
      IF v_item.invoice_id = ANY (v_ids) THEN
        PERFORM arc_raise('AR422', 'lists an invoice that an earlier allocation already names',
                          format('allocations[%s].invoice_id', v_item.idx));
      END IF;
      IF v_item.amount IS NULL OR v_item.amount < 1 THEN
        PERFORM arc_raise('AR422', 'must be a positive amount', format('allocations[%s].amount', v_item.idx));
      END IF;
      v_ids := v_ids || v_item.invoice_id;
      v_amts := v_amts || v_item.amount;
    END LOOP;
    SELECT coalesce(sum(x), 0) INTO v_sum FROM unnest(v_amts) x;
    IF v_sum > v_amount THEN
      PERFORM arc_raise('AR422', format('add up to %s, more than the payment amount of %s', arc_money(v_sum, v_currency),
                                        arc_money(v_amount, v_currency)),
                        'allocations');
    END IF;

    -- Lock first, in id order; every read below sees the rows as locked.
    PERFORM 1 FROM invoices inv WHERE inv.id = ANY (v_ids) ORDER BY inv.id FOR UPDATE;

    -- Validation before state: a request that is wrong in itself gets 422
    -- even when another allocation also conflicts.
    FOR i IN 1 .. coalesce(array_length(v_ids, 1), 0) LOOP
      SELECT * INTO v_inv FROM invoices inv WHERE inv.id = v_ids[i];
      IF NOT FOUND THEN
        PERFORM arc_raise('AR422', format('no invoice with id %s', v_ids[i]),
                          format('allocations[%s].invoice_id', i - 1));
      END IF;
      IF v_inv.customer_id <> v_customer THEN
        PERFORM arc_raise('AR422', format('invoice %s belongs to another customer', v_ids[i]),
                          format('allocations[%s].invoice_id', i - 1));
      END IF;
      IF v_inv.currency <> v_currency THEN
        PERFORM arc_raise('AR422', format('invoice %s is in %s, the payment in %s', v_ids[i], v_inv.currency,
                                          v_currency),
                          format('allocations[%s].invoice_id', i - 1));
      END IF;
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(v_ids, 1), 0) LOOP
      SELECT * INTO v_inv FROM invoices inv WHERE inv.id = v_ids[i];
      -- A paid invoice has a balance of 0: more than that is an
      -- over-allocation, as for an open one (one problem type for one
      -- conflict, whether or not a concurrent payment paid it off first).
      IF v_inv.status NOT IN ('open', 'paid') THEN
        PERFORM arc_raise('AR409', format('invoice %s is %s and takes no payment', v_ids[i],
                                          replace(v_inv.status, '_', ' ')),
                          format('allocations[%s].invoice_id', i - 1));
      END IF;
      IF v_amts[i] > v_inv.balance THEN
        PERFORM arc_raise('AR410', format('%s is more than the balance of %s left on invoice %s%s',
                                          arc_money(v_amts[i], v_currency), arc_money(v_inv.balance, v_currency),
                                          v_ids[i], CASE WHEN v_inv.status = 'paid' THEN ' (paid)' ELSE '' END),
                          format('allocations[%s].amount', i - 1));
      END IF;
    END LOOP;
    v_left := v_amount - v_sum::bigint;
  ELSE
    -- Lock the candidates in id order (the locking row versions are
    -- re-checked, so an invoice paid off meanwhile drops out), then spend
    -- oldest first on what the locks return.
    SELECT array_agg(l.id ORDER BY l.due_on, l.id), array_agg(l.balance ORDER BY l.due_on, l.id)
      INTO v_open_ids, v_open_bal
      FROM (SELECT inv.id, inv.due_on, inv.balance FROM invoices inv
            WHERE inv.customer_id = v_customer AND inv.currency = v_currency AND inv.status = 'open'
            ORDER BY inv.id FOR UPDATE) l;
    v_left := v_amount;
    FOR i IN 1 .. coalesce(array_length(v_open_ids, 1), 0) LOOP
      EXIT WHEN v_left = 0;
      CONTINUE WHEN v_open_bal[i] <= 0;
      v_share := least(v_left, v_open_bal[i]);
      v_ids := v_ids || v_open_ids[i];
      v_amts := v_amts || v_share;
      v_left := v_left - v_share;
    END LOOP;
  END IF;

  INSERT INTO payments AS x (customer_id, external_id, amount, currency, received_on, method, reference,
                             unapplied, created_by)
  VALUES (v_customer, p->>'external_id', v_amount, v_currency, (p->>'received_on')::date, p->>'method',
          p->>'reference', v_left, p_actor)
  RETURNING x.* INTO v_pay;

  INSERT INTO payment_allocations (customer_id, payment_id, invoice_id, amount)
  SELECT v_customer, v_pay.id, u.inv, u.amt
  FROM unnest(v_ids, v_amts) WITH ORDINALITY AS u(inv, amt, ord)
  ORDER BY u.ord;

  UPDATE invoices inv SET balance = inv.balance - u.amt
  FROM unnest(v_ids, v_amts) AS u(inv_id, amt)
  WHERE inv.id = u.inv_id;

  PERFORM arc_promises_evaluate(now(), v_customer);
  RETURN QUERY SELECT x.id, x.version, arc_payment_json(x)::text FROM payments x WHERE x.id = v_pay.id;
END
$$;

-- PATCH of a payment's bookkeeping fields (reference, method, received_on,
-- external_id); the caller has locked the row and checked If-Match.  Money
-- fields never change here: a wrong payment is reversed and recorded again.
CREATE FUNCTION arc_payment_update(p_id bigint, p jsonb)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text)
LANGUAGE plpgsql AS
$$
DECLARE
  cur payments;
BEGIN
  IF (p->>'received_on')::date > current_date THEN
    PERFORM arc_raise('AR422', 'must not be later than today', 'received_on');
  END IF;
  IF p->>'external_id' IS NOT NULL THEN
    PERFORM arc_payment_external_lock(p->>'external_id');
  END IF;
  UPDATE payments x SET
    reference   = CASE WHEN p ? 'reference' THEN p->>'reference' ELSE x.reference END,
    method      = coalesce(p->>'method', x.method),
    received_on = coalesce((p->>'received_on')::date, x.received_on),
    external_id = CASE WHEN p ? 'external_id' THEN p->>'external_id' ELSE x.external_id END
  WHERE x.id = p_id
  RETURNING x.* INTO cur;
  IF NOT FOUND THEN
    PERFORM arc_raise('AR404', format('no payment with id %s', p_id));
  END IF;
  RETURN QUERY SELECT cur.id, cur.version, arc_payment_json(cur)::text;
END
$$;

-- PUT /v1/payments/external/{external_id}: records the payment the first
-- time; later calls may change reference, method and received_on only, and
-- must agree on the money (customer, amount, currency and, when given, the
-- allocations, compared as a set) — a disagreement is a conflict, never a
-- silent re-allocation.  An absent reference stays as it is; an unchanged
-- upsert changes nothing, not even the version.
CREATE FUNCTION arc_payment_upsert(p_ext text, p jsonb, p_actor text)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text, res_created boolean)
LANGUAGE plpgsql AS
$$
DECLARE
  cur payments;
  have jsonb;
  want jsonb;
BEGIN
  PERFORM arc_payment_external_lock(p_ext);
  SELECT * INTO cur FROM payments x WHERE x.external_id = p_ext FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT r.res_id, r.res_version, r.res_doc, true
                 FROM arc_payment_record(p || jsonb_build_object('external_id', p_ext), p_actor) r;
    RETURN;
  END IF;
  IF cur.customer_id <> (p->>'customer_id')::bigint THEN
    PERFORM arc_raise('AR409', format('payment %s was recorded for customer %s', p_ext, cur.customer_id),
                      'customer_id');
  END IF;
  IF cur.amount <> (p->>'amount')::bigint THEN
    PERFORM arc_raise('AR409', format('payment %s was recorded with amount %s; reverse it to change the amount',
                                      p_ext, arc_money(cur.amount, cur.currency)), 'amount');
  END IF;
  IF cur.currency <> p->>'currency' THEN
    PERFORM arc_raise('AR409', format('payment %s was recorded in %s', p_ext, cur.currency), 'currency');
  END IF;
  IF jsonb_typeof(p->'allocations') = 'array' THEN
    SELECT coalesce(jsonb_agg(jsonb_build_array(a.invoice_id, a.amount) ORDER BY a.invoice_id, a.amount),
                    '[]'::jsonb)
      INTO have FROM payment_allocations a WHERE a.payment_id = cur.id;
    SELECT coalesce(jsonb_agg(jsonb_build_array((e->>'invoice_id')::bigint, (e->>'amount')::bigint)
                              ORDER BY (e->>'invoice_id')::bigint, (e->>'amount')::bigint), '[]'::jsonb)
      INTO want FROM jsonb_array_elements(p->'allocations') e;
    IF have <> want THEN
      PERFORM arc_raise('AR409', format('payment %s was allocated differently; reverse it to re-allocate', p_ext),
                        'allocations');
    END IF;
  END IF;
  IF (p->>'received_on')::date > current_date THEN
    PERFORM arc_raise('AR422', 'must not be later than today', 'received_on');
  END IF;
  UPDATE payments x SET
    reference   = CASE WHEN p ? 'reference' THEN p->>'reference' ELSE x.reference END,
    method      = coalesce(p->>'method', x.method),
    received_on = coalesce((p->>'received_on')::date, x.received_on)
  WHERE x.id = cur.id
  RETURNING x.* INTO cur;
  RETURN QUERY SELECT cur.id, cur.version, arc_payment_json(cur)::text, false;
END
$$;
