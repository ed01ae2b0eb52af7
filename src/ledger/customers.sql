-- Customers and their contacts: JSON rendering and the pieces of their
-- writes that belong in SQL.  Tables are in migrations/0002_ledger.sql.

-- The week in order; preferred contact days are kept in this order so that
-- the same set always compares equal (an unchanged upsert stays unchanged).
CREATE FUNCTION arc_weekdays() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] $$;

-- Playbook P9: commercial accounts are called on Mondays, consumers toward
-- the end of the week.  Used when a customer has no days of its own.
CREATE FUNCTION arc_default_contact_days(kind text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE kind WHEN 'consumer' THEN ARRAY['thu', 'fri'] ELSE ARRAY['mon'] END $$;

-- A validated JSON array of day names as text[] in week order; NULL for
-- JSON null (the kind's default).
CREATE FUNCTION arc_contact_days(j jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
  SELECT CASE WHEN jsonb_typeof(j) = 'array' THEN
    ARRAY(SELECT d FROM jsonb_array_elements_text(j) AS d
          ORDER BY array_position(arc_weekdays(), d))
  END
$$;

-- S with LIKE's wildcards and escape character taken literally, so a
-- search for "50%_off" finds exactly that text.
CREATE FUNCTION arc_like_escape(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT replace(replace(replace(s, '\', '\\'), '%', '\%'), '_', '\_') $$;

-- The customer document.  Balances are computed from the ledger on every
-- read, so they can never drift from the invoices and payments they sum.
-- "Today" is current_date in the session's TimeZone (ARC_TIMEZONE).
CREATE FUNCTION arc_customer_json(c customers) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM (SELECT
    c.id::text AS id,
    c.external_id,
    c.name,
    c.kind,
    c.email,
    c.phone,
    c.timezone,
    coalesce(c.preferred_contact_days, arc_default_contact_days(c.kind)) AS preferred_contact_days,
    c.cadence_days,
    c.check_in_days,
    c.collector,
    c.salesperson,
    c.cease_communication,
    c.notes,
    arc_json_compact(coalesce(o.open_total, '{}')) AS balance_open,
    arc_json_compact(coalesce(o.overdue_total, '{}')) AS balance_overdue,
    coalesce(current_date - o.oldest_due_on, 0) AS days_overdue,
    (SELECT arc_json_compact(coalesce(jsonb_object_agg(u.currency, u.total), '{}'))
     FROM (SELECT x.currency, sum(x.unapplied) AS total FROM payments x
           WHERE x.customer_id = c.id AND x.status = 'received'
           GROUP BY x.currency HAVING sum(x.unapplied) > 0) AS u) AS unapplied_credit,
    c.version,
    arc_ts(c.created_at) AS created_at,
    arc_ts(c.updated_at) AS updated_at
  -- One pass over the open invoices: per currency, then for the document.
  FROM (SELECT jsonb_object_agg(b.currency, b.open_total) AS open_total,
               jsonb_object_agg(b.currency, b.overdue_total) FILTER (WHERE b.overdue_total IS NOT NULL)
                 AS overdue_total,
               min(b.oldest_due_on) AS oldest_due_on
        FROM (SELECT i.currency, sum(i.balance) AS open_total,
                     sum(i.balance) FILTER (WHERE i.due_on < current_date) AS overdue_total,
                     min(i.due_on) FILTER (WHERE i.due_on < current_date) AS oldest_due_on
              FROM invoices i WHERE i.customer_id = c.id AND i.status = 'open'
              GROUP BY i.currency) AS b) AS o) d);
END
$$;

-- A new customer from a validated body P; EXT is its external_id (the
-- body's for POST, the path's for an upsert).  Absent fields take the
-- column defaults.  Returns no row when EXT is already taken.
CREATE FUNCTION arc_customer_insert(p jsonb, ext text) RETURNS SETOF customers
LANGUAGE sql AS
$$
  INSERT INTO customers AS c (external_id, name, kind, email, phone, timezone, preferred_contact_days,
                              cadence_days, check_in_days, collector, salesperson, cease_communication, notes)
  VALUES (ext, p->>'name', coalesce(p->>'kind', 'commercial'), p->>'email', p->>'phone',
          coalesce(p->>'timezone', 'UTC'), arc_contact_days(p->'preferred_contact_days'),
          (p->>'cadence_days')::integer, (p->>'check_in_days')::integer, p->>'collector',
          p->>'salesperson', coalesce((p->>'cease_communication')::boolean, false), p->>'notes')
  ON CONFLICT (external_id) DO NOTHING
  RETURNING c.*
$$;

-- Applies the fields present in a validated body P to customer ID (PATCH,
-- and an upsert of an existing customer); JSON null clears a field.  The
-- touch trigger leaves version and updated_at alone when nothing changed.
CREATE FUNCTION arc_customer_update(id bigint, p jsonb) RETURNS SETOF customers
LANGUAGE sql AS
$$
  UPDATE customers AS c SET
    external_id            = CASE WHEN p ? 'external_id' THEN p->>'external_id' ELSE c.external_id END,
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
  WHERE c.id = arc_customer_update.id
  RETURNING c.*
$$;
