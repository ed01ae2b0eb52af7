-- The call sheet (SPEC P10): everything a collector needs before calling an
-- account, built by one statement so every part comes from one snapshot.
-- It renders each part with its resource's own document function, so the
-- sheet always shows what GET of that resource shows.  LANGUAGE sql bodies
-- are checked once all code files are loaded (src/db/migrate.c).

-- The call sheet's plan (P10): the customer's active plan, else the one
-- that ended most recently if it ended in the last 90 days, else null.
CREATE FUNCTION arc_call_sheet_plan(c customers) RETURNS json
LANGUAGE sql STABLE AS
$$
  SELECT arc_payment_plan_json(p)
  FROM payment_plans p
  WHERE p.customer_id = c.id
    AND (p.status = 'active'
         OR coalesce(p.completed_at, p.defaulted_at, p.cancelled_at) >= now() - interval '90 days')
  ORDER BY p.status = 'active' DESC, coalesce(p.completed_at, p.defaulted_at, p.cancelled_at) DESC, p.id DESC
  LIMIT 1
$$;

-- The call sheet shows the escalation being worked: the proposed
-- or open one, else null.
CREATE FUNCTION arc_call_sheet_escalation(c customers) RETURNS json
LANGUAGE sql STABLE AS
$$
  SELECT arc_escalation_json(e) FROM escalations e
  WHERE e.customer_id = c.id AND e.status IN ('proposed', 'open')
$$;

-- The call sheet shows the customer's open follow-ups in worklist
-- order (one customer: the same preferred day for all of them).
CREATE FUNCTION arc_call_sheet_follow_ups(c customers) RETURNS json
LANGUAGE sql STABLE AS
$$
  SELECT array_to_json(ARRAY(
    SELECT arc_follow_up_json(f, current_date)::json
    FROM follow_ups f WHERE f.customer_id = c.id AND f.status = 'open'
    ORDER BY f.amount_overdue DESC, arc_follow_up_priority(f.reason), f.due_on, f.id))
$$;

-- The sheet of customer CUSTOMER, or NULL when there is none.  "Today" is
-- current_date (session TimeZone = ARC_TIMEZONE).  Its parts, and the keys
-- of each, come in the order openapi's CallSheet lists them.
CREATE FUNCTION arc_call_sheet(customer bigint) RETURNS json
LANGUAGE sql STABLE AS
$$
  SELECT row_to_json(d) FROM (SELECT
    arc_customer_json(c) AS customer,
    array_to_json(ARRAY(
      SELECT arc_contact_json(k) FROM contacts k WHERE k.customer_id = c.id
      ORDER BY k.is_primary DESC, k.id)) AS contacts,
    -- Each invoice's document with its aging bucket after its last key.
    array_to_json(ARRAY(
      SELECT (left(arc_invoice_json(i)::text, -1) || ',"aging_bucket":'
              || to_json(arc_aging_bucket(i.due_on, current_date))::text || '}')::json
      FROM invoices i WHERE i.customer_id = c.id AND i.status = 'open'
      ORDER BY i.due_on, i.id)) AS open_invoices,
    -- Every bucket is present ({} when empty), so clients need no defaults.
    (SELECT row_to_json(a) FROM (SELECT
       arc_json_compact(coalesce(jsonb_object_agg(s.currency, s.total) FILTER (WHERE s.bucket = 'current'), '{}'))
         AS "current",
       arc_json_compact(coalesce(jsonb_object_agg(s.currency, s.total) FILTER (WHERE s.bucket = '1-30'), '{}'))
         AS "1-30",
       arc_json_compact(coalesce(jsonb_object_agg(s.currency, s.total) FILTER (WHERE s.bucket = '31-60'), '{}'))
         AS "31-60",
       arc_json_compact(coalesce(jsonb_object_agg(s.currency, s.total) FILTER (WHERE s.bucket = '61-90'), '{}'))
         AS "61-90",
       arc_json_compact(coalesce(jsonb_object_agg(s.currency, s.total) FILTER (WHERE s.bucket = '91+'), '{}'))
         AS "91+"
       FROM (SELECT arc_aging_bucket(i.due_on, current_date) AS bucket, i.currency, sum(i.balance) AS total
             FROM invoices i WHERE i.customer_id = c.id AND i.status = 'open'
             GROUP BY 1, 2) AS s) AS a) AS aging,
    array_to_json(ARRAY(
      SELECT arc_call_log_json(l) FROM call_logs l WHERE l.customer_id = c.id
      ORDER BY l.occurred_at DESC, l.id DESC LIMIT 20)) AS call_logs,
    -- What is still expected, and what became of recent ones (a promise
    -- made in the last 90 days and closed was closed in them too).
    array_to_json(ARRAY(
      SELECT arc_promise_json(p) FROM promises p
      WHERE p.customer_id = c.id
        AND (p.status = 'pending'
             OR coalesce(p.kept_at, p.broken_at, p.cancelled_at) >= now() - interval '90 days')
      ORDER BY p.created_at DESC, p.id DESC)) AS promises,
    array_to_json(ARRAY(
      SELECT arc_dispute_json(x) FROM disputes x WHERE x.customer_id = c.id AND x.status = 'open'
      ORDER BY x.id)) AS disputes,
    arc_call_sheet_plan(c) AS plan,
    arc_call_sheet_escalation(c) AS escalation,
    arc_call_sheet_follow_ups(c) AS follow_ups,
    arc_ts(now()) AS generated_at
  FROM customers c
  WHERE c.id = arc_call_sheet.customer) d
$$;
