-- Call logs (SPEC P4): who was contacted, what was said, when, and how the
-- customer will pay.  Append-only: a correction is a new entry.  The table
-- is in migrations/0004_work.sql; here are its JSON and the write that checks a log
-- against its customer and records the promise and dispute made in it.

-- The call log as clients see it.  promise_id and dispute_id are the first
-- promise and dispute recorded with this call (nested in its POST, or
-- later with call_log_id), found from their side of the link, as are the
-- follow-ups it closed (closed_follow_up_ids).
CREATE FUNCTION arc_call_log_json(c call_logs) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM (SELECT
    c.id::text AS id,
    c.customer_id::text AS customer_id,
    coalesce(c.invoice_ids::text[], '{}') AS invoice_ids,
    c.channel,
    c.direction,
    c.outcome,
    c.successful,
    c.contact_id::text AS contact_id,
    c.contact_name,
    c.notes,
    arc_ts(c.occurred_at) AS occurred_at,
    c.logged_by,
    c.satisfaction,
    (SELECT min(p.id)::text FROM promises p WHERE p.call_log_id = c.id) AS promise_id,
    (SELECT min(x.id)::text FROM disputes x WHERE x.call_log_id = c.id) AS dispute_id,
    array_to_json(ARRAY(SELECT f.id::text FROM follow_ups f WHERE f.closed_by_call_log_id = c.id ORDER BY f.id))
      AS closed_follow_up_ids,
    c.version,
    arc_ts(c.created_at) AS created_at,
    arc_ts(c.updated_at) AS updated_at) d);
END
$$;

-- Records a call log from a validated body P (the handler has checked the
-- shapes, that the outcome fits the channel and direction, that someone was
-- named when someone was reached, and that a promise comes only with a
-- successful contact).  Here:
-- the customer, its invoices and contact, the time; then the nested
-- dispute (arc_dispute_open) and promise (arc_promise_create)
-- in the same transaction, so a refused promise or dispute leaves no log.
-- Invoices and contacts never change customer, so reading them needs no
-- lock; the promise and dispute lock what they change.
CREATE FUNCTION arc_call_log_create(p jsonb, p_actor text)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text)
LANGUAGE plpgsql AS
$$
DECLARE
  v_customer bigint := (p->>'customer_id')::bigint;
  v_ids bigint[];
  v_bad record;
  v_contact contacts;
  v_name text := p->>'contact_name';
  v_log call_logs;
  v_promise promises;
  v_dispute disputes;
  v_json json;
  v_doc text;
  v_promise_doc text;
  v_dispute_doc text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = v_customer) THEN
    PERFORM arc_raise('AR422', format('no customer with id %s', v_customer), 'customer_id');
  END IF;

  v_ids := ARRAY(SELECT (e.x #>> '{}')::bigint
                 FROM jsonb_array_elements(coalesce(p->'invoice_ids', '[]'::jsonb)) WITH ORDINALITY AS e(x, o)
                 ORDER BY e.o);
  -- The first invoice that is unknown or another customer's.
  SELECT u.o - 1 AS idx, u.x AS id, inv.customer_id INTO v_bad
  FROM unnest(v_ids) WITH ORDINALITY AS u(x, o)
  LEFT JOIN invoices inv ON inv.id = u.x
  WHERE inv.id IS NULL OR inv.customer_id <> v_customer
  ORDER BY u.o LIMIT 1;
  IF FOUND THEN
    PERFORM arc_raise('AR422', CASE WHEN v_bad.customer_id IS NULL THEN format('no invoice with id %s', v_bad.id)
                                    ELSE format('invoice %s belongs to another customer', v_bad.id) END,
                      format('invoice_ids[%s]', v_bad.idx));
  END IF;

  IF p->>'contact_id' IS NOT NULL THEN
    SELECT * INTO v_contact FROM contacts ct WHERE ct.id = (p->>'contact_id')::bigint;
    IF NOT FOUND THEN
      PERFORM arc_raise('AR422', format('no contact with id %s', p->>'contact_id'), 'contact_id');
    END IF;
    IF v_contact.customer_id <> v_customer THEN
      PERFORM arc_raise('AR422', format('contact %s is a contact of another customer', v_contact.id), 'contact_id');
    END IF;
    v_name := coalesce(v_name, v_contact.name);
  END IF;
  IF v_name IS NULL AND (p->>'direction' = 'inbound' OR p->>'outcome' = 'reached') THEN
    PERFORM arc_raise('AR422', 'give contact_id or contact_name: who was spoken to (a reached or inbound contact '
                      'needs one)', 'contact_id');
  END IF;

  -- A few minutes of clock skew between the caller and us are not the future.
  IF (p->>'occurred_at')::timestamptz > now() + interval '5 minutes' THEN
    PERFORM arc_raise('AR422', 'must not be in the future', 'occurred_at');
  END IF;

  INSERT INTO call_logs AS c (customer_id, invoice_ids, channel, direction, outcome, contact_id, contact_name,
                              notes, occurred_at, logged_by, satisfaction)
  VALUES (v_customer, v_ids, p->>'channel', p->>'direction', p->>'outcome', (p->>'contact_id')::bigint, v_name,
          p->>'notes', coalesce((p->>'occurred_at')::timestamptz, now()), coalesce(p->>'logged_by', p_actor),
          (p->>'satisfaction')::smallint)
  RETURNING c.* INTO v_log;

  -- The dispute first: the promise ends by locking the customer row, and
  -- payments too lock invoices before the customer, never after.
  IF jsonb_typeof(p->'dispute') = 'object' THEN
    v_dispute := arc_dispute_open((p->'dispute'->>'invoice_id')::bigint, p->'dispute', p_actor, v_log.id,
                                  v_customer, 'dispute.');
  END IF;
  IF jsonb_typeof(p->'promise') = 'object' THEN
    v_promise := arc_promise_create(v_customer, v_log.id, p->'promise', p_actor, 'promise.', v_log.invoice_ids);
  END IF;

  -- Rendered now, after the promise and dispute exist, so promise_id and
  -- dispute_id are filled.  Each nested doc is rendered only when there is
  -- one (plpgsql resolves a function when it first runs the statement).
  -- The call log's document with promise and dispute after its last key,
  -- as CallLogCreated lists them.
  IF v_promise.id IS NOT NULL THEN
    v_promise_doc := arc_promise_json(v_promise)::text;
  END IF;
  IF v_dispute.id IS NOT NULL THEN
    v_dispute_doc := arc_dispute_json(v_dispute)::text;
  END IF;
  v_json := arc_call_log_json(v_log);
  v_doc := left(v_json::text, -1) || ',"promise":' || coalesce(v_promise_doc, 'null')
           || ',"dispute":' || coalesce(v_dispute_doc, 'null') || '}';
  -- Its event now, with the document just rendered: this is the one
  -- place a call log is written, a call log is append-only, and this is
  -- the last change of its transaction to what its document shows (the
  -- promise, the dispute, the follow-ups its INSERT closed).  A deferred
  -- row trigger, as other tables have, rendered the document again at
  -- commit: without it and that, a call log costs 15-20 % less
  -- (bench/README.md).
  PERFORM arc_event_insert('call_log.created', 'call_log', v_log.id::text, v_customer, v_json::jsonb);
  RETURN QUERY SELECT v_log.id, v_log.version, v_doc;
END
$$;

-- A contact closes the customer's open contact follow-ups at once (SPEC:
-- "closes by itself when a call log for that customer is recorded"), done
-- by whoever logged it, when it was logged.  Only a contact on or after the
-- day a follow-up is due answers it: a log entered late for an older call
-- (append-only corrections) leaves today's call to make.  One statement per
-- INSERT, not one per row.  A held follow-up (P15) is judged by the day it
-- was due before the hold (a contact the hold did not foresee, such as the
-- consumer calling in, still answers it); it goes back to that day, no
-- longer held.
CREATE FUNCTION arc_call_logs_close_follow_ups() RETURNS trigger
LANGUAGE plpgsql AS
$$
BEGIN
  UPDATE follow_ups f SET
    status = 'done', snoozed_until = NULL,
    closed_reason = 'contact_logged', closed_at = n.created_at, closed_by = n.logged_by,
    closed_by_call_log_id = n.id,
    due_on = arc_unheld_due_on(f.due_on, f.held_from, f.held_until),
    held_from = NULL, held_until = NULL, held_by = NULL
  FROM (SELECT DISTINCT ON (l.customer_id) l.customer_id, l.id, l.occurred_at, l.created_at, l.logged_by
        FROM new_logs l
        ORDER BY l.customer_id, l.occurred_at DESC, l.id DESC) AS n
  WHERE f.customer_id = n.customer_id
    AND f.status IN ('open', 'snoozed')
    AND f.reason = ANY (arc_contact_reasons())
    AND arc_unheld_due_on(f.due_on, f.held_from, f.held_until) <= arc_business_date(n.occurred_at);
  RETURN NULL;
END
$$;

CREATE TRIGGER call_logs_close_follow_ups AFTER INSERT ON call_logs
  REFERENCING NEW TABLE AS new_logs
  FOR EACH STATEMENT EXECUTE FUNCTION arc_call_logs_close_follow_ups();
