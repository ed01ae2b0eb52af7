-- ---------------------------------------------------------------------------
-- Applying a batch: the rows P_FROM..P_TO that no committed error names.

-- The actor events name, as arc_event_append takes it.
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
-- (arc_customer_insert / arc_customer_update) applied to the batch
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
  -- import touches a customer once): arc_emit then finds each and
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
                                 u.updated_at)::customers)::jsonb
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
           nullif(current_setting('arc.request_id', true), ''), arc_customer_json(ROW(ins.*)::customers)::jsonb
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
  -- Invoices that exist: as arc_invoice_upsert, a new amount is an
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
         arc_invoice_json(i)::jsonb
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
           nullif(current_setting('arc.request_id', true), ''), arc_invoice_json(ROW(ins.*)::invoices)::jsonb
    FROM ins)
  SELECT count(*) INTO n_ins FROM ins;
  IF n_ins < n_new THEN
    PERFORM arc_raise('AR409', 'another request created an invoice with this external_id meanwhile; import the row again',
                      'external_id');
  END IF;
  RETURN n_upd + n_ins;
END
$$;

-- Payments one at a time, in file order, through arc_payment_upsert:
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
