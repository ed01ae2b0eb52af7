-- POST /v1/invoices/{id}/receipt-confirmation (the caller has locked the
-- invoice and checked If-Match).  Who at the customer confirmed, how, and
-- when (default now); a later confirmation replaces an earlier one.  A
-- little clock skew is allowed, as for call logs.
CREATE FUNCTION arc_invoice_confirm_receipt(p_id bigint, p jsonb)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text)
LANGUAGE plpgsql AS
$$
DECLARE
  cur invoices;
  v_at timestamptz := coalesce((p->>'confirmed_at')::timestamptz, now());
BEGIN
  SELECT * INTO cur FROM invoices WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM arc_raise('AR404', format('no invoice with id %s', p_id));
  END IF;
  IF cur.status = 'void' THEN
    PERFORM arc_raise('AR409', 'the invoice is void; there is no receipt to confirm');
  END IF;
  IF v_at > now() + interval '5 minutes' THEN
    PERFORM arc_raise('AR422', 'must not be in the future', 'confirmed_at');
  END IF;
  -- issued_on is a day of the business's calendar (the session TimeZone).
  IF v_at < cur.issued_on::timestamptz THEN
    PERFORM arc_raise('AR422', format('must not be before the invoice was issued (%s)',
                                      to_char(cur.issued_on, 'YYYY-MM-DD')), 'confirmed_at');
  END IF;
  UPDATE invoices SET
    receipt_confirmed_at  = v_at,
    receipt_confirmed_via = p->>'via',
    receipt_confirmed_by  = p->>'confirmed_by'
  WHERE id = p_id
  RETURNING * INTO cur;
  RETURN QUERY SELECT cur.id, cur.version, arc_invoice_json(cur)::text;
END
$$;
