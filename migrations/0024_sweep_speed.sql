-- The sweep's speed (issue 5: a full sweep of bench/sweep_bench's book in
-- under 10 s).  Nothing here changes what the sweep decides or what the
-- documents say; it changes how often the same work is done.
--
-- Most of a first sweep goes into rendering event documents (one per
-- follow-up made, one per escalation proposed: ~250k on the bench book).
-- Two per-row costs in that rendering are removed:
--   - arc_id_strings was declared IMMUTABLE over to_jsonb, which is only
--     STABLE, so PostgreSQL never inlined it: one SQL function call per
--     document.  Declared STABLE (what it is), it is inlined.
--   - the follow-up events trigger (0015) rendered each consumer's call
--     status (0019's arc_call_status, P15) with a plpgsql call and two
--     queries per row.  It now computes the statuses of the statement's
--     consumers in one query (arc_call_statuses).

CREATE OR REPLACE FUNCTION arc_id_strings(ids bigint[]) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(to_jsonb(ids::text[]), '[]'::jsonb) $$;

-- arc_call_status (0019) for the consumers P_IDS at instant P_AT, set-based
-- and with the same result per customer: the same two index scans per
-- customer (the calls of the last days; the day of the N-th most recent
-- attempt only at the cap), without a plpgsql call and its two queries
-- per customer.  Customers of P_IDS that do not exist have no row.
CREATE FUNCTION arc_call_statuses(p_ids bigint[], p_at timestamptz)
RETURNS TABLE (customer_id bigint, status jsonb)
LANGUAGE sql STABLE AS
$$
  WITH k AS MATERIALIZED (
    SELECT arc_business_date(p_at) AS day, arc_setting_int('consumer_max_attempts', 7) AS max,
           arc_setting_int('consumer_window_days', 7) AS win, arc_phone_hold_days() AS hold),
  cust AS MATERIALIZED (
    SELECT c.id, c.cease_communication, c.timezone FROM customers c WHERE c.id = ANY (p_ids)),
  -- Materialized so that the helpers below get plain columns as arguments:
  -- PostgreSQL inlines a SQL function whose parameter is used more than
  -- once only when its argument is cheap, not a whole CASE expression.
  e AS MATERIALIZED (
    SELECT c.id, c.cease_communication, c.timezone, arc_phone_cap_end(k.day, n.nth) AS cap_end,
           arc_phone_quiet_end(k.day, a.talked) AS quiet_end
    FROM k
    CROSS JOIN cust c
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE l.direction = 'outbound'
                                AND l.occurred_at >= (k.day - k.win + 1)::timestamptz) AS attempts,
             max(arc_business_date(l.occurred_at)) FILTER (WHERE l.successful) AS talked
      FROM call_logs l
      WHERE l.customer_id = c.id AND l.channel = 'phone'
        AND l.occurred_at >= (k.day - k.hold + 1)::timestamptz AND l.occurred_at <= p_at) a
    LEFT JOIN LATERAL (
      SELECT arc_business_date(l.occurred_at) AS nth
      FROM call_logs l
      WHERE l.customer_id = c.id AND l.channel = 'phone' AND l.direction = 'outbound' AND l.occurred_at <= p_at
      ORDER BY l.occurred_at DESC
      OFFSET k.max - 1 LIMIT 1) n ON a.attempts >= k.max),
  -- The instant the limits lift (midnight of that day), then the
  -- customer's calling hours.
  h AS MATERIALIZED (
    SELECT e.*, greatest(p_at, greatest(e.cap_end, e.quiet_end)::timestamptz) AS lifts FROM e),
  v AS MATERIALIZED (
    SELECT h.*, arc_call_hours_from(h.timezone, h.lifts) AS v_from FROM h)
  SELECT v.id,
         CASE WHEN v.cease_communication
              THEN '{"callable_now": false, "call_restriction": "cease_communication", "callable_from": null}'::jsonb
              WHEN v.v_from <= p_at
              THEN '{"callable_now": true, "call_restriction": null, "callable_from": null}'::jsonb
              ELSE jsonb_build_object('callable_now', false,
                                      'call_restriction',
                                      coalesce(arc_phone_held_by(v.cap_end, v.quiet_end), 'outside_hours'),
                                      'callable_from', arc_ts(v.v_from)) END
  FROM v
$$;

-- 0019's follow-up document with the call status given (P_STATUS: the
-- members callable_now, call_restriction, callable_from), so that a
-- statement rendering many documents computes the statuses once.
CREATE FUNCTION arc_follow_up_doc_status(f follow_ups, c customers, p_day date, p_status jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT jsonb_build_object(
    'id', f.id::text,
    'customer_id', f.customer_id::text,
    'customer_name', c.name,
    'reason', f.reason,
    'priority', arc_follow_up_priority(f.reason),
    'due_on', to_char(f.due_on, 'YYYY-MM-DD'),
    'assignee', f.assignee,
    'amount_overdue', f.amount_overdue,
    'currency', f.currency,
    'invoice_ids', arc_id_strings(f.invoice_ids),
    'promise_id', f.promise_id::text,
    'dispute_id', f.dispute_id::text,
    'payment_id', f.payment_id::text,
    'plan_id', f.plan_id::text,
    'installment_id', f.installment_id::text,
    'escalation_id', f.escalation_id::text,
    'preferred_today', arc_preferred_on(c, p_day),
    'held_from', to_char(f.held_from, 'YYYY-MM-DD'),
    'held_until', to_char(f.held_until, 'YYYY-MM-DD'),
    'held_by', f.held_by,
    'status', f.status,
    'snoozed_until', to_char(f.snoozed_until, 'YYYY-MM-DD'),
    'note', f.note,
    'closed_reason', f.closed_reason,
    'closed_at', arc_ts(f.closed_at),
    'closed_by', f.closed_by,
    'run_id', f.run_id::text,
    'version', f.version,
    'created_at', arc_ts(f.created_at),
    'updated_at', arc_ts(f.updated_at))
  || p_status
$$;

-- The status of a customer that is not a consumer (never restricted).
CREATE FUNCTION arc_call_status_unrestricted() RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT '{"callable_now": true, "call_restriction": null, "callable_from": null}'::jsonb $$;

-- 0019's document, one follow-up at a time (the API's reads).
CREATE OR REPLACE FUNCTION arc_follow_up_doc(f follow_ups, c customers, p_day date) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT arc_follow_up_doc_status(f, c, p_day,
                                  CASE WHEN c.kind = 'consumer' THEN arc_call_status(c, now())
                                       ELSE arc_call_status_unrestricted() END)
$$;

-- 0015's events trigger, with the consumers' call statuses computed once
-- per statement.  EXECUTE still plans each time (0015: a plan cached for a
-- tiny transition table would be used for the sweep's large one).
CREATE OR REPLACE FUNCTION arc_follow_ups_emit() RETURNS trigger
LANGUAGE plpgsql AS
$$
BEGIN
  IF TG_OP = 'INSERT' THEN
    EXECUTE $q$
      WITH s AS MATERIALIZED (
        SELECT * FROM arc_call_statuses(ARRAY(SELECT DISTINCT n.customer_id
                                              FROM new_rows n JOIN customers c ON c.id = n.customer_id
                                              WHERE c.kind = 'consumer'), now()))
      INSERT INTO events (type, resource_type, resource_id, customer_id, actor, request_id, data)
      SELECT 'follow_up.created', 'follow_up', n.id::text, n.customer_id,
             coalesce(nullif(current_setting('arc.actor', true), ''), 'system'),
             nullif(current_setting('arc.request_id', true), ''),
             arc_follow_up_doc_status(n::follow_ups, c, current_date,
                                      CASE WHEN c.kind = 'consumer' THEN s.status
                                           ELSE arc_call_status_unrestricted() END)
      FROM new_rows n JOIN customers c ON c.id = n.customer_id
      LEFT JOIN s ON s.customer_id = n.customer_id
      ORDER BY n.id $q$;
  ELSE
    EXECUTE $q$
      WITH s AS MATERIALIZED (
        SELECT * FROM arc_call_statuses(ARRAY(SELECT DISTINCT n.customer_id
                                              FROM new_rows n
                                              JOIN old_rows o ON o.id = n.id
                                              JOIN customers c ON c.id = n.customer_id
                                              WHERE n.status <> o.status AND c.kind = 'consumer'), now()))
      INSERT INTO events (type, resource_type, resource_id, customer_id, actor, request_id, data)
      SELECT CASE n.status WHEN 'open' THEN 'follow_up.reopened' ELSE 'follow_up.' || n.status END,
             'follow_up', n.id::text, n.customer_id,
             coalesce(nullif(current_setting('arc.actor', true), ''), 'system'),
             nullif(current_setting('arc.request_id', true), ''),
             arc_follow_up_doc_status(n::follow_ups, c, current_date,
                                      CASE WHEN c.kind = 'consumer' THEN s.status
                                           ELSE arc_call_status_unrestricted() END)
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
      JOIN customers c ON c.id = n.customer_id
      LEFT JOIN s ON s.customer_id = n.customer_id
      WHERE n.status <> o.status
      ORDER BY n.id $q$;
  END IF;
  RETURN NULL;
END
$$;

-- The accounts handed off (an open escalation at legal or agency, 0016):
-- every dunnable-invoice test and several rules ask for them.  Once the
-- sweep has proposed an escalation for most overdue accounts, finding the
-- few hundred handed off by a scan of all escalations costs each of those
-- statements a pass over the table; this index holds only them.
CREATE INDEX escalations_handed_off_idx ON escalations (customer_id)
  WHERE status = 'open' AND level IN ('legal', 'agency');
