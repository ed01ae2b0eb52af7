-- ---------------------------------------------------------------------------
-- Cell checks, the SQL twins of jspec (src/http/jspec.c).  An empty cell
-- (unquoted empty, "" or blanks only) is no value.
CREATE FUNCTION arc_import_blank(t text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT t IS NULL OR btrim(t, E' \t\r\n') = '' $$;

-- YYYY-MM-DD, a real calendar date from 1900 on (date_is_valid).
CREATE FUNCTION arc_import_is_date(t text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS
$$
  SELECT CASE WHEN t ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                   AND substr(t, 1, 4)::int >= 1900 AND substr(t, 6, 2)::int BETWEEN 1 AND 12
              THEN substr(t, 9, 2)::int BETWEEN 1 AND
                   extract(day FROM make_date(substr(t, 1, 4)::int, substr(t, 6, 2)::int, 1)
                                    + interval '1 month' - interval '1 day')::int
              ELSE false END
$$;

-- An integer in [lo, hi], written without sign noise or fraction.
CREATE FUNCTION arc_import_is_int(t text, lo bigint, hi bigint) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN t ~ '^-?[0-9]{1,18}$' THEN t::bigint BETWEEN lo AND hi ELSE false END $$;

-- jspec_is_email: one '@' with something before it, a dot in the domain
-- that is neither its first nor its last character, no blanks or control
-- characters, at most 254 bytes.
CREATE FUNCTION arc_import_is_email(t text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS
$$
  SELECT octet_length(t) <= 254 AND t !~ '[\x01-\x20]' AND t ~ '^[^@]+@[^@]*$'
         AND split_part(t, '@', 2) ~ '^.+\.[^.]+$'
$$;

-- CSV has no booleans: true/false, yes/no or 1/0, any case.
CREATE FUNCTION arc_import_bool(t text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS
$$
  SELECT CASE WHEN lower(t) IN ('true', 'yes', '1') THEN true
              WHEN lower(t) IN ('false', 'no', '0') THEN false END
$$;

-- A list of days "mon,thu" (or separated by ; | or blanks) as the JSON
-- array the API takes (arc_contact_days puts it in week order).
CREATE FUNCTION arc_import_days(t text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT to_jsonb(regexp_split_to_array(btrim(t, E' \t,;|'), '[ \t,;|]+')) $$;

-- Whether T is such a list: day names only, each at most once.
CREATE FUNCTION arc_import_days_ok(t text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS
$$
  SELECT t ~ '^[ \t,;|]*(mon|tue|wed|thu|fri|sat|sun)([ \t,;|]+(mon|tue|wed|thu|fri|sat|sun))*[ \t,;|]*$'
         AND t !~ '(mon|tue|wed|thu|fri|sat|sun).*\1'
$$;

-- Casts that cannot raise: NULL for a cell a check has refused.
CREATE FUNCTION arc_import_bigint(t text) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN t ~ '^-?[0-9]{1,18}$' THEN t::bigint END $$;

CREATE FUNCTION arc_import_date(t text) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN arc_import_is_date(t) THEN t::date END $$;

-- The error document of a failed check, or NULL when it passed.
CREATE FUNCTION arc_import_err(failed boolean, rn bigint, ord integer, field text, message text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN failed THEN jsonb_build_object('row', rn + 1, 'ord', ord, 'field', field, 'message', message) END $$;

-- Resolves a customer named by customer_id or customer_external_id (either
-- or both columns): NULL when neither cell names an existing customer.
CREATE FUNCTION arc_import_customer(p_id text, p_ext text) RETURNS bigint
LANGUAGE sql STABLE AS
$$
  SELECT coalesce(
    (SELECT c.id FROM customers c WHERE c.id = arc_import_bigint(p_id)),
    (SELECT c.id FROM customers c WHERE c.external_id = p_ext AND NOT arc_import_blank(p_ext)))
$$;

-- What the external system last said an invoice amounts to: its original
-- amount plus the "external sync" corrections (as arc_invoice_upsert).
CREATE FUNCTION arc_import_synced(i invoices) RETURNS bigint
LANGUAGE sql STABLE AS
$$
  SELECT i.original_amount + coalesce(sum(a.amount), 0)::bigint
  FROM invoice_adjustments a
  WHERE a.invoice_id = i.id AND a.kind = 'correction' AND a.reason = 'external sync'
$$;

-- ---------------------------------------------------------------------------
-- Duplicates: a row whose external_id (or invoice number) an earlier row of
-- the file already has.  The earlier row is the one applied.
CREATE FUNCTION arc_import_duplicates(p_import bigint, p_kind text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS
$$
DECLARE
  errs jsonb;
BEGIN
  IF p_kind = 'customers' THEN
    SELECT jsonb_agg(jsonb_build_object('row', d.rn + 1, 'field', 'external_id', 'message',
                                        format('repeats the external_id of row %s', d.first + 1)) ORDER BY d.rn)
      INTO errs
      FROM (SELECT r.rn, min(r.rn) OVER (PARTITION BY r.external_id) AS first
            FROM import_customer_rows r WHERE r.import_id = p_import AND NOT arc_import_blank(r.external_id)) d
     WHERE d.rn > d.first;
  ELSIF p_kind = 'invoices' THEN
    SELECT jsonb_agg(x ORDER BY (x->>'row')::bigint, x->>'field') INTO errs FROM (
      SELECT jsonb_build_object('row', d.rn + 1, 'field', 'external_id', 'message',
                                format('repeats the external_id of row %s', d.first + 1)) AS x
        FROM (SELECT r.rn, min(r.rn) OVER (PARTITION BY r.external_id) AS first
              FROM import_invoice_rows r WHERE r.import_id = p_import AND NOT arc_import_blank(r.external_id)) d
       WHERE d.rn > d.first
      UNION ALL
      SELECT jsonb_build_object('row', d.rn + 1, 'field', 'number', 'message',
                                format('repeats the number of row %s', d.first + 1))
        FROM (SELECT r.rn, min(r.rn) OVER (PARTITION BY r.number) AS first
              FROM import_invoice_rows r WHERE r.import_id = p_import AND NOT arc_import_blank(r.number)) d
       WHERE d.rn > d.first) s;
  ELSE
    SELECT jsonb_agg(jsonb_build_object('row', d.rn + 1, 'field', 'external_id', 'message',
                                        format('repeats the external_id of row %s', d.first + 1)) ORDER BY d.rn)
      INTO errs
      FROM (SELECT r.rn, min(r.rn) OVER (PARTITION BY r.external_id) AS first
            FROM import_payment_rows r WHERE r.import_id = p_import AND NOT arc_import_blank(r.external_id)) d
     WHERE d.rn > d.first;
  END IF;
  RETURN coalesce(errs, '[]'::jsonb);
END
$$;

-- ---------------------------------------------------------------------------
-- Checks of one batch (rows P_FROM..P_TO): every failed rule of every row,
-- as a JSON array of {row, field, message} in row order.  COLS are the
-- file's columns: a rule about a column the file does not have is skipped
-- (the header check has already refused files missing a required one).
CREATE FUNCTION arc_import_check_customers(p_import bigint, p_from bigint, p_to bigint, cols text[]) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  WITH r AS (
    SELECT r.*, t.name IS NOT NULL AS tz_known
    FROM import_customer_rows r LEFT JOIN timezones t ON t.name = r.timezone
    WHERE r.import_id = p_import AND r.rn BETWEEN p_from AND p_to)
  SELECT coalesce(jsonb_agg(e - 'ord' ORDER BY r.rn, (e->>'ord')::int), '[]'::jsonb)
  FROM r
  CROSS JOIN LATERAL (VALUES
    (arc_import_err(arc_import_blank(r.external_id), r.rn, 1, 'external_id', 'is required')),
    (arc_import_err(char_length(r.external_id) > 200, r.rn, 2, 'external_id', 'must be at most 200 characters')),
    (arc_import_err(arc_import_blank(r.name), r.rn, 3, 'name', 'is required')),
    (arc_import_err(char_length(r.name) > 200, r.rn, 4, 'name', 'must be at most 200 characters')),
    (arc_import_err(NOT arc_import_blank(r.kind) AND r.kind NOT IN ('commercial', 'consumer'), r.rn, 5, 'kind',
                    'must be one of: commercial, consumer')),
    (arc_import_err(NOT arc_import_blank(r.email) AND NOT arc_import_is_email(r.email), r.rn, 6, 'email',
                    'must be an e-mail address')),
    (arc_import_err(char_length(r.phone) > 40, r.rn, 7, 'phone', 'must be at most 40 characters')),
    (arc_import_err(NOT arc_import_blank(r.timezone) AND NOT r.tz_known, r.rn, 8, 'timezone',
                    'must be an IANA time zone name such as America/New_York or UTC')),
    (arc_import_err(NOT arc_import_blank(r.preferred_contact_days) AND NOT arc_import_days_ok(r.preferred_contact_days),
                    r.rn, 9, 'preferred_contact_days',
                    'must list distinct days of mon, tue, wed, thu, fri, sat, sun (separated by commas or blanks); empty means the default for the kind')),
    (arc_import_err(NOT arc_import_blank(r.cadence_days) AND NOT arc_import_is_int(r.cadence_days, 1, 365), r.rn, 10,
                    'cadence_days', 'must be an integer between 1 and 365')),
    (arc_import_err(NOT arc_import_blank(r.check_in_days) AND NOT arc_import_is_int(r.check_in_days, 1, 3650), r.rn, 11,
                    'check_in_days', 'must be an integer between 1 and 3650')),
    (arc_import_err(char_length(r.collector) > 200, r.rn, 12, 'collector', 'must be at most 200 characters')),
    (arc_import_err(char_length(r.salesperson) > 200, r.rn, 13, 'salesperson', 'must be at most 200 characters')),
    (arc_import_err(NOT arc_import_blank(r.cease_communication) AND arc_import_bool(r.cease_communication) IS NULL,
                    r.rn, 14, 'cease_communication', 'must be true or false (or yes/no, 1/0)')),
    (arc_import_err(char_length(r.notes) > 10000, r.rn, 15, 'notes', 'must be at most 10000 characters'))
  ) AS v(e)
  WHERE e IS NOT NULL
$$;

CREATE FUNCTION arc_import_check_invoices(p_import bigint, p_from bigint, p_to bigint, cols text[]) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  WITH r AS (
    SELECT r.*, arc_import_customer(r.customer_id, r.customer_external_id) AS cust,
           CASE WHEN r.amount ~ '^[0-9]{1,16}$' THEN r.amount::bigint END AS amt,
           (SELECT i FROM invoices i WHERE i.external_id = r.external_id) AS cur
    FROM import_invoice_rows r
    WHERE r.import_id = p_import AND r.rn BETWEEN p_from AND p_to)
  SELECT coalesce(jsonb_agg(e - 'ord' ORDER BY r.rn, (e->>'ord')::int), '[]'::jsonb)
  FROM r
  CROSS JOIN LATERAL (VALUES
    (arc_import_err(arc_import_blank(r.external_id), r.rn, 1, 'external_id', 'is required')),
    (arc_import_err(char_length(r.external_id) > 200, r.rn, 2, 'external_id', 'must be at most 200 characters')),
    (arc_import_err(arc_import_blank(r.customer_id) AND arc_import_blank(r.customer_external_id), r.rn, 3,
                    CASE WHEN 'customer_external_id' = ANY (cols) THEN 'customer_external_id' ELSE 'customer_id' END,
                    'is required: the customer the invoice belongs to')),
    (arc_import_err(NOT arc_import_blank(r.customer_id) AND r.customer_id !~ '^[1-9][0-9]{0,17}$', r.rn, 4,
                    'customer_id', 'must be an id')),
    (arc_import_err(NOT (arc_import_blank(r.customer_id) AND arc_import_blank(r.customer_external_id))
                    AND r.cust IS NULL, r.rn, 5,
                    CASE WHEN NOT arc_import_blank(r.customer_external_id) THEN 'customer_external_id' ELSE 'customer_id' END,
                    'names no customer')),
    (arc_import_err(r.customer_id ~ '^[1-9][0-9]{0,17}$' AND NOT arc_import_blank(r.customer_external_id)
                    AND r.cust IS NOT NULL AND (r.cust <> arc_import_bigint(r.customer_id)
                      OR NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = r.cust AND c.external_id = r.customer_external_id)),
                    r.rn, 6, 'customer_external_id', 'names another customer than customer_id')),
    (arc_import_err(arc_import_blank(r.number), r.rn, 7, 'number', 'is required')),
    (arc_import_err(char_length(r.number) > 64, r.rn, 8, 'number', 'must be at most 64 characters')),
    (arc_import_err(NOT arc_import_blank(r.number) AND EXISTS (
                      SELECT 1 FROM invoices o WHERE o.number = r.number
                      AND o.external_id IS DISTINCT FROM r.external_id), r.rn, 9, 'number',
                    'is already the number of another invoice')),
    (arc_import_err(coalesce(r.currency, '') !~ '^[A-Z]{3}$', r.rn, 10, 'currency',
                    'must be an ISO 4217 currency code such as USD')),
    (arc_import_err(NOT arc_import_is_int(r.amount, 1, 9007199254740991), r.rn, 11, 'amount',
                    CASE WHEN arc_import_blank(r.amount) THEN 'is required'
                         WHEN r.amount ~ '^-?[0-9]+$' THEN 'must be between 1 and 9007199254740991'
                         ELSE 'must be an integer number of minor units (cents), not a fraction' END)),
    (arc_import_err(NOT arc_import_is_date(r.issued_on), r.rn, 12, 'issued_on',
                    CASE WHEN arc_import_blank(r.issued_on) THEN 'is required' ELSE 'must be a date YYYY-MM-DD' END)),
    (arc_import_err(NOT arc_import_is_date(r.due_on), r.rn, 13, 'due_on',
                    CASE WHEN arc_import_blank(r.due_on) THEN 'is required' ELSE 'must be a date YYYY-MM-DD' END)),
    (arc_import_err(arc_import_is_date(r.issued_on) AND arc_import_is_date(r.due_on) AND r.due_on < r.issued_on,
                    r.rn, 14, 'due_on', format('must be on or after issued_on (%s)', r.issued_on))),
    (arc_import_err(char_length(r.po_number) > 100, r.rn, 15, 'po_number', 'must be at most 100 characters')),
    (arc_import_err(char_length(r.description) > 2000, r.rn, 16, 'description', 'must be at most 2000 characters')),
    (arc_import_err(NOT arc_import_blank(r.factored) AND arc_import_bool(r.factored) IS NULL, r.rn, 17, 'factored',
                    'must be true or false (or yes/no, 1/0)')),
    -- What PUT /v1/invoices/external/{id} refuses for an invoice that exists.
    (arc_import_err((r.cur).id IS NOT NULL AND r.cust IS NOT NULL AND (r.cur).customer_id <> r.cust, r.rn, 18,
                    CASE WHEN 'customer_external_id' = ANY (cols) THEN 'customer_external_id' ELSE 'customer_id' END,
                    'the invoice with this external_id belongs to another customer')),
    (arc_import_err((r.cur).id IS NOT NULL AND (r.cur).currency <> r.currency AND r.currency ~ '^[A-Z]{3}$', r.rn, 19,
                    'currency', format('the invoice with this external_id is in %s', (r.cur).currency))),
    (arc_import_err((r.cur).id IS NOT NULL AND r.amt IS NOT NULL AND (r.cur).balance + r.amt - arc_import_synced(r.cur) < 0,
                    r.rn, 20, 'amount',
                    format('the new amount would leave a balance of %s: more has been paid or credited than the invoice amount',
                           (r.cur).balance + r.amt - arc_import_synced(r.cur))))
  ) AS v(e)
  WHERE e IS NOT NULL
$$;

-- The invoice a payment row names by invoice_external_id or invoice_number.
CREATE FUNCTION arc_import_invoice(p_ext text, p_number text) RETURNS invoices
LANGUAGE sql STABLE AS
$$
  SELECT i.* FROM invoices i
  WHERE (i.external_id = p_ext AND NOT arc_import_blank(p_ext))
     OR (i.number = p_number AND NOT arc_import_blank(p_number) AND arc_import_blank(p_ext))
  LIMIT 1
$$;

CREATE FUNCTION arc_import_check_payments(p_import bigint, p_from bigint, p_to bigint, cols text[]) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  WITH r AS (
    SELECT r.*, arc_import_customer(r.customer_id, r.customer_external_id) AS cust,
           arc_import_invoice(r.invoice_external_id, r.invoice_number) AS inv,
           CASE WHEN arc_import_blank(r.invoice_external_id) THEN 'invoice_number' ELSE 'invoice_external_id' END AS inv_col
    FROM import_payment_rows r
    WHERE r.import_id = p_import AND r.rn BETWEEN p_from AND p_to)
  SELECT coalesce(jsonb_agg(e - 'ord' ORDER BY r.rn, (e->>'ord')::int), '[]'::jsonb)
  FROM r
  CROSS JOIN LATERAL (VALUES
    (arc_import_err(arc_import_blank(r.external_id), r.rn, 1, 'external_id', 'is required')),
    (arc_import_err(char_length(r.external_id) > 200, r.rn, 2, 'external_id', 'must be at most 200 characters')),
    (arc_import_err(arc_import_blank(r.customer_id) AND arc_import_blank(r.customer_external_id), r.rn, 3,
                    CASE WHEN 'customer_external_id' = ANY (cols) THEN 'customer_external_id' ELSE 'customer_id' END,
                    'is required: the customer who paid')),
    (arc_import_err(NOT arc_import_blank(r.customer_id) AND r.customer_id !~ '^[1-9][0-9]{0,17}$', r.rn, 4,
                    'customer_id', 'must be an id')),
    (arc_import_err(NOT (arc_import_blank(r.customer_id) AND arc_import_blank(r.customer_external_id))
                    AND r.cust IS NULL, r.rn, 5,
                    CASE WHEN NOT arc_import_blank(r.customer_external_id) THEN 'customer_external_id' ELSE 'customer_id' END,
                    'names no customer')),
    (arc_import_err(r.customer_id ~ '^[1-9][0-9]{0,17}$' AND NOT arc_import_blank(r.customer_external_id)
                    AND r.cust IS NOT NULL AND (r.cust <> arc_import_bigint(r.customer_id)
                      OR NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = r.cust AND c.external_id = r.customer_external_id)),
                    r.rn, 6, 'customer_external_id', 'names another customer than customer_id')),
    (arc_import_err(NOT arc_import_is_int(r.amount, 1, 9007199254740991), r.rn, 7, 'amount',
                    CASE WHEN arc_import_blank(r.amount) THEN 'is required'
                         WHEN r.amount ~ '^-?[0-9]+$' THEN 'must be between 1 and 9007199254740991'
                         ELSE 'must be an integer number of minor units (cents), not a fraction' END)),
    (arc_import_err(coalesce(r.currency, '') !~ '^[A-Z]{3}$', r.rn, 8, 'currency',
                    'must be an ISO 4217 currency code such as USD')),
    (arc_import_err(NOT arc_import_is_date(r.received_on), r.rn, 9, 'received_on',
                    CASE WHEN arc_import_blank(r.received_on) THEN 'is required' ELSE 'must be a date YYYY-MM-DD' END)),
    (arc_import_err(arc_import_is_date(r.received_on) AND arc_import_date(r.received_on) > current_date, r.rn, 10, 'received_on',
                    'must not be later than today')),
    (arc_import_err(coalesce(r.method, '') NOT IN ('ach', 'wire', 'check', 'card', 'cash', 'other'), r.rn, 11, 'method',
                    'must be one of: ach, wire, check, card, cash, other')),
    (arc_import_err(char_length(r.reference) > 200, r.rn, 12, 'reference', 'must be at most 200 characters')),
    (arc_import_err(NOT (arc_import_blank(r.invoice_external_id) AND arc_import_blank(r.invoice_number))
                    AND (r.inv).id IS NULL, r.rn, 13, r.inv_col, 'names no invoice')),
    (arc_import_err(NOT arc_import_blank(r.invoice_external_id) AND NOT arc_import_blank(r.invoice_number)
                    AND (r.inv).id IS NOT NULL AND (r.inv).number <> r.invoice_number, r.rn, 14, 'invoice_number',
                    'names another invoice than invoice_external_id')),
    (arc_import_err((r.inv).id IS NOT NULL AND r.cust IS NOT NULL AND (r.inv).customer_id <> r.cust, r.rn, 15,
                    r.inv_col, 'belongs to another customer')),
    (arc_import_err((r.inv).id IS NOT NULL AND (r.inv).currency <> r.currency AND r.currency ~ '^[A-Z]{3}$', r.rn, 16,
                    r.inv_col, format('is in %s, the payment in %s', (r.inv).currency, r.currency)))
  ) AS v(e)
  WHERE e IS NOT NULL
$$;

CREATE FUNCTION arc_import_check(p_import bigint, p_from bigint, p_to bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS
$$
DECLARE
  job imports;
BEGIN
  SELECT * INTO job FROM imports WHERE id = p_import;
  RETURN CASE job.kind
    WHEN 'customers' THEN arc_import_check_customers(p_import, p_from, p_to, job.columns)
    WHEN 'invoices' THEN arc_import_check_invoices(p_import, p_from, p_to, job.columns)
    ELSE arc_import_check_payments(p_import, p_from, p_to, job.columns) END;
END
$$;
