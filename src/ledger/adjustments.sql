-- An adjustment with the invoice as it is now (right after the change when
-- the adjustment was just made).  Adjustments never change: version 1.
CREATE FUNCTION arc_adjustment_json(a invoice_adjustments) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM (SELECT
    a.id::text AS id,
    a.invoice_id::text AS invoice_id,
    a.customer_id::text AS customer_id,
    a.kind,
    a.amount,
    a.reason,
    a.created_by,
    1 AS version,
    arc_ts(a.created_at) AS created_at,
    arc_ts(a.created_at) AS updated_at,
    (SELECT arc_invoice_json(i) FROM invoices i WHERE i.id = a.invoice_id) AS invoice) d);
END
$$;

-- Applies a signed change to an invoice's amount and balance under its row
-- lock and records it.  The doc is rendered here, after the update: a
-- caller's own snapshot would still show the invoice as it was.
CREATE FUNCTION arc_invoice_adjust(p_invoice bigint, p_kind text, p_amount bigint, p_reason text,
                                   p_actor text)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text)
LANGUAGE plpgsql AS
$$
DECLARE
  inv invoices;
  adj invoice_adjustments;
BEGIN
  SELECT * INTO inv FROM invoices WHERE id = p_invoice FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM arc_raise('AR404', format('no invoice with id %s', p_invoice));
  END IF;
  IF inv.status IN ('void', 'written_off') THEN
    PERFORM arc_raise('AR409', format('the invoice is %s and can no longer be adjusted',
                                      replace(inv.status, '_', ' ')));
  END IF;
  IF inv.balance + p_amount < 0 THEN
    PERFORM arc_raise('AR409', format('lowering the invoice by %s is more than its balance of %s',
                                      arc_money(-p_amount, inv.currency), arc_money(inv.balance, inv.currency)), 'amount');
  END IF;
  UPDATE invoices SET amount = amount + p_amount, balance = balance + p_amount WHERE id = p_invoice;
  INSERT INTO invoice_adjustments (customer_id, invoice_id, kind, amount, reason, created_by)
  VALUES (inv.customer_id, inv.id, p_kind, p_amount, p_reason, p_actor)
  RETURNING * INTO adj;
  RETURN QUERY SELECT adj.id, 1::bigint, arc_adjustment_json(adj)::text;
END
$$;
