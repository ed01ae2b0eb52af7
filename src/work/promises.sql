-- Promises to pay (SPEC P5): made in a call (call_logs.sql) or directly, kept when
-- the customer's payments reach the amount by promised_on + grace days,
-- broken when that day passes without.  The table is in migrations/0004_work.sql.

-- The last day a payment counts toward a promise: promised_on plus the
-- playbook's grace days (ARC_PROMISE_GRACE_DAYS, a session setting).
CREATE FUNCTION arc_promise_due_by(promised_on date) RETURNS date
LANGUAGE sql STABLE AS
$$ SELECT promised_on + arc_setting_int('promise_grace_days', 1) $$;


CREATE FUNCTION arc_promise_json(p promises) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM (SELECT
    p.id::text AS id,
    p.customer_id::text AS customer_id,
    p.call_log_id::text AS call_log_id,
    coalesce(p.invoice_ids::text[], '{}') AS invoice_ids,
    p.amount,
    p.currency,
    p.promised_on,
    p.method,
    p.status,
    p.paid_amount,
    arc_promise_due_by(p.promised_on) AS due_by,
    arc_ts(p.kept_at) AS kept_at,
    arc_ts(p.broken_at) AS broken_at,
    arc_ts(p.cancelled_at) AS cancelled_at,
    p.cancel_reason,
    p.created_by,
    p.version,
    arc_ts(p.created_at) AS created_at,
    arc_ts(p.updated_at) AS updated_at) d);
END
$$;

-- Evaluates promises as of P_AS_OF (all customers, or one): what the
-- customer paid toward each = its received, not reversed payments in the
-- promise's currency received from the promise's creation day through
-- due_by.  Paid in full → kept; else once the business day of P_AS_OF is
-- past due_by → broken, on that day (broken_on, what the sweep's rules go
-- by); paid_amount follows.  kept_at and broken_at record when that was
-- decided, in real time (arc_recorded_at).  What it decides reads only its arguments
-- and the data, never the clock, so a sweep can be replayed for any day; a
-- repeated call changes nothing.
--
-- Kept promises are looked at again when one customer is evaluated (after
-- its payment or reversal): a reversal that takes one below its amount
-- puts it back to pending, or broken when its day has passed.  The sweep
-- of all customers looks at pending ones only; reversals already did the
-- rest.  An incremental sweep evaluates the customers it revisits
-- (P_CUSTOMERS; NULL: every customer).
--
-- Concurrency.  For one customer (inside a payment, reversal or new
-- promise) the customer row (FOR NO KEY UPDATE, which does not block
-- inserts referencing it) and its promises are locked first, and the
-- statement that sums payments runs after with a fresh snapshot: of two
-- payments committing at once, the second one's evaluation sees both, and
-- a promise made meanwhile waits for the payment.  The sweep of all
-- customers locks only the rows it changes (a long sweep must not hold up
-- every payment); a row that a payment's evaluation changed meanwhile is
-- left as that evaluation, which saw more, decided (the guards on status
-- and paid_amount in the UPDATE).
CREATE FUNCTION arc_promises_evaluate(p_as_of timestamptz, p_customer bigint DEFAULT NULL,
                                      p_customers bigint[] DEFAULT NULL)
RETURNS TABLE (kept integer, broken integer)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS
$$
DECLARE
  v_day date := (p_as_of AT TIME ZONE current_setting('TimeZone'))::date;
BEGIN
  IF p_customer IS NOT NULL THEN
    PERFORM 1 FROM customers c WHERE c.id = p_customer FOR NO KEY UPDATE;
    PERFORM 1 FROM promises pr
    WHERE pr.customer_id = p_customer AND pr.status IN ('pending', 'kept')
    ORDER BY pr.id FOR UPDATE;
  END IF;

  RETURN QUERY
  WITH paid AS (
    SELECT pr.id, pr.status AS old_status, pr.paid_amount AS old_paid, pr.amount,
           arc_promise_due_by(pr.promised_on) AS due_by, coalesce(sum(pay.amount), 0)::bigint AS total
    FROM promises pr
    -- When it was made: in its call, when it was made in one (a CRM syncing
    -- last month's calls records them weeks later), else when it was recorded.
    CROSS JOIN LATERAL (
      SELECT least(pr.created_at, coalesce((SELECT l.occurred_at FROM call_logs l WHERE l.id = pr.call_log_id),
                                           pr.created_at)) AS made_at) m
    LEFT JOIN payments pay
      ON pay.customer_id = pr.customer_id AND pay.currency = pr.currency AND pay.status = 'received'
     AND pay.received_on >= (m.made_at AT TIME ZONE current_setting('TimeZone'))::date
     AND pay.received_on <= arc_promise_due_by(pr.promised_on)
     -- Only money recorded after the promise was made counts toward it: a
     -- payment from that morning was already off the balance promised on.
     AND pay.created_at >= m.made_at
    WHERE (pr.status = 'pending' OR (pr.status = 'kept' AND p_customer IS NOT NULL))
      -- One customer's, or everyone's, as a range of promises_customer_idx:
      -- one generic plan serves both (a plan made for each customer cost a
      -- payment 0.7 ms of planning), and with "(p_customer IS NULL OR ...)"
      -- it read every promise for a payment.
      AND pr.customer_id BETWEEN coalesce(p_customer, 0) AND coalesce(p_customer, 9223372036854775807)
      -- A hashed subplan: in this generic plan "= ANY (p_customers)" would
      -- search the array for every promise.
      AND (p_customers IS NULL OR pr.customer_id IN (SELECT unnest(p_customers)))
    GROUP BY pr.id, m.made_at
  ), decided AS (
    SELECT s.id, s.old_status, s.old_paid, s.total,
           CASE WHEN s.total >= s.amount THEN 'kept'
                WHEN v_day > s.due_by THEN 'broken'
                ELSE 'pending' END AS new_status
    FROM paid s
  ), changed AS (
    UPDATE promises pr SET
      status = d.new_status,
      paid_amount = d.total,
      kept_at = CASE WHEN d.new_status <> 'kept' THEN NULL
                     WHEN d.old_status = 'kept' THEN pr.kept_at
                     ELSE arc_recorded_at() END,
      broken_at = CASE WHEN d.new_status = 'broken' THEN arc_recorded_at() END,
      broken_on = CASE WHEN d.new_status = 'broken' THEN v_day END
    FROM decided d
    WHERE pr.id = d.id AND pr.status = d.old_status AND pr.paid_amount = d.old_paid
      AND (d.new_status <> d.old_status OR d.total <> d.old_paid)
    RETURNING d.old_status, d.new_status
  )
  SELECT (count(*) FILTER (WHERE ch.new_status = 'kept' AND ch.old_status <> 'kept'))::integer,
         (count(*) FILTER (WHERE ch.new_status = 'broken'))::integer
  FROM changed ch;
END
$$;

-- Creates a promise of P_CUSTOMER from a validated body P (amount,
-- currency, promised_on, method, invoice_ids), for POST /v1/promises and
-- for the promise made in a call log (P_CALL_INVOICES = the call's
-- invoices).  Errors name P_PREFIX || field ('' or 'promise.').
--
-- Covered invoices: those given (the customer's open invoices, one
-- currency); without invoice_ids, a call's open invoices (in the promise's
-- currency when given).  The currency defaults to theirs and must match.
-- The amount may not exceed what is owed: the covered invoices' balance,
-- else the customer's open balance in the currency.  The invoices are
-- locked (id order, as payments do) so a concurrent payment cannot change
-- what is owed between the check and the commit.
--
-- Every check that can run does, and all that fail are raised at once
-- (arc_raise_fields): a client fixes a body in one round trip.  P_PROBLEMS
-- are those the caller already found ({field, message}, from the C
-- checks): they are raised with the rest, and the fields they name are not
-- read (they may not even parse); nothing is written while there are any.
CREATE FUNCTION arc_promise_create(p_customer bigint, p_call_log bigint, p jsonb, p_actor text,
                                   p_prefix text DEFAULT '', p_call_invoices bigint[] DEFAULT NULL,
                                   p_problems jsonb DEFAULT '[]')
RETURNS promises
LANGUAGE plpgsql AS
$$
DECLARE
  v_problems jsonb := p_problems;
  v_bad_fields text[] := ARRAY(SELECT e->>'field' FROM jsonb_array_elements(p_problems) e);
  v_ids bigint[];
  v_ids_ok boolean := true;
  v_currency text;
  v_amount bigint;
  v_bad record;
  v_currencies text[];
  v_owed numeric;
  v_log call_logs;
  v_row promises;
  v_made_on date;
  v_customer_ok boolean := p_customer IS NOT NULL;
BEGIN
  -- A field the caller found bad is not read (no cast of what may not parse).
  IF NOT (p_prefix || 'currency') = ANY (v_bad_fields) THEN
    v_currency := p->>'currency';
  END IF;
  IF NOT (p_prefix || 'amount') = ANY (v_bad_fields) THEN
    v_amount := (p->>'amount')::bigint;
  END IF;
  IF p_customer IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = p_customer) THEN
    v_problems := v_problems || jsonb_build_object('field', 'customer_id',
                                                   'message', format('no customer with id %s', p_customer));
    v_customer_ok := false;
  END IF;
  IF p_call_log IS NOT NULL AND p_call_invoices IS NULL THEN
    SELECT * INTO v_log FROM call_logs c WHERE c.id = p_call_log;
    IF NOT FOUND THEN
      v_problems := v_problems || jsonb_build_object('field', 'call_log_id',
                                                     'message', format('no call log with id %s', p_call_log));
    ELSIF v_log.customer_id <> p_customer THEN
      v_problems := v_problems || jsonb_build_object('field', 'call_log_id',
                                                     'message', format('call log %s is of another customer', p_call_log));
    END IF;
  END IF;

  IF EXISTS (SELECT 1 FROM unnest(v_bad_fields) f WHERE f LIKE p_prefix || 'invoice\_ids%') THEN
    v_ids_ok := false;
  ELSIF jsonb_typeof(p->'invoice_ids') = 'array' THEN
    v_ids := ARRAY(SELECT (e.x #>> '{}')::bigint
                   FROM jsonb_array_elements(p->'invoice_ids') WITH ORDINALITY AS e(x, o) ORDER BY e.o);
    PERFORM 1 FROM invoices inv WHERE inv.id = ANY (v_ids) ORDER BY inv.id FOR UPDATE;
    -- The first invoice that cannot be promised on, in the body's order.
    SELECT u.o - 1 AS idx, u.x AS id, inv.customer_id, inv.status, inv.currency INTO v_bad
    FROM unnest(v_ids) WITH ORDINALITY AS u(x, o)
    LEFT JOIN invoices inv ON inv.id = u.x
    WHERE inv.id IS NULL OR inv.customer_id IS DISTINCT FROM p_customer OR inv.status <> 'open'
    ORDER BY u.o LIMIT 1;
    IF FOUND THEN
      v_ids_ok := false;
      v_problems := v_problems || jsonb_build_object(
        'field', format('%sinvoice_ids[%s]', p_prefix, v_bad.idx),
        'message', CASE WHEN v_bad.customer_id IS NULL THEN format('no invoice with id %s', v_bad.id)
                        WHEN v_bad.customer_id IS DISTINCT FROM p_customer
                        THEN format('invoice %s belongs to another customer', v_bad.id)
                        ELSE format('invoice %s is %s; a promise covers open invoices', v_bad.id,
                                    replace(v_bad.status, '_', ' ')) END);
    ELSE
      -- One currency: the first invoice that differs from the first one.
      SELECT u.o - 1 AS idx, u.x AS id, inv.currency, inv1.currency AS first_currency INTO v_bad
      FROM unnest(v_ids) WITH ORDINALITY AS u(x, o)
      JOIN invoices inv ON inv.id = u.x
      JOIN invoices inv1 ON inv1.id = v_ids[1]
      WHERE inv.currency <> inv1.currency
      ORDER BY u.o LIMIT 1;
      IF FOUND THEN
        v_ids_ok := false;
        v_problems := v_problems || jsonb_build_object(
          'field', format('%sinvoice_ids[%s]', p_prefix, v_bad.idx),
          'message', format('invoice %s is in %s, invoice %s in %s: a promise is in one currency',
                            v_bad.id, v_bad.currency, v_ids[1], v_bad.first_currency));
      END IF;
    END IF;
  ELSE
    -- Without invoice_ids, a call's promise covers the call's invoices that
    -- are still open (a call may also be about paid ones).
    PERFORM 1 FROM invoices inv WHERE inv.id = ANY (coalesce(p_call_invoices, '{}')) ORDER BY inv.id FOR UPDATE;
    v_ids := ARRAY(SELECT u.x FROM unnest(coalesce(p_call_invoices, '{}')) WITH ORDINALITY AS u(x, o)
                   JOIN invoices inv ON inv.id = u.x
                   WHERE inv.status = 'open' AND (v_currency IS NULL OR inv.currency = v_currency)
                   ORDER BY u.o);
  END IF;

  -- The currency: the covered invoices', else the one the customer owes in.
  IF v_ids_ok AND NOT (p_prefix || 'currency') = ANY (v_bad_fields) THEN
    SELECT array_agg(DISTINCT inv.currency ORDER BY inv.currency) INTO v_currencies
    FROM invoices inv WHERE inv.id = ANY (v_ids);
    IF array_length(v_currencies, 1) > 1 THEN
      v_problems := v_problems || jsonb_build_object('field', p_prefix || 'currency',
        'message', format('is required: the call''s open invoices are in %s', array_to_string(v_currencies, ', ')));
    ELSIF v_currency IS NOT NULL AND v_currencies IS NOT NULL AND v_currency <> v_currencies[1] THEN
      v_problems := v_problems || jsonb_build_object('field', p_prefix || 'currency',
        'message', format('must be %s, the currency of the invoices', v_currencies[1]));
    ELSE
      v_currency := coalesce(v_currency, v_currencies[1]);
      IF v_currency IS NULL AND v_customer_ok THEN
        -- Covering no invoice, it is the currency the customer owes in,
        -- when that is one.
        SELECT array_agg(DISTINCT inv.currency ORDER BY inv.currency) INTO v_currencies
        FROM invoices inv WHERE inv.customer_id = p_customer AND inv.status = 'open';
        IF array_length(v_currencies, 1) > 1 THEN
          v_problems := v_problems || jsonb_build_object('field', p_prefix || 'currency',
            'message', format('is required: the customer owes in %s', array_to_string(v_currencies, ', ')));
        ELSIF v_currencies IS NULL THEN
          v_problems := v_problems || jsonb_build_object('field', p_prefix || 'currency',
            'message', 'is required: the customer has no open invoice to take it from');
        ELSE
          v_currency := v_currencies[1];
        END IF;
      END IF;
    END IF;
  END IF;

  -- A promise made in a call is dated from the call (a CRM may sync last
  -- month's calls); one already past due is decided at once, below.
  IF p_call_log IS NOT NULL THEN
    SELECT arc_business_date(l.occurred_at) INTO v_made_on FROM call_logs l WHERE l.id = p_call_log;
  END IF;
  IF NOT (p_prefix || 'promised_on') = ANY (v_bad_fields)
     AND (p->>'promised_on')::date < coalesce(v_made_on, current_date) THEN
    v_problems := v_problems || jsonb_build_object('field', p_prefix || 'promised_on',
      'message', CASE WHEN v_made_on IS NOT NULL
                      THEN format('must be on or after the day of the call (%s)', to_char(v_made_on, 'YYYY-MM-DD'))
                      ELSE format('must be today (%s) or later', to_char(current_date, 'YYYY-MM-DD')) END);
  END IF;

  -- What is owed, once the invoices, the currency and the customer are known.
  IF v_ids_ok AND v_customer_ok AND v_currency IS NOT NULL AND v_amount IS NOT NULL THEN
    IF cardinality(v_ids) > 0 THEN
      SELECT coalesce(sum(inv.balance), 0) INTO v_owed FROM invoices inv WHERE inv.id = ANY (v_ids);
    ELSE
      PERFORM 1 FROM invoices inv
      WHERE inv.customer_id = p_customer AND inv.currency = v_currency AND inv.status = 'open'
      ORDER BY inv.id FOR UPDATE;
      SELECT coalesce(sum(inv.balance), 0) INTO v_owed FROM invoices inv
      WHERE inv.customer_id = p_customer AND inv.currency = v_currency AND inv.status = 'open';
    END IF;
    IF v_amount > v_owed THEN
      v_problems := v_problems || jsonb_build_object('field', p_prefix || 'amount',
        'message', CASE WHEN v_owed = 0 THEN format('is more than is owed: nothing is owed in %s', v_currency)
                        ELSE format('is more than the %s owed on %s', arc_money(v_owed, v_currency),
                                    CASE WHEN cardinality(v_ids) > 0 THEN 'the covered invoices'
                                         ELSE 'the customer''s open invoices' END) END);
    END IF;
  END IF;
  IF jsonb_array_length(v_problems) > 0 THEN
    PERFORM arc_raise_fields(v_problems);
  END IF;

  INSERT INTO promises AS x (customer_id, call_log_id, invoice_ids, amount, currency, promised_on, method, created_by)
  VALUES (p_customer, p_call_log, v_ids, v_amount, v_currency, (p->>'promised_on')::date, p->>'method', p_actor)
  RETURNING x.* INTO v_row;
  -- Payments received earlier the same day count toward it (SPEC: from the
  -- promise's creation day), so it is evaluated at once.
  PERFORM arc_promises_evaluate(now(), p_customer);
  SELECT * INTO v_row FROM promises x WHERE x.id = v_row.id;
  RETURN v_row;
END
$$;

-- PATCH of a promise: cancelling (the caller has locked the row and
-- checked If-Match).  An empty change returns the promise as it is.
CREATE FUNCTION arc_promise_update(p_id bigint, p jsonb)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text)
LANGUAGE plpgsql AS
$$
DECLARE
  cur promises;
BEGIN
  SELECT * INTO cur FROM promises x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM arc_raise('AR404', format('no promise with id %s', p_id));
  END IF;
  IF p->>'status' = 'cancelled' THEN
    IF cur.status <> 'pending' THEN
      PERFORM arc_raise('AR409', format('the promise is %s; only a pending promise can be cancelled', cur.status),
                        'status');
    END IF;
    UPDATE promises x SET status = 'cancelled', cancelled_at = now(), cancel_reason = p->>'cancel_reason'
    WHERE x.id = p_id
    RETURNING x.* INTO cur;
  END IF;
  RETURN QUERY SELECT cur.id, cur.version, arc_promise_json(cur)::text;
END
$$;
