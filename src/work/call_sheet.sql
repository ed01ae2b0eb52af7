-- The call sheet (SPEC P10): everything a collector needs before calling an
-- account, built by one statement so every part comes from one snapshot.
-- It renders each part with its resource's own document function, so the
-- sheet always shows what GET of that resource shows.  LANGUAGE sql bodies
-- are checked once all code files are loaded (src/db/migrate.c).

-- The call sheet's plan (P10): the customer's active plan, else the one
-- that ended most recently if it ended in the last 90 days, else null.
CREATE FUNCTION arc_call_sheet_plan(c customers) RETURNS jsonb
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
CREATE FUNCTION arc_call_sheet_escalation(c customers) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT arc_escalation_json(e) FROM escalations e
  WHERE e.customer_id = c.id AND e.status IN ('proposed', 'open')
$$;

-- The call sheet shows the customer's open follow-ups in worklist
-- order (one customer: the same preferred day for all of them).
CREATE FUNCTION arc_call_sheet_follow_ups(c customers) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT coalesce(jsonb_agg(arc_follow_up_json(f, current_date)
                            ORDER BY f.amount_overdue DESC, arc_follow_up_priority(f.reason), f.due_on, f.id),
                  '[]'::jsonb)
  FROM follow_ups f WHERE f.customer_id = c.id AND f.status = 'open'
$$;

-- The sheet of customer CUSTOMER, or NULL when there is none.  "Today" is
-- current_date (session TimeZone = ARC_TIMEZONE).
CREATE FUNCTION arc_call_sheet(customer bigint) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT jsonb_build_object(
    'customer', arc_customer_json(c),
    'contacts', coalesce((
      SELECT jsonb_agg(arc_contact_json(k) ORDER BY k.is_primary DESC, k.id)
      FROM contacts k WHERE k.customer_id = c.id), '[]'::jsonb),
    'open_invoices', coalesce((
      SELECT jsonb_agg(arc_invoice_json(i)
                       || jsonb_build_object('aging_bucket', arc_aging_bucket(i.due_on, current_date))
                       ORDER BY i.due_on, i.id)
      FROM invoices i WHERE i.customer_id = c.id AND i.status = 'open'), '[]'::jsonb),
    -- Every bucket is present ({} when empty), so clients need no defaults.
    'aging', (
      SELECT jsonb_object_agg(b.bucket, coalesce(t.amounts, '{}'::jsonb))
      FROM unnest(ARRAY['current', '1-30', '31-60', '61-90', '91+']) AS b (bucket)
      LEFT JOIN (
        SELECT s.bucket, jsonb_object_agg(s.currency, s.total) AS amounts
        FROM (SELECT arc_aging_bucket(i.due_on, current_date) AS bucket, i.currency, sum(i.balance) AS total
              FROM invoices i WHERE i.customer_id = c.id AND i.status = 'open'
              GROUP BY 1, 2) AS s
        GROUP BY s.bucket) AS t USING (bucket)),
    'call_logs', coalesce((
      SELECT jsonb_agg(arc_call_log_json(l) ORDER BY l.occurred_at DESC, l.id DESC)
      FROM (SELECT * FROM call_logs l WHERE l.customer_id = c.id
            ORDER BY l.occurred_at DESC, l.id DESC LIMIT 20) AS l), '[]'::jsonb),
    -- What is still expected, and what became of recent ones (a promise
    -- made in the last 90 days and closed was closed in them too).
    'promises', coalesce((
      SELECT jsonb_agg(arc_promise_json(p) ORDER BY p.created_at DESC, p.id DESC)
      FROM promises p
      WHERE p.customer_id = c.id
        AND (p.status = 'pending'
             OR coalesce(p.kept_at, p.broken_at, p.cancelled_at) >= now() - interval '90 days')), '[]'::jsonb),
    'disputes', coalesce((
      SELECT jsonb_agg(arc_dispute_json(d) ORDER BY d.id)
      FROM disputes d WHERE d.customer_id = c.id AND d.status = 'open'), '[]'::jsonb),
    'plan', arc_call_sheet_plan(c),
    'escalation', arc_call_sheet_escalation(c),
    'follow_ups', arc_call_sheet_follow_ups(c),
    'generated_at', arc_ts(now()))
  FROM customers c
  WHERE c.id = arc_call_sheet.customer
$$;
