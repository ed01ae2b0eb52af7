-- The worklist (SPEC P9, P15): the follow-up document, the order collectors
-- work in, the events follow-ups record, and the open follow-ups on the call
-- sheet.  The table is in migrations/0006_follow_ups.sql; the rules that
-- make and close follow-ups are in src/schedule/rules/.
--
-- The worklist order is kept on the row (migrations/0012_worklist_order.sql)
-- so that a page is an index range scan: priority, and preferred — whether
-- the customer's contact days include worklist_order.preferred_on, the
-- business day of the last sweep.  They are kept true by
--   - whoever writes a follow-up: the sweep's rules write priority and
--     preferred (for the sweep's day) with the row; arc_follow_ups_order_row
--     fills them in for a row written without them, or whose reason or
--     customer changes;
--   - the sweep's refresh rule (rules/refresh.sql): preferred and priority of
--     every open and snoozed follow-up for the sweep's day, which it records
--     in worklist_order (so a sweep on a new day moves the order to it);
--     amount_overdue, which leads the order, is only written by the sweep;
--   - arc_follow_ups_customer_days: a change to a customer's contact days or
--     kind, at once;
--   they are the worklist's order, not the follow-up's state (its document's
--   preferred_today is about the day it is listed for): statements that set
--   them set nothing else, and follow_ups_touch (src/db/versions.sql) does
--   not fire for them, so keeping the order makes no new version;
--   - the UPDATE at the end of this file: a reload of the code forgets the
--     day until the next sweep.
-- The page statements (follow_ups_repo.c) use the stored order only for
-- open follow-ups listed for worklist_order.preferred_on, and compute it
-- per request otherwise.

-- Reason priority (1 first): a broken promise before a missed installment
-- before a plain overdue or retry call, ..., thank-yous last.
CREATE FUNCTION arc_follow_up_priority(reason text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
  SELECT array_position(ARRAY['promise_broken', 'installment_missed', 'overdue', 'retry', 'escalation',
                              'resolve_dispute', 'confirm_receipt', 'check_in', 'thank_you'], reason)
$$;

-- Whether DAY's weekday is one of the customer's contact days (its own, or
-- its kind's default).
CREATE FUNCTION arc_preferred_on(c customers, day date) RETURNS boolean
LANGUAGE sql STABLE AS
$$
  SELECT (arc_weekdays())[extract(isodow FROM day)::integer]
         = ANY (coalesce(c.preferred_contact_days, arc_default_contact_days(c.kind)))
$$;

-- The follow-up document, as fields in the contract's order, one column
-- each: the server renders them as they come (src/http/row_json.c), SQL
-- with row_to_json (arc_follow_up_json) and events with to_jsonb.  P_DAY
-- is the day it is listed for (the worklist's due_on; today elsewhere),
-- which preferred_today is about.
-- Inlined where it is called (LANGUAGE sql, one SELECT): a worklist page
-- computes these as columns of its own statement, where a function
-- returning the text ran its query once per row (8 ms a page of consumers
-- against 1 on the bench book), and so is the call status.
CREATE FUNCTION arc_follow_up_fields(f follow_ups, c customers, p_day date)
RETURNS TABLE (id text, customer_id text, customer_name text, customer_phone text, customer_timezone text,
               customer_local_time text, call_sheet text, reason text, priority integer,
               due_on date, assignee text, amount_overdue bigint, currency text, days_overdue integer,
               invoice_ids json,
               promise_id text, dispute_id text, payment_id text, plan_id text, installment_id text,
               escalation_id text, preferred_today boolean, held_from date, held_until date,
               held_by text, callable_now boolean, call_restriction text, callable_from text,
               status text, snoozed_until date, note text, closed_reason text, closed_at text,
               closed_by text, closed_by_call_log_id text, run_id text, version bigint, created_at text,
               updated_at text)
LANGUAGE sql STABLE AS
$$
  SELECT
    f.id::text,
    f.customer_id::text,
    c.name,
    c.phone,
    c.timezone,
    arc_local_ts(now(), c.timezone),
    '/v1/customers/' || f.customer_id || '/call-sheet',
    f.reason,
    arc_follow_up_priority(f.reason),
    f.due_on,
    f.assignee,
    f.amount_overdue,
    f.currency,
    greatest(coalesce(p_day - f.overdue_since, 0), 0), -- 0 before it went overdue
    array_to_json(f.invoice_ids::text[]),
    f.promise_id::text,
    f.dispute_id::text,
    f.payment_id::text,
    f.plan_id::text,
    f.installment_id::text,
    f.escalation_id::text,
    arc_preferred_on(c, p_day),
    f.held_from,
    f.held_until,
    f.held_by,
    s.callable_now,
    s.call_restriction,
    s.callable_from,
    f.status,
    f.snoozed_until,
    f.note,
    f.closed_reason,
    arc_ts(f.closed_at),
    f.closed_by,
    f.closed_by_call_log_id::text,
    f.run_id::text,
    f.version,
    arc_ts(f.created_at),
    arc_ts(f.updated_at)
  FROM arc_call_status_fields(c, now()) s
$$;

-- The same as one JSON text, for SQL that needs the document.
CREATE FUNCTION arc_follow_up_json(f follow_ups, p_day date) RETURNS json
LANGUAGE sql STABLE AS
$$
  SELECT row_to_json(d) FROM customers c CROSS JOIN LATERAL arc_follow_up_fields(f, c, p_day) d
  WHERE c.id = f.customer_id
$$;

-- The worklist page cursor: the sort key of the last row shown, as
-- "<amount_overdue>.<0|1 preferred>.<priority>.<due_on>.<id>".  The list
-- statement resumes strictly after it in the order
-- (-amount_overdue, NOT preferred, priority, due_on, id), all ascending.
CREATE FUNCTION arc_worklist_cursor(f follow_ups, preferred boolean) RETURNS text
LANGUAGE sql STABLE AS
$$
  SELECT format('%s.%s.%s.%s.%s', f.amount_overdue, preferred::integer, arc_follow_up_priority(f.reason),
                to_char(f.due_on, 'YYYY-MM-DD'), f.id)
$$;

-- The stored order of one follow-up written without it (the columns have
-- no default), or whose reason or customer changed: its reason's priority,
-- and whether its customer prefers the day the worklist's order is kept
-- for.  The sweep's rules write both themselves, set-based, for the
-- sweep's day (a trigger per row would cost a full sweep seconds); the
-- escalation rule, which has no customer row at hand, leaves them to this.
CREATE FUNCTION arc_follow_ups_order_row() RETURNS trigger
LANGUAGE plpgsql AS
$$
BEGIN
  NEW.priority := arc_follow_up_priority(NEW.reason);
  NEW.preferred := coalesce((SELECT arc_preferred_on(c, w.preferred_on)
                             FROM customers c CROSS JOIN worklist_order w
                             WHERE c.id = NEW.customer_id), false);
  RETURN NEW;
END
$$;

CREATE TRIGGER follow_ups_order_insert BEFORE INSERT ON follow_ups
  FOR EACH ROW WHEN (NEW.priority IS NULL OR NEW.preferred IS NULL) EXECUTE FUNCTION arc_follow_ups_order_row();

CREATE TRIGGER follow_ups_order_update BEFORE UPDATE OF customer_id, reason ON follow_ups
  FOR EACH ROW WHEN (NEW.customer_id <> OLD.customer_id OR NEW.reason <> OLD.reason)
  EXECUTE FUNCTION arc_follow_ups_order_row();

-- A customer's contact days or kind changed: whether it prefers the
-- worklist's day changes for its open and snoozed follow-ups, now.  The
-- share lock on worklist_order orders this with the sweep's refresh, which
-- locks it before it reads customers: either the refresh sees this change,
-- or this waits for the sweep and then sees its follow-ups and its day.
CREATE FUNCTION arc_follow_ups_customer_days() RETURNS trigger
LANGUAGE plpgsql AS
$$
DECLARE
  v_day date;
  v_preferred boolean;
BEGIN
  SELECT w.preferred_on INTO v_day FROM worklist_order w FOR SHARE;
  v_preferred := coalesce(arc_preferred_on(NEW, v_day), false);
  UPDATE follow_ups f SET preferred = v_preferred
  WHERE f.customer_id = NEW.id AND f.status IN ('open', 'snoozed') AND f.preferred <> v_preferred;
  RETURN NULL;
END
$$;

CREATE TRIGGER customers_follow_ups_days AFTER UPDATE OF preferred_contact_days, kind ON customers
  FOR EACH ROW
  WHEN (OLD.preferred_contact_days IS DISTINCT FROM NEW.preferred_contact_days OR OLD.kind IS DISTINCT FROM NEW.kind)
  EXECUTE FUNCTION arc_follow_ups_customer_days();

-- A person closes or snoozes follow-up P_ID (PATCH, after jspec checked the
-- shapes and the If-Match check): done or dismissed close it for good
-- (closed_reason = the status, closed_by = P_ACTOR), snoozed hides it from
-- the worklist until snoozed_until, when the sweep opens it again.
CREATE FUNCTION arc_follow_up_update(p_id bigint, p jsonb, p_actor text)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text)
LANGUAGE plpgsql AS
$$
DECLARE
  cur follow_ups;
  want text := p->>'status';
  v_until date := (p->>'snoozed_until')::date;
BEGIN
  SELECT * INTO cur FROM follow_ups WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM arc_raise('AR404', format('no follow-up with id %s', p_id));
  END IF;
  IF cur.status IN ('done', 'dismissed') THEN
    PERFORM arc_raise('AR409', format('the follow-up is already closed (%s); a closed follow-up cannot change',
                                      replace(coalesce(cur.closed_reason, cur.status), '_', ' ')), 'status');
  END IF;
  IF want = 'snoozed' AND v_until <= current_date THEN
    PERFORM arc_raise('AR422', format('must be after today (%s)', to_char(current_date, 'YYYY-MM-DD')),
                      'snoozed_until');
  END IF;
  RETURN QUERY
  UPDATE follow_ups AS f SET
    status        = want,
    snoozed_until = CASE WHEN want = 'snoozed' THEN v_until END,
    note          = CASE WHEN p ? 'note' THEN p->>'note' ELSE f.note END,
    closed_reason = CASE WHEN want = 'snoozed' THEN NULL ELSE want END,
    closed_at     = CASE WHEN want = 'snoozed' THEN NULL ELSE now() END,
    closed_by     = CASE WHEN want = 'snoozed' THEN NULL ELSE p_actor END
  WHERE f.id = p_id
  RETURNING f.id, f.version, arc_follow_up_json(f, current_date)::text;
END
$$;

-- Events of follow-ups, one INSERT per statement (a sweep that makes 100k
-- follow-ups runs one trigger, not 100k): follow_up.created for new rows;
-- follow_up.<status> when a change moved the status (open again after a
-- snooze: follow_up.reopened); nothing for changes that kept the status
-- (the sweep refreshing amounts).  Unlike the deferred row triggers of
-- arc_emit, the event carries the row as this statement left it.
CREATE FUNCTION arc_follow_ups_emit() RETURNS trigger
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS
$$
DECLARE
  v_ids bigint[];
BEGIN
  -- The rows to record, by statements whose plans are safe to keep for
  -- any size of transition table: no join of the transition tables (a
  -- plan kept from a one-row statement would be a nested loop, quadratic
  -- for a sweep's 100k rows).  A statement that changed no row fires this
  -- too (every call log runs the UPDATE that closes follow-ups).
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.id) INTO v_ids FROM new_rows n;
  ELSE
    SELECT array_agg(x.id) INTO v_ids
    FROM (SELECT n.id, n.status FROM new_rows n EXCEPT SELECT o.id, o.status FROM old_rows o) x;
  END IF;
  IF v_ids IS NULL THEN
    RETURN NULL;
  END IF;
  -- The rows as this statement left them, read from the table (an AFTER
  -- trigger sees them): one plan, kept, for a call log's one row and a
  -- sweep's 100k (an index scan for the ids), where planning the document
  -- for each statement cost a call log 1 ms.  Generic from the start: a
  -- plan made for the ids at hand looks cheaper than the generic one, so
  -- PostgreSQL would go on planning every call.
  INSERT INTO events (type, resource_type, resource_id, customer_id, actor, request_id, data)
  SELECT CASE WHEN TG_OP = 'INSERT' THEN 'follow_up.created'
              WHEN f.status = 'open' THEN 'follow_up.reopened'
              ELSE 'follow_up.' || f.status END,
         'follow_up', f.id::text, f.customer_id,
         coalesce(nullif(current_setting('arc.actor', true), ''), 'system'),
         nullif(current_setting('arc.request_id', true), ''), to_jsonb(d)
  FROM follow_ups f
  JOIN customers c ON c.id = f.customer_id
  CROSS JOIN LATERAL arc_follow_up_fields(f, c, current_date) d
  WHERE f.id = ANY (v_ids)
  ORDER BY f.id;
  RETURN NULL;
END
$$;

CREATE TRIGGER follow_ups_emit_insert AFTER INSERT ON follow_ups
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_follow_ups_emit();

CREATE TRIGGER follow_ups_emit_update AFTER UPDATE ON follow_ups
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_follow_ups_emit();

-- The code was (re)loaded: arc_follow_up_priority or arc_preferred_on may
-- have changed, so the stored order is not trusted until the next sweep's
-- refresh has recomputed it (the scheduler sweeps at start).  Until then
-- the worklist computes its order per request.
UPDATE worklist_order SET preferred_on = NULL;
