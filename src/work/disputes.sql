-- Disputes (SPEC P6) and receipt confirmation (P1): JSON rendering, opening,
-- resolution and rejection, and the confirmation of an invoice's receipt.
--
-- Lock order: a dispute row (PATCH locks it to check If-Match), then its
-- invoice.  Opening locks the invoice first, then inserts; it never waits
-- for a dispute row lock, so the two orders cannot deadlock.

CREATE FUNCTION arc_dispute_json(d disputes) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(x) FROM (SELECT
    d.id::text AS id,
    d.customer_id::text AS customer_id,
    d.invoice_id::text AS invoice_id,
    d.call_log_id::text AS call_log_id,
    d.reason,
    d.amount,
    d.notes,
    d.status,
    d.resolution,
    d.resolution_notes,
    d.adjustment_id::text AS adjustment_id,
    d.opened_by,
    d.closed_by,
    arc_ts(d.closed_at) AS closed_at,
    d.version,
    arc_ts(d.created_at) AS created_at,
    arc_ts(d.updated_at) AS updated_at) x);
END
$$;

-- Opens a dispute on invoice P_INVOICE.  P carries reason, amount and notes.
-- The one entry point for POST /v1/disputes and for the dispute nested in a
-- call log: there P_CUSTOMER is the call log's customer (the invoice must be
-- theirs) and P_FIELD_PREFIX is 'dispute.', so errors name the nested field.
-- The fields were validated by the caller; they are checked again here
-- because a wrong value must name the field, not a constraint.
CREATE FUNCTION arc_dispute_open(p_invoice bigint, p jsonb, p_actor text, p_call_log bigint, p_customer bigint,
                                 p_field_prefix text)
RETURNS disputes
LANGUAGE plpgsql AS
$$
DECLARE
  pre text := coalesce(p_field_prefix, '');
  v_amount bigint;
  inv invoices;
  d disputes;
BEGIN
  IF p_invoice IS NULL THEN
    PERFORM arc_raise('AR422', 'is required', pre || 'invoice_id');
  END IF;
  IF p->>'reason' IS NULL OR p->>'reason' NOT IN ('pricing', 'quantity', 'damaged', 'not_received', 'missing_po',
                                                  'duplicate', 'quality', 'other') THEN
    PERFORM arc_raise('AR422', 'must be one of: pricing, quantity, damaged, not_received, missing_po, duplicate, '
                      'quality, other', pre || 'reason');
  END IF;
  -- CASE, not OR: the cast must only run on what is known to be digits.
  -- Absent, the amount is the invoice's open balance (read below).
  IF p->'amount' IS NOT NULL
     AND (CASE WHEN jsonb_typeof(p->'amount') = 'number' AND (p->>'amount') ~ '^[0-9]{1,16}$'
               THEN (p->>'amount')::bigint BETWEEN 1 AND 9007199254740991 ELSE false END) IS NOT TRUE THEN
    PERFORM arc_raise('AR422', 'must be an integer number of minor units between 1 and 9007199254740991',
                      pre || 'amount');
  END IF;
  v_amount := (p->>'amount')::bigint;
  -- The invoice row lock queues concurrent openings of one invoice, so the
  -- check for an open dispute below cannot race.
  SELECT * INTO inv FROM invoices WHERE id = p_invoice FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM arc_raise('AR422', format('no invoice with id %s', p_invoice), pre || 'invoice_id');
  END IF;
  IF p_customer IS NOT NULL AND inv.customer_id <> p_customer THEN
    PERFORM arc_raise('AR422', format('invoice %s belongs to another customer', p_invoice), pre || 'invoice_id');
  END IF;
  IF inv.status <> 'open' THEN
    PERFORM arc_raise('AR409', format('the invoice is %s; only an open invoice can be disputed',
                                      replace(inv.status, '_', ' ')), pre || 'invoice_id');
  END IF;
  IF v_amount IS NULL THEN
    v_amount := inv.balance;
  END IF;
  IF v_amount > inv.amount THEN
    PERFORM arc_raise('AR422', format('must not be more than the invoice amount of %s', arc_money(inv.amount, inv.currency)),
                      pre || 'amount');
  END IF;
  IF p_call_log IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM call_logs c WHERE c.id = p_call_log AND c.customer_id = inv.customer_id) THEN
    PERFORM arc_raise('AR422', format('no call log with id %s for this invoice''s customer', p_call_log),
                      pre || 'call_log_id');
  END IF;
  -- Reported as the unique index would (409 duplicate), naming the field
  -- with its prefix; the index itself stays the last line of defence.
  IF EXISTS (SELECT 1 FROM disputes x WHERE x.invoice_id = inv.id AND x.status = 'open') THEN
    RAISE EXCEPTION USING ERRCODE = 'unique_violation', TABLE = 'disputes',
      CONSTRAINT = 'disputes_' || pre || 'invoice_id_key',
      MESSAGE = format('invoice %s already has an open dispute', inv.id);
  END IF;
  INSERT INTO disputes (customer_id, invoice_id, call_log_id, reason, amount, notes, opened_by)
  VALUES (inv.customer_id, inv.id, p_call_log, p->>'reason', v_amount, p->>'notes', p_actor)
  RETURNING * INTO d;
  -- in_dispute is part of the invoice's document: touching the row gives it
  -- a new version (ETag) and an invoice.updated event, so syncs see the flip.
  UPDATE invoices SET updated_at = now() WHERE id = inv.id;
  RETURN d;
END
$$;

-- PATCH of a dispute (the caller has locked it and checked If-Match).  P
-- holds validated fields whose combination fits (checked by the handler):
-- {status: resolved, resolution, ...}, {status: rejected, ...} and/or notes.
-- Money moves only through arc_invoice_adjust, so the invoice's own rules
-- (row lock, balance never below 0) hold here too.
CREATE FUNCTION arc_dispute_update(p_id bigint, p jsonb, p_actor text)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text)
LANGUAGE plpgsql AS
$$
DECLARE
  cur disputes;
  inv invoices;
  want text := p->>'status';
  how text := p->>'resolution';
  v_credit bigint;
  v_delta bigint;
  v_due date;
  v_adj bigint;
BEGIN
  SELECT * INTO cur FROM disputes WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM arc_raise('AR404', format('no dispute with id %s', p_id));
  END IF;
  IF want IS NOT NULL AND cur.status <> 'open' THEN
    PERFORM arc_raise('AR409', format('the dispute is already %s; only an open dispute can be resolved or rejected',
                                      cur.status), 'status');
  END IF;
  IF (p ? 'notes' OR p ? 'resolution_notes') AND cur.status <> 'open' THEN
    PERFORM arc_raise('AR409', format('the dispute is %s; its notes can only change while it is open', cur.status),
                      CASE WHEN p ? 'notes' THEN 'notes' ELSE 'resolution_notes' END);
  END IF;
  IF want = 'resolved' AND how IN ('credit_issued', 'corrected_invoice') THEN
    SELECT * INTO inv FROM invoices WHERE id = cur.invoice_id FOR UPDATE;
    IF inv.status IN ('void', 'written_off') THEN
      PERFORM arc_raise('AR409', format('the invoice is %s and can no longer be credited or corrected',
                                        replace(inv.status, '_', ' ')), 'resolution');
    END IF;
    IF how = 'credit_issued' THEN
      v_credit := (p->>'credit_amount')::bigint;
      IF v_credit > inv.balance THEN
        PERFORM arc_raise('AR409', format('a credit of %s is more than the invoice balance of %s',
                                          arc_money(v_credit, inv.currency), arc_money(inv.balance, inv.currency)),
                          'credit_amount');
      END IF;
      SELECT a.res_id INTO v_adj
      FROM arc_invoice_adjust(inv.id, 'credit', -v_credit,
                              format('dispute %s (%s): credit issued', cur.id, cur.reason), p_actor) a;
    ELSE
      IF p ? 'new_due_on' THEN
        v_due := (p->>'new_due_on')::date;
        IF v_due < inv.issued_on THEN
          PERFORM arc_raise('AR422', format('must be on or after the invoice''s issued_on (%s)',
                                            to_char(inv.issued_on, 'YYYY-MM-DD')), 'new_due_on');
        END IF;
        -- A resubmitted invoice gets a fresh due date; one already past
        -- would make it overdue again at once.
        IF v_due < current_date THEN
          PERFORM arc_raise('AR422', 'must not be before today: the corrected invoice is due from its new date',
                            'new_due_on');
        END IF;
      END IF;
      IF p ? 'new_amount' THEN
        v_delta := (p->>'new_amount')::bigint - inv.amount;
        IF inv.balance + v_delta < 0 THEN
          PERFORM arc_raise('AR409', format('a new amount of %s is less than the %s already paid on the invoice',
                                            arc_money((p->>'new_amount')::bigint, inv.currency),
                                            arc_money(inv.amount - inv.balance, inv.currency)), 'new_amount');
        END IF;
        IF v_delta <> 0 THEN
          SELECT a.res_id INTO v_adj
          FROM arc_invoice_adjust(inv.id, 'correction', v_delta,
                                  format('dispute %s (%s): corrected invoice', cur.id, cur.reason), p_actor) a;
        END IF;
      END IF;
      IF v_due IS NOT NULL THEN
        UPDATE invoices SET due_on = v_due, resubmitted_on = current_date WHERE id = inv.id;
      END IF;
    END IF;
  END IF;
  UPDATE disputes SET
    status           = coalesce(want, status),
    resolution       = CASE WHEN want = 'resolved' THEN how ELSE resolution END,
    resolution_notes = CASE WHEN p ? 'resolution_notes' THEN p->>'resolution_notes' ELSE resolution_notes END,
    notes            = CASE WHEN p ? 'notes' THEN p->>'notes' ELSE notes END,
    adjustment_id    = coalesce(v_adj, adjustment_id),
    closed_by        = CASE WHEN want IS NOT NULL THEN p_actor ELSE closed_by END,
    closed_at        = CASE WHEN want IS NOT NULL THEN now() ELSE closed_at END
  WHERE id = p_id
  RETURNING * INTO cur;
  IF want IS NOT NULL THEN
    UPDATE invoices SET updated_at = now() WHERE id = cur.invoice_id; -- in_dispute flipped (see above)
  END IF;
  RETURN QUERY SELECT cur.id, cur.version, arc_dispute_json(cur)::text;
END
$$;
