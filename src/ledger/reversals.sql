-- Reverses a payment (a bounced check): every active allocation goes back
-- onto its invoice's balance (a paid invoice reopens through the status
-- trigger) and is marked reversed; the payment keeps its allocations as
-- history and no longer counts as customer credit.  The payment row is
-- locked first, then its invoices in id order.
CREATE FUNCTION arc_payment_reverse(p_id bigint, p_reason text)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text)
LANGUAGE plpgsql AS
$$
DECLARE
  cur payments;
BEGIN
  SELECT * INTO cur FROM payments x WHERE x.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM arc_raise('AR404', format('no payment with id %s', p_id));
  END IF;
  IF cur.status = 'reversed' THEN
    PERFORM arc_raise('AR409', format('payment %s was already reversed at %s', p_id, arc_ts(cur.reversed_at)));
  END IF;
  PERFORM 1 FROM invoices inv
  WHERE inv.id IN (SELECT a.invoice_id FROM payment_allocations a
                   WHERE a.payment_id = p_id AND a.reversed_at IS NULL)
  ORDER BY inv.id FOR UPDATE;
  UPDATE invoices inv SET balance = inv.balance + s.amt
  FROM (SELECT a.invoice_id, sum(a.amount)::bigint AS amt FROM payment_allocations a
        WHERE a.payment_id = p_id AND a.reversed_at IS NULL GROUP BY a.invoice_id) s
  WHERE inv.id = s.invoice_id;
  UPDATE payment_allocations a SET reversed_at = now() WHERE a.payment_id = p_id AND a.reversed_at IS NULL;
  UPDATE payments x SET status = 'reversed', reversed_at = now(), reversal_reason = p_reason
  WHERE x.id = p_id
  RETURNING x.* INTO cur;
  PERFORM arc_promises_evaluate(now(), cur.customer_id);
  RETURN QUERY SELECT cur.id, cur.version, arc_payment_json(cur)::text;
END
$$;
