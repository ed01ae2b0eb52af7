-- CSV imports (POST /v1/imports): a file of customers, invoices or payments
-- as an accounting package exports it, upserted by external_id as a job.
--
-- The way of a file.  The upload streams the body into COPY ... FROM STDIN
-- (FORMAT csv, HEADER) on a connection of its own: PostgreSQL is the CSV
-- parser, and the staging table for the kind (import_<kind>_rows, all text
-- columns named as the API's fields) holds the rows, numbered in file order
-- by arc_import_next_rn().  The imports row and its staged rows commit
-- together, so a queued job always has its rows.  A worker (import_job.c)
-- then runs the job in one transaction, a batch of rows at a time:
--
--   arc_import_duplicates   rows repeating an external_id (or an invoice
--                           number) of an earlier row, once per job;
--   arc_import_check        every field of every row of a batch, set-based,
--                           with the rules of the API's upserts;
--   arc_import_apply        the batch's rows without errors, set-based, with
--                           the upserts' own functions (arc_customer_insert /
--                           _update, arc_invoice_adjust, arc_payment_upsert);
--                           when the batch as a whole raises, it is applied
--                           again row by row to find and report the rows.
--
-- Errors and progress are written by a second connection and committed at
-- once, so GET shows them while the job runs; the job's transaction reads
-- the committed errors (READ COMMITTED) to skip the rows they name.  The
-- job's transaction commits the applied rows with the final status, or
-- (all_or_nothing with any error) rolls back, so nothing is applied.
--
-- Restarts.  The job's transaction holds an advisory lock on the job for
-- as long as it runs.  A job still queued or running whose lock nobody
-- holds was interrupted (a stop, a crash): the next worker of any instance
-- runs it again from its first row; the interrupted transaction applied
-- nothing.  After three starts it is failed instead.

CREATE TABLE imports (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind         text NOT NULL CONSTRAINT imports_kind_check CHECK (kind IN ('customers', 'invoices', 'payments')),
  mode         text NOT NULL CONSTRAINT imports_mode_check CHECK (mode IN ('all_or_nothing', 'valid_rows')),
  status       text NOT NULL DEFAULT 'queued'
               CONSTRAINT imports_status_check
               CHECK (status IN ('queued', 'running', 'succeeded', 'partially_applied', 'failed')),
  columns      text[] NOT NULL,
  bytes        bigint NOT NULL DEFAULT 0,
  rows_total   bigint NOT NULL DEFAULT 0,
  rows_done    bigint NOT NULL DEFAULT 0, -- rows checked (and applied when they could be)
  rows_applied bigint NOT NULL DEFAULT 0,
  rows_failed  bigint NOT NULL DEFAULT 0, -- rows with at least one error
  error_count  bigint NOT NULL DEFAULT 0,
  error        text,                      -- why the job as a whole failed
  attempts     integer NOT NULL DEFAULT 0,
  created_by   text,
  request_id   text,
  version      bigint NOT NULL DEFAULT 1,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  finished_at  timestamptz
);
CREATE INDEX imports_pending_idx ON imports (id) WHERE status IN ('queued', 'running');
CREATE TRIGGER imports_touch BEFORE UPDATE ON imports FOR EACH ROW EXECUTE FUNCTION arc_touch();

-- Row numbers are the file's: the header is row 1.  A field is NULL for an
-- error about the row as a whole (or the file, for unreadable CSV).
CREATE TABLE import_errors (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  import_id bigint NOT NULL CONSTRAINT import_errors_import_id_fkey REFERENCES imports (id),
  file_row  bigint NOT NULL,
  field     text,
  message   text NOT NULL
);
CREATE INDEX import_errors_row_idx ON import_errors (import_id, file_row, id);

-- Staged rows are numbered 1, 2, ... in file order (data rows only; the
-- file row is rn + 1).  The sequence is the upload connection's own
-- temporary one, so concurrent uploads cannot interleave their numbers.
CREATE FUNCTION arc_import_next_rn() RETURNS bigint
LANGUAGE plpgsql AS
$$ BEGIN RETURN nextval('pg_temp.arc_import_rn'); END $$;

-- No foreign key to imports: staged rows live only until their job ends,
-- and a key check per row would slow COPY down for nothing.
CREATE TABLE import_customer_rows (
  import_id              bigint NOT NULL DEFAULT current_setting('arc.import_id')::bigint,
  rn                     bigint NOT NULL DEFAULT arc_import_next_rn(),
  external_id            text,
  name                   text,
  kind                   text,
  email                  text,
  phone                  text,
  timezone               text,
  preferred_contact_days text,
  cadence_days           text,
  check_in_days          text,
  collector              text,
  salesperson            text,
  cease_communication    text,
  notes                  text,
  PRIMARY KEY (import_id, rn)
);

CREATE TABLE import_invoice_rows (
  import_id            bigint NOT NULL DEFAULT current_setting('arc.import_id')::bigint,
  rn                   bigint NOT NULL DEFAULT arc_import_next_rn(),
  external_id          text,
  customer_external_id text,
  customer_id          text,
  number               text,
  currency             text,
  amount               text,
  issued_on            text,
  due_on               text,
  po_number            text,
  description          text,
  factored             text,
  PRIMARY KEY (import_id, rn)
);

CREATE TABLE import_payment_rows (
  import_id            bigint NOT NULL DEFAULT current_setting('arc.import_id')::bigint,
  rn                   bigint NOT NULL DEFAULT arc_import_next_rn(),
  external_id          text,
  customer_external_id text,
  customer_id          text,
  amount               text,
  currency             text,
  received_on          text,
  method               text,
  reference            text,
  invoice_external_id  text,
  invoice_number       text,
  PRIMARY KEY (import_id, rn)
);

CREATE FUNCTION arc_import_json(i imports) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT jsonb_build_object(
    'id', i.id::text,
    'kind', i.kind,
    'mode', i.mode,
    'status', i.status,
    'columns', to_jsonb(i.columns),
    'bytes', i.bytes,
    'rows_total', i.rows_total,
    'rows_done', i.rows_done,
    'rows_applied', i.rows_applied,
    'rows_failed', i.rows_failed,
    'error_count', i.error_count,
    'error', i.error,
    'attempts', i.attempts,
    'created_by', i.created_by,
    'request_id', i.request_id,
    'version', i.version,
    'created_at', arc_ts(i.created_at),
    'updated_at', arc_ts(i.updated_at),
    'started_at', arc_ts(i.started_at),
    'finished_at', arc_ts(i.finished_at))
$$;

CREATE FUNCTION arc_import_error_json(e import_errors) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_build_object('id', e.id::text, 'row', e.file_row, 'field', e.field, 'message', e.message) $$;

-- An import transaction may upsert 100k payments: one advisory lock per
-- external id (0005) would not fit PostgreSQL's lock table, so within an
-- import (arc.import = on, set by the job) the unique index on
-- payments.external_id alone keeps two writers of one id apart; the loser
-- gets a row error or a 409 and may retry.
CREATE OR REPLACE FUNCTION arc_payment_external_lock(ext text) RETURNS void
LANGUAGE plpgsql AS
$$
BEGIN
  IF coalesce(current_setting('arc.import', true), '') <> 'on' THEN
    PERFORM pg_advisory_xact_lock(hashtextextended('payments.external_id:' || ext, 7250005));
  END IF;
END
$$;

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
-- amount plus the "external sync" corrections (as arc_invoice_upsert, 0004).
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

-- ---------------------------------------------------------------------------
-- Applying a batch: the rows P_FROM..P_TO that no committed error names.

-- The actor events name, as arc_event_append (0006) takes it.
CREATE FUNCTION arc_import_actor() RETURNS text
LANGUAGE sql STABLE AS
$$ SELECT coalesce(nullif(current_setting('arc.actor', true), ''), 'system') $$;

CREATE FUNCTION arc_import_text(t text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN NOT arc_import_blank(t) THEN t END $$;

-- The body PUT /v1/customers/external/{id} would get for a row: fields of
-- the file's columns only; an empty cell is null (clearing the field) where
-- the API takes null, and left out (unchanged, or the default for a new
-- customer) where it does not.  ABSENT: the nullable fields not in the file.
CREATE FUNCTION arc_import_customer_body(r import_customer_rows, absent text[]) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT jsonb_strip_nulls(jsonb_build_object(
           'name', arc_import_text(r.name),
           'kind', arc_import_text(r.kind),
           'timezone', arc_import_text(r.timezone),
           'cease_communication', arc_import_bool(r.cease_communication)))
      || (jsonb_build_object(
           'email', arc_import_text(r.email),
           'phone', arc_import_text(r.phone),
           'preferred_contact_days', arc_import_days(r.preferred_contact_days),
           'cadence_days', CASE WHEN NOT arc_import_blank(r.cadence_days) THEN arc_import_bigint(r.cadence_days)::integer END,
           'check_in_days', CASE WHEN NOT arc_import_blank(r.check_in_days) THEN arc_import_bigint(r.check_in_days)::integer END,
           'collector', arc_import_text(r.collector),
           'salesperson', arc_import_text(r.salesperson),
           'notes', arc_import_text(r.notes)) - absent)
$$;

-- Customers: the insert and the update of PUT /v1/customers/external/{id}
-- (arc_customer_insert / arc_customer_update, 0003) applied to the batch
-- set-based, reading the same body expression for expression: a function
-- call per row costs ten times as much.
CREATE FUNCTION arc_import_apply_customers(p_import bigint, p_from bigint, p_to bigint, cols text[]) RETURNS bigint
LANGUAGE plpgsql AS
$$
DECLARE
  absent text[] := ARRAY(SELECT k FROM unnest(ARRAY['email', 'phone', 'preferred_contact_days', 'cadence_days',
                                                    'check_in_days', 'collector', 'salesperson', 'notes']) AS k
                         WHERE k <> ALL (cols));
  n_upd bigint;
  n_new bigint;
  n_ins bigint;
BEGIN
  -- Customers that exist are locked first, in id order, as PUT locks them.
  PERFORM 1 FROM customers c
  WHERE c.external_id IN (SELECT r.external_id FROM import_customer_rows r
                          WHERE r.import_id = p_import AND r.rn BETWEEN p_from AND p_to)
  ORDER BY c.id FOR NO KEY UPDATE;
  -- Events are recorded here, set-based, with the row as it is now (an
  -- import touches a customer once): arc_emit (0017) then finds each and
  -- skips the per-row rendering it would do at commit.
  WITH src AS (
    SELECT c.id, c.version AS old_version, arc_import_customer_body(r, absent) AS p
    FROM import_customer_rows r
    JOIN customers c ON c.external_id = r.external_id
    WHERE r.import_id = p_import AND r.rn BETWEEN p_from AND p_to
      AND NOT EXISTS (SELECT 1 FROM import_errors e WHERE e.import_id = p_import AND e.file_row = r.rn + 1)),
  upd AS (
    UPDATE customers AS c SET
      name                   = CASE WHEN p ? 'name' THEN p->>'name' ELSE c.name END,
      kind                   = CASE WHEN p ? 'kind' THEN p->>'kind' ELSE c.kind END,
      email                  = CASE WHEN p ? 'email' THEN p->>'email' ELSE c.email END,
      phone                  = CASE WHEN p ? 'phone' THEN p->>'phone' ELSE c.phone END,
      timezone               = CASE WHEN p ? 'timezone' THEN p->>'timezone' ELSE c.timezone END,
      preferred_contact_days = CASE WHEN p ? 'preferred_contact_days'
                                    THEN arc_contact_days(p->'preferred_contact_days')
                                    ELSE c.preferred_contact_days END,
      cadence_days           = CASE WHEN p ? 'cadence_days' THEN (p->>'cadence_days')::integer ELSE c.cadence_days END,
      check_in_days          = CASE WHEN p ? 'check_in_days' THEN (p->>'check_in_days')::integer ELSE c.check_in_days END,
      collector              = CASE WHEN p ? 'collector' THEN p->>'collector' ELSE c.collector END,
      salesperson            = CASE WHEN p ? 'salesperson' THEN p->>'salesperson' ELSE c.salesperson END,
      cease_communication    = CASE WHEN p ? 'cease_communication' THEN (p->>'cease_communication')::boolean
                                    ELSE c.cease_communication END,
      notes                  = CASE WHEN p ? 'notes' THEN p->>'notes' ELSE c.notes END
    FROM src
    WHERE c.id = src.id
    RETURNING c.*, src.old_version),
  ev AS (
    INSERT INTO events (type, resource_type, resource_id, customer_id, actor, request_id, data)
    SELECT 'customer.updated', 'customer', u.id::text, u.id, arc_import_actor(),
           nullif(current_setting('arc.request_id', true), ''),
           arc_customer_json(ROW(u.id, u.external_id, u.name, u.kind, u.email, u.phone, u.timezone,
                                 u.preferred_contact_days, u.cadence_days, u.check_in_days, u.collector,
                                 u.salesperson, u.cease_communication, u.notes, u.version, u.created_at,
                                 u.updated_at)::customers)
    FROM upd u WHERE u.version <> u.old_version)
  SELECT count(*) INTO n_upd FROM upd;

  SELECT count(*) INTO n_new
  FROM import_customer_rows r
  WHERE r.import_id = p_import AND r.rn BETWEEN p_from AND p_to
    AND NOT EXISTS (SELECT 1 FROM import_errors e WHERE e.import_id = p_import AND e.file_row = r.rn + 1)
    AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.external_id = r.external_id);
  WITH src AS (
    SELECT r.external_id AS ext, arc_import_customer_body(r, absent) AS p
    FROM import_customer_rows r
    WHERE r.import_id = p_import AND r.rn BETWEEN p_from AND p_to
      AND NOT EXISTS (SELECT 1 FROM import_errors e WHERE e.import_id = p_import AND e.file_row = r.rn + 1)
      AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.external_id = r.external_id)
    ORDER BY r.rn),
  ins AS (
    INSERT INTO customers AS c (external_id, name, kind, email, phone, timezone, preferred_contact_days,
                                cadence_days, check_in_days, collector, salesperson, cease_communication, notes)
    SELECT ext, p->>'name', coalesce(p->>'kind', 'commercial'), p->>'email', p->>'phone',
           coalesce(p->>'timezone', 'UTC'), arc_contact_days(p->'preferred_contact_days'),
           (p->>'cadence_days')::integer, (p->>'check_in_days')::integer, p->>'collector',
           p->>'salesperson', coalesce((p->>'cease_communication')::boolean, false), p->>'notes'
    FROM src
    ON CONFLICT (external_id) DO NOTHING
    RETURNING c.*),
  ev AS (
    INSERT INTO events (type, resource_type, resource_id, customer_id, actor, request_id, data)
    SELECT 'customer.created', 'customer', ins.id::text, ins.id, arc_import_actor(),
           nullif(current_setting('arc.request_id', true), ''), arc_customer_json(ROW(ins.*)::customers)
    FROM ins)
  SELECT count(*) INTO n_ins FROM ins;
  IF n_ins < n_new THEN
    PERFORM arc_raise('AR409', 'another request created a customer with this external_id meanwhile; import the row again',
                      'external_id');
  END IF;
  RETURN n_upd + n_ins;
END
$$;

CREATE FUNCTION arc_import_apply_invoices(p_import bigint, p_from bigint, p_to bigint, cols text[]) RETURNS bigint
LANGUAGE plpgsql AS
$$
DECLARE
  v_actor text := nullif(current_setting('arc.actor', true), '');
  ids bigint[];
  versions bigint[];
  statuses text[];
  n_upd bigint;
  n_new bigint;
  n_ins bigint;
BEGIN
  -- Invoices that exist: as arc_invoice_upsert (0004), a new amount is an
  -- "external sync" correction (arc_invoice_adjust), then the other fields
  -- follow the file.  Locked first, in id order.
  SELECT coalesce(array_agg(l.id ORDER BY l.id), '{}'), coalesce(array_agg(l.version ORDER BY l.id), '{}'),
         coalesce(array_agg(l.status ORDER BY l.id), '{}')
    INTO ids, versions, statuses
    FROM (SELECT i.id, i.version, i.status FROM invoices i
          WHERE i.external_id IN (SELECT r.external_id FROM import_invoice_rows r
                                  WHERE r.import_id = p_import AND r.rn BETWEEN p_from AND p_to
                                    AND NOT EXISTS (SELECT 1 FROM import_errors e
                                                    WHERE e.import_id = p_import AND e.file_row = r.rn + 1))
          ORDER BY i.id FOR UPDATE) l;
  PERFORM arc_invoice_adjust(i.id, 'correction', arc_import_bigint(r.amount) - arc_import_synced(i), 'external sync', v_actor)
  FROM import_invoice_rows r JOIN invoices i ON i.external_id = r.external_id
  WHERE i.id = ANY (ids) AND r.import_id = p_import AND r.rn BETWEEN p_from AND p_to
    AND arc_import_bigint(r.amount) <> arc_import_synced(i);
  UPDATE invoices i SET
    number      = r.number,
    issued_on   = arc_import_date(r.issued_on),
    due_on      = arc_import_date(r.due_on),
    po_number   = CASE WHEN 'po_number' = ANY (cols) THEN arc_import_text(r.po_number) ELSE i.po_number END,
    description = CASE WHEN 'description' = ANY (cols) THEN arc_import_text(r.description) ELSE i.description END,
    factored    = coalesce(arc_import_bool(r.factored), i.factored)
  FROM import_invoice_rows r
  WHERE i.external_id = r.external_id AND i.id = ANY (ids)
    AND r.import_id = p_import AND r.rn BETWEEN p_from AND p_to;
  GET DIAGNOSTICS n_upd = ROW_COUNT;
  -- Events set-based, as for customers; the type as arc_emit would name it.
  INSERT INTO events (type, resource_type, resource_id, customer_id, actor, request_id, data)
  SELECT CASE WHEN i.status = o.status THEN 'invoice.updated'
              WHEN i.status = 'open' THEN 'invoice.reopened'
              ELSE 'invoice.' || i.status END,
         'invoice', i.id::text, i.customer_id, arc_import_actor(), nullif(current_setting('arc.request_id', true), ''),
         arc_invoice_json(i)
  FROM unnest(ids, versions, statuses) AS o(id, version, status)
  JOIN invoices i ON i.id = o.id
  WHERE i.version <> o.version;

  -- New invoices, as the upsert inserts them.
  SELECT count(*) INTO n_new
  FROM import_invoice_rows r
  WHERE r.import_id = p_import AND r.rn BETWEEN p_from AND p_to
    AND NOT EXISTS (SELECT 1 FROM import_errors e WHERE e.import_id = p_import AND e.file_row = r.rn + 1)
    AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.external_id = r.external_id);
  WITH ins AS (
    INSERT INTO invoices (customer_id, external_id, number, currency, original_amount, amount, balance,
                          issued_on, due_on, po_number, description, factored)
    SELECT arc_import_customer(r.customer_id, r.customer_external_id), r.external_id, r.number, r.currency,
           arc_import_bigint(r.amount), arc_import_bigint(r.amount), arc_import_bigint(r.amount), arc_import_date(r.issued_on), arc_import_date(r.due_on),
           arc_import_text(r.po_number), arc_import_text(r.description), coalesce(arc_import_bool(r.factored), false)
    FROM import_invoice_rows r
    WHERE r.import_id = p_import AND r.rn BETWEEN p_from AND p_to
      AND NOT EXISTS (SELECT 1 FROM import_errors e WHERE e.import_id = p_import AND e.file_row = r.rn + 1)
      AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.external_id = r.external_id)
    ORDER BY r.rn
    ON CONFLICT (external_id) DO NOTHING
    RETURNING *),
  ev AS (
    INSERT INTO events (type, resource_type, resource_id, customer_id, actor, request_id, data)
    SELECT 'invoice.created', 'invoice', ins.id::text, ins.customer_id, arc_import_actor(),
           nullif(current_setting('arc.request_id', true), ''), arc_invoice_json(ROW(ins.*)::invoices)
    FROM ins)
  SELECT count(*) INTO n_ins FROM ins;
  IF n_ins < n_new THEN
    PERFORM arc_raise('AR409', 'another request created an invoice with this external_id meanwhile; import the row again',
                      'external_id');
  END IF;
  RETURN n_upd + n_ins;
END
$$;

-- Payments one at a time, in file order, through arc_payment_upsert (0005):
-- allocation is sequential by nature (each payment pays what the earlier
-- ones left), and so are the promises each payment may keep.
CREATE FUNCTION arc_import_apply_payments(p_import bigint, p_from bigint, p_to bigint, cols text[]) RETURNS bigint
LANGUAGE plpgsql AS
$$
DECLARE
  v_actor text := nullif(current_setting('arc.actor', true), '');
  r record;
  n bigint := 0;
BEGIN
  FOR r IN
    SELECT x.*, arc_import_customer(x.customer_id, x.customer_external_id) AS cust,
           (arc_import_invoice(x.invoice_external_id, x.invoice_number)).id AS inv
    FROM import_payment_rows x
    WHERE x.import_id = p_import AND x.rn BETWEEN p_from AND p_to
      AND NOT EXISTS (SELECT 1 FROM import_errors e WHERE e.import_id = p_import AND e.file_row = x.rn + 1)
    ORDER BY x.rn
  LOOP
    PERFORM arc_payment_upsert(r.external_id,
      jsonb_strip_nulls(jsonb_build_object(
        'customer_id', r.cust::text,
        'amount', arc_import_bigint(r.amount),
        'currency', r.currency,
        'received_on', r.received_on,
        'method', r.method,
        'allocations', CASE WHEN r.inv IS NOT NULL THEN
          jsonb_build_array(jsonb_build_object('invoice_id', r.inv::text, 'amount', arc_import_bigint(r.amount))) END))
      || CASE WHEN 'reference' = ANY (cols) THEN jsonb_build_object('reference', arc_import_text(r.reference))
              ELSE '{}'::jsonb END,
      v_actor);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;

CREATE FUNCTION arc_import_apply_rows(p_kind text, p_import bigint, p_from bigint, p_to bigint, cols text[])
RETURNS bigint
LANGUAGE plpgsql AS
$$
BEGIN
  RETURN CASE p_kind
    WHEN 'customers' THEN arc_import_apply_customers(p_import, p_from, p_to, cols)
    WHEN 'invoices' THEN arc_import_apply_invoices(p_import, p_from, p_to, cols)
    ELSE arc_import_apply_payments(p_import, p_from, p_to, cols) END;
END
$$;

-- A database error raised while applying row RN, as a row error: our own
-- (class AR) messages are written for clients; constraint names give the
-- field; anything else is reported by SQLSTATE only.
CREATE FUNCTION arc_import_apply_error(rn bigint, cols text[], st text, msg text, col text, cons text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS
$$
  SELECT jsonb_build_object('row', rn + 1, 'field', f, 'message', m)
  FROM (SELECT
    CASE WHEN st LIKE 'AR%' THEN
           CASE WHEN col LIKE 'allocations%invoice_id'
                THEN CASE WHEN 'invoice_external_id' = ANY (cols) THEN 'invoice_external_id' ELSE 'invoice_number' END
                WHEN col LIKE 'allocations%' THEN 'amount'
                WHEN col = 'customer_id' AND 'customer_external_id' = ANY (cols) THEN 'customer_external_id'
                ELSE nullif(col, '') END
         WHEN st LIKE '23%' THEN substring(cons FROM '^(?:customers|invoices|payments|invoice_adjustments|payment_allocations)_(.*)_(?:key|check|fkey)$')
    END AS f,
    CASE WHEN st LIKE 'AR%' THEN msg
         WHEN st = '23505' THEN 'is already used by another record'
         WHEN st LIKE '23%' THEN 'breaks the rule ' || cons
         WHEN st IN ('55P03', '40001', '40P01') THEN 'was locked by another request; import the row again'
         ELSE format('could not be applied (SQLSTATE %s)', st) END AS m) x
$$;

-- The rows of a batch that no committed error names, in file order.
CREATE FUNCTION arc_import_rows_to_apply(p_kind text, p_import bigint, p_from bigint, p_to bigint) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN QUERY EXECUTE format(
    'SELECT r.rn FROM %I r WHERE r.import_id = $1 AND r.rn BETWEEN $2 AND $3 '
    'AND NOT EXISTS (SELECT 1 FROM import_errors e WHERE e.import_id = $1 AND e.file_row = r.rn + 1) ORDER BY r.rn',
    CASE p_kind WHEN 'customers' THEN 'import_customer_rows' WHEN 'invoices' THEN 'import_invoice_rows'
                ELSE 'import_payment_rows' END)
  USING p_import, p_from, p_to;
END
$$;

-- Applies the batch set-based; when that raises, applies its rows one at a
-- time (each in a subtransaction) and returns the errors of those that
-- raise, the others applied.  Only a batch that failed pays for the
-- subtransactions.
CREATE FUNCTION arc_import_apply(p_import bigint, p_from bigint, p_to bigint)
RETURNS TABLE (applied bigint, errors jsonb)
LANGUAGE plpgsql AS
$$
DECLARE
  job imports;
  n bigint := 0;
  errs jsonb := '[]'::jsonb;
  v_rn bigint;
  st text;
  msg text;
  col text;
  cons text;
BEGIN
  SELECT * INTO job FROM imports WHERE id = p_import;
  BEGIN
    n := arc_import_apply_rows(job.kind, p_import, p_from, p_to, job.columns);
    RETURN QUERY SELECT n, errs;
    RETURN;
  EXCEPTION WHEN OTHERS THEN
    n := 0;
  END;
  FOR v_rn IN SELECT x FROM arc_import_rows_to_apply(job.kind, p_import, p_from, p_to) AS x LOOP
    BEGIN
      n := n + arc_import_apply_rows(job.kind, p_import, v_rn, v_rn, job.columns);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, col = COLUMN_NAME, cons = CONSTRAINT_NAME;
      errs := errs || jsonb_build_array(arc_import_apply_error(v_rn, job.columns, st, msg, col, cons));
    END;
  END LOOP;
  RETURN QUERY SELECT n, errs;
END
$$;

-- ---------------------------------------------------------------------------
-- The job's life.

-- The oldest job that is queued, or running without a worker (its worker's
-- transaction, which held this lock, is gone).  The lock is held until the
-- calling transaction ends.
CREATE FUNCTION arc_import_claim() RETURNS bigint
LANGUAGE plpgsql AS
$$
DECLARE
  v bigint;
BEGIN
  FOR v IN SELECT i.id FROM imports i WHERE i.status IN ('queued', 'running') ORDER BY i.id LOOP
    IF pg_try_advisory_xact_lock(hashtextextended('imports.job:' || v, 7250023)) THEN
      RETURN v;
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;

-- Counts for the job document from its committed errors.
CREATE FUNCTION arc_import_progress(p_import bigint, p_done bigint, p_applied bigint) RETURNS void
LANGUAGE sql AS
$$
  UPDATE imports i SET
    rows_done = p_done,
    rows_applied = p_applied,
    rows_failed = (SELECT count(DISTINCT e.file_row) FROM import_errors e WHERE e.import_id = p_import),
    error_count = (SELECT count(*) FROM import_errors e WHERE e.import_id = p_import)
  WHERE i.id = p_import
$$;

-- Drops a job's staged rows (its kind's table only).
CREATE FUNCTION arc_import_unstage(p_import bigint) RETURNS void
LANGUAGE plpgsql AS
$$
BEGIN
  CASE (SELECT kind FROM imports WHERE id = p_import)
    WHEN 'customers' THEN DELETE FROM import_customer_rows WHERE import_id = p_import;
    WHEN 'invoices' THEN DELETE FROM import_invoice_rows WHERE import_id = p_import;
    ELSE DELETE FROM import_payment_rows WHERE import_id = p_import;
  END CASE;
END
$$;
