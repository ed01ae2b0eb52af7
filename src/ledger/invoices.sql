-- Invoices and their adjustments: JSON rendering and the writes that need
-- logic (status changes, adjustments under a row lock, the external upsert).

-- open <-> paid follows the balance; void and written_off stay as set.
CREATE FUNCTION arc_invoice_status() RETURNS trigger
LANGUAGE plpgsql AS
$$
BEGIN
  IF NEW.status IN ('open', 'paid') THEN
    NEW.status := CASE WHEN NEW.balance = 0 THEN 'paid' ELSE 'open' END;
  END IF;
  RETURN NEW;
END
$$;

-- The invoice as clients see it.  days_overdue counts from the business's
-- today (the session TimeZone is ARC_TIMEZONE).  void and written_off keep
-- their balance as it was, so paid_amount stays true; only open invoices
-- are owed and only they can be overdue.  in_dispute says an open dispute
-- is on it (the dunning rules skip such invoices); resubmitted_on is the
-- day a corrected invoice was resubmitted; in_plan is true while the
-- invoice is in an active payment plan, which plan_id names.
CREATE FUNCTION arc_invoice_fields(i invoices)
RETURNS TABLE (id text, customer_id text, external_id text, number text, currency text,
               original_amount bigint, amount bigint, balance bigint, paid_amount bigint, issued_on date,
               due_on date, po_number text, description text, factored boolean, status text,
               days_overdue integer, in_dispute boolean, in_plan boolean, plan_id text,
               receipt_confirmed_at text, receipt_confirmed_via text, receipt_confirmed_by text,
               resubmitted_on date, version bigint, created_at text, updated_at text)
LANGUAGE sql STABLE AS
$$
  SELECT
    i.id::text,
    i.customer_id::text,
    i.external_id,
    i.number,
    i.currency,
    i.original_amount,
    i.amount,
    i.balance,
    i.amount - i.balance,
    i.issued_on,
    i.due_on,
    i.po_number,
    i.description,
    i.factored,
    i.status,
    CASE WHEN i.status = 'open' AND i.due_on < current_date THEN current_date - i.due_on ELSE 0 END,
    -- Not EXISTS: planned for a page of unknown size, that is hashed, which
    -- reads every open dispute to list 50 invoices.
    coalesce((SELECT true FROM disputes x WHERE x.invoice_id = i.id AND x.status = 'open' LIMIT 1), false),
    i.plan_id IS NOT NULL,
    i.plan_id::text,
    arc_ts(i.receipt_confirmed_at),
    i.receipt_confirmed_via,
    i.receipt_confirmed_by,
    i.resubmitted_on,
    i.version,
    arc_ts(i.created_at),
    arc_ts(i.updated_at)
$$;

-- The same as one JSON text, for SQL that needs the document (events,
-- replies of writes done in PL/pgSQL).
CREATE FUNCTION arc_invoice_json(i invoices) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM arc_invoice_fields(i) d);
END
$$;

-- PATCH of an invoice (the caller has checked If-Match under the same row
-- lock).  P holds only validated fields; presence (p ? 'x') means "change".
CREATE FUNCTION arc_invoice_update(p_id bigint, p jsonb)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text)
LANGUAGE plpgsql AS
$$
DECLARE
  cur invoices;
  want text := p->>'status';
BEGIN
  SELECT * INTO cur FROM invoices WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM arc_raise('AR404', format('no invoice with id %s', p_id));
  END IF;
  IF want IS NOT NULL AND cur.status IN ('void', 'written_off') THEN
    PERFORM arc_raise('AR409', format('the invoice is already %s', replace(cur.status, '_', ' ')), 'status');
  END IF;
  IF want = 'void' AND EXISTS (SELECT 1 FROM payment_allocations
                               WHERE invoice_id = p_id AND reversed_at IS NULL) THEN
    PERFORM arc_raise('AR409', 'a payment is applied to this invoice; reverse the payment before voiding it',
                      'status');
  END IF;
  IF want = 'written_off' AND cur.status <> 'open' THEN
    PERFORM arc_raise('AR409', 'only an open invoice can be written off; this one is paid', 'status');
  END IF;
  -- One date alone is checked against the stored other one.
  IF p ? 'due_on' AND NOT p ? 'issued_on' AND (p->>'due_on')::date < cur.issued_on THEN
    PERFORM arc_raise('AR422', format('must be on or after issued_on (%s)', to_char(cur.issued_on, 'YYYY-MM-DD')),
                      'due_on');
  END IF;
  IF p ? 'issued_on' AND NOT p ? 'due_on' AND (p->>'issued_on')::date > cur.due_on THEN
    PERFORM arc_raise('AR422', format('must be on or before due_on (%s)', to_char(cur.due_on, 'YYYY-MM-DD')),
                      'issued_on');
  END IF;
  UPDATE invoices SET
    number      = CASE WHEN p ? 'number' THEN p->>'number' ELSE number END,
    issued_on   = CASE WHEN p ? 'issued_on' THEN (p->>'issued_on')::date ELSE issued_on END,
    due_on      = CASE WHEN p ? 'due_on' THEN (p->>'due_on')::date ELSE due_on END,
    po_number   = CASE WHEN p ? 'po_number' THEN p->>'po_number' ELSE po_number END,
    description = CASE WHEN p ? 'description' THEN p->>'description' ELSE description END,
    factored    = CASE WHEN p ? 'factored' THEN (p->>'factored')::boolean ELSE factored END,
    external_id = CASE WHEN p ? 'external_id' THEN p->>'external_id' ELSE external_id END,
    status      = coalesce(want, status)
  WHERE id = p_id
  RETURNING * INTO cur;
  RETURN QUERY SELECT cur.id, cur.version, arc_invoice_json(cur)::text;
END
$$;

-- PUT /v1/invoices/external/{external_id}: creates, or brings an existing
-- invoice in line with the external system.  The amount the external
-- system last said is the original amount plus earlier "external sync"
-- corrections; a different amount now records the difference as a
-- correction, so local credits and debits survive a re-sync and a repeated
-- sync changes nothing.  Absent optional fields stay as they are.
CREATE FUNCTION arc_invoice_upsert(p_ext text, p jsonb, p_actor text)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text, res_created boolean)
LANGUAGE plpgsql AS
$$
DECLARE
  cur invoices;
  synced bigint;
  delta bigint;
BEGIN
  -- Concurrent upserts of one external_id queue here: ON CONFLICT alone
  -- would still let the loser fail on the number's unique index.
  PERFORM pg_advisory_xact_lock(hashtextextended('invoices.external_id:' || p_ext, 7250004));
  SELECT * INTO cur FROM invoices WHERE external_id = p_ext FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO invoices (customer_id, external_id, number, currency, original_amount, amount, balance,
                          issued_on, due_on, po_number, description, factored)
    VALUES ((p->>'customer_id')::bigint, p_ext, p->>'number', p->>'currency', (p->>'amount')::bigint,
            (p->>'amount')::bigint, (p->>'amount')::bigint, (p->>'issued_on')::date, (p->>'due_on')::date,
            p->>'po_number', p->>'description', coalesce((p->>'factored')::boolean, false))
    ON CONFLICT (external_id) DO NOTHING
    RETURNING * INTO cur;
    IF FOUND THEN
      RETURN QUERY SELECT cur.id, cur.version, arc_invoice_json(cur)::text, true;
      RETURN;
    END IF;
    -- Created meanwhile by a request that did not queue (POST): update it.
    SELECT * INTO cur FROM invoices WHERE external_id = p_ext FOR UPDATE;
    IF NOT FOUND THEN
      PERFORM arc_raise('AR409', 'the invoice with this external_id is being changed by another request; retry',
                        'external_id');
    END IF;
  END IF;
  IF cur.customer_id <> (p->>'customer_id')::bigint THEN
    PERFORM arc_raise('AR409', 'the invoice with this external_id belongs to another customer', 'customer_id');
  END IF;
  IF cur.currency <> p->>'currency' THEN
    PERFORM arc_raise('AR409', format('the invoice with this external_id is in %s', cur.currency), 'currency');
  END IF;
  SELECT cur.original_amount + coalesce(sum(a.amount), 0) INTO synced
  FROM invoice_adjustments a
  WHERE a.invoice_id = cur.id AND a.kind = 'correction' AND a.reason = 'external sync';
  delta := (p->>'amount')::bigint - synced;
  IF delta <> 0 THEN
    IF cur.balance + delta < 0 THEN
      PERFORM arc_raise('AR410', format('the new amount would leave a balance of %s: more has been paid or credited than the invoice amount',
                                        arc_money(cur.balance + delta, cur.currency)), 'amount');
    END IF;
    PERFORM arc_invoice_adjust(cur.id, 'correction', delta, 'external sync', p_actor);
  END IF;
  UPDATE invoices SET
    number      = p->>'number',
    issued_on   = (p->>'issued_on')::date,
    due_on      = (p->>'due_on')::date,
    po_number   = CASE WHEN p ? 'po_number' THEN p->>'po_number' ELSE po_number END,
    description = CASE WHEN p ? 'description' THEN p->>'description' ELSE description END,
    factored    = CASE WHEN p ? 'factored' THEN (p->>'factored')::boolean ELSE factored END
  WHERE id = cur.id
  RETURNING * INTO cur;
  RETURN QUERY SELECT cur.id, cur.version, arc_invoice_json(cur)::text, false;
END
$$;

-- Where an invoice due on DUE stands on AS_OF: not yet overdue, or by days
-- past due.  Kept apart so reports bucket the same way.
CREATE FUNCTION arc_aging_bucket(due date, as_of date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
  SELECT CASE
    WHEN due >= as_of THEN 'current'
    WHEN as_of - due <= 30 THEN '1-30'
    WHEN as_of - due <= 60 THEN '31-60'
    WHEN as_of - due <= 90 THEN '61-90'
    ELSE '91+' END
$$;

CREATE TRIGGER invoices_status BEFORE INSERT OR UPDATE ON invoices FOR EACH ROW EXECUTE FUNCTION arc_invoice_status();
