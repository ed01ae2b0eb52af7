-- Consumer protection (SPEC P15, US Regulation F style): for customers of
-- kind consumer, at most consumer_max_attempts (7) call attempts within
-- consumer_window_days (7) consecutive days (12 CFR 1006.14(b)(2)(i)), no
-- call within consumer_quiet_days (7) after a telephone conversation about
-- the debt (1006.14(b)(2)(ii)), calls only from 08:00 to 21:00 in the
-- customer's time zone (1006.6(b)(1)(i)), and none after a
-- cease-communication request.  Commercial customers are not limited.
--
-- What counts.  An attempt is an outbound call log on channel phone, whatever
-- its outcome.  A telephone conversation is a phone call log that is
-- successful (outbound reached, or inbound); an e-mail, sms or visit that
-- reached someone is not one.  Days are business days (ARC_TIMEZONE, like
-- every rule): a call's day is arc_business_date(occurred_at).
--
-- How days count, on business day D:
--   attempt cap  the window is the W days D-W+1 .. D.  With N = max
--                attempts or more in it, no call on D; the account may be
--                called again on the day the N-th most recent attempt
--                leaves the window (its day + W).  7 attempts on D-6 .. D
--                with the oldest on D-6: callable from D+1.
--   conversation a conversation on day X is day 1 of the quiet period: no
--                call on X .. X+Q-1, callable from X+Q.  Q = 0: no quiet.
--   hours        [08:00, 21:00) local time: a call may start at 08:00:00
--                and must start before 21:00:00.
--
-- Where it shows:
--   the sweep    arc_rule_consumer_limits (the last rule) moves the due_on
--                of open contact follow-ups of a held consumer to the first
--                day it may be called (held_until), and says why (held_by)
--                and what due_on was (held_from); it releases them when the
--                hold is over.  Reads as_of only, like every rule.
--   the document callable_now, call_restriction and callable_from, about
--                the wall clock (the moment it is read).
-- Held are the contact reasons (arc_contact_reasons()); confirm_receipt
-- (asked before anything is owed, usually in writing) and the internal
-- ones (resolve_dispute, escalation) are not, but their documents still
-- say whether the customer may be called.  cease_communication is not a
-- hold: the close rule (0013, 0018) closes the customer's contact
-- follow-ups and the create rules make none; internal ones go on.

-- Why a follow-up is held back, and from and until when.  held_from is the
-- due_on the hold moved (so a contact on or after that day still answers
-- it, and due_on can go back when a hold is lifted early); due_on =
-- held_until while it is held.
ALTER TABLE follow_ups
  ADD COLUMN held_from date,
  ADD COLUMN held_until date,
  ADD COLUMN held_by text CONSTRAINT follow_ups_held_by_check CHECK (held_by IN ('attempt_cap', 'recent_conversation')),
  ADD CONSTRAINT follow_ups_held_check
    CHECK ((held_by IS NULL) = (held_until IS NULL) AND (held_by IS NULL) = (held_from IS NULL));
-- The few held follow-ups, for the rule to release them.
CREATE INDEX follow_ups_held_idx ON follow_ups (customer_id) WHERE held_by IS NOT NULL;
-- The phone calls of the last days, for the rule: a range scan over the
-- window instead of every call log.
CREATE INDEX call_logs_phone_idx ON call_logs (occurred_at) INCLUDE (customer_id, direction, successful)
  WHERE channel = 'phone';

-- The due date a follow-up had before any hold moved it (its due_on,
-- held_from, held_until).  held_from counts only while due_on is still the
-- held day: if something else moved due_on since (a snoozed follow-up
-- woken), that date stands.
CREATE FUNCTION arc_unheld_due_on(p_due date, p_from date, p_until date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN p_from IS NOT NULL AND p_due = p_until THEN p_from ELSE p_due END $$;

-- The day limits (the one place the counting rules above are written; the
-- sweep and the document both use them), on business day P_DAY:
--   arc_phone_cap_end    given the day of the consumer_max_attempts-th most
--                        recent attempt (NULL: fewer), the day the cap
--                        lifts, or NULL when it does not hold on P_DAY;
--   arc_phone_quiet_end  given the day of the last telephone conversation,
--                        the day the quiet period ends, or NULL;
--   arc_phone_held_by    which of the two holds longer (the conversation on
--                        a tie), NULL when neither holds.
-- The day the customer may be called again is greatest(cap end, quiet end).
-- Scalar SQL: inlined into the statements that call them.
CREATE FUNCTION arc_phone_cap_end(p_day date, p_nth date) RETURNS date
LANGUAGE sql STABLE AS
$$
  SELECT CASE WHEN p_nth > p_day - arc_setting_int('consumer_window_days', 7)
              THEN p_nth + arc_setting_int('consumer_window_days', 7) END
$$;

CREATE FUNCTION arc_phone_quiet_end(p_day date, p_talked date) RETURNS date
LANGUAGE sql STABLE AS
$$
  SELECT CASE WHEN p_talked > p_day - arc_setting_int('consumer_quiet_days', 7)
              THEN p_talked + arc_setting_int('consumer_quiet_days', 7) END
$$;

CREATE FUNCTION arc_phone_held_by(p_cap_end date, p_quiet_end date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
  SELECT CASE WHEN p_quiet_end IS NOT NULL AND (p_cap_end IS NULL OR p_quiet_end >= p_cap_end)
              THEN 'recent_conversation'
              WHEN p_cap_end IS NOT NULL THEN 'attempt_cap' END
$$;

-- How many days of calls the limits look back: the longer of the window
-- and the quiet period.
CREATE FUNCTION arc_phone_hold_days() RETURNS integer
LANGUAGE sql STABLE AS
$$ SELECT greatest(arc_setting_int('consumer_window_days', 7), arc_setting_int('consumer_quiet_days', 7)) $$;

-- Consumers held on the business day of AS_OF, set-based for the sweep:
-- the phone calls up to AS_OF since the first day that can matter (an
-- index range scan, call_logs_phone_idx), of consumers who have not asked
-- us to stop (their contact follow-ups are closed anyway), sorted once by
-- customer, newest first: a running count of attempts finds each
-- customer's N-th most recent one.  Customers not held have no row.
CREATE FUNCTION arc_consumer_holds(p_as_of timestamptz)
RETURNS TABLE (customer_id bigint, held_until date, held_by text)
LANGUAGE sql STABLE AS
$$
  SELECT e.customer_id, greatest(e.cap_end, e.quiet_end), arc_phone_held_by(e.cap_end, e.quiet_end)
  FROM (SELECT w.customer_id,
               arc_phone_cap_end(k.day, max(w.day) FILTER (WHERE w.outbound AND w.nth = k.max)) AS cap_end,
               arc_phone_quiet_end(k.day, max(w.day) FILTER (WHERE w.successful)) AS quiet_end
        FROM (SELECT arc_business_date(p_as_of) AS day, arc_phone_hold_days() AS days,
                     arc_setting_int('consumer_max_attempts', 7) AS max) AS k
        CROSS JOIN LATERAL (
          SELECT l.customer_id, arc_business_date(l.occurred_at) AS day, l.successful,
                 l.direction = 'outbound' AS outbound,
                 count(*) FILTER (WHERE l.direction = 'outbound')
                   OVER (PARTITION BY l.customer_id ORDER BY l.occurred_at DESC ROWS UNBOUNDED PRECEDING) AS nth
          FROM call_logs l
          JOIN customers c ON c.id = l.customer_id
          WHERE l.channel = 'phone'
            AND l.occurred_at >= (k.day - k.days + 1)::timestamptz AND l.occurred_at <= p_as_of
            AND c.kind = 'consumer' AND NOT c.cease_communication) AS w
        GROUP BY w.customer_id, k.day) AS e
  WHERE e.cap_end IS NOT NULL OR e.quiet_end IS NOT NULL
$$;

-- The first instant at or after P_AT within calling hours, [08:00, 21:00)
-- local time in zone P_ZONE: P_AT itself when inside, else the next 08:00.
-- One expression, so that it is inlined.
CREATE FUNCTION arc_call_hours_from(p_zone text, p_at timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS
$$
  SELECT CASE WHEN (p_at AT TIME ZONE p_zone)::time >= time '08:00'
               AND (p_at AT TIME ZONE p_zone)::time < time '21:00' THEN p_at
              WHEN (p_at AT TIME ZONE p_zone)::time < time '08:00'
              THEN ((p_at AT TIME ZONE p_zone)::date + time '08:00') AT TIME ZONE p_zone
              ELSE ((p_at AT TIME ZONE p_zone)::date + 1 + time '08:00') AT TIME ZONE p_zone END
$$;

-- Whether consumer C may be called at instant P_AT, as the document's
-- members: callable_now; call_restriction, why not (cease_communication;
-- else the day limit that holds it, attempt_cap or recent_conversation;
-- else outside_hours); callable_from, the first instant it may be called
-- (the first day the limits allow, at or after 08:00 its time), null when
-- it may be called or never will (cease).
--
-- Rendered for every consumer follow-up in a document, events included
-- (a sweep renders thousands), so it is kept cheap: one index scan over
-- the customer's calls of the last days (call_logs_customer_idx) counts
-- attempts and finds the last conversation; only a customer at the cap
-- pays a second one for the day its cap lifts.
CREATE FUNCTION arc_call_status(c customers, p_at timestamptz) RETURNS jsonb
LANGUAGE plpgsql STABLE AS
$$
DECLARE
  v_day date := arc_business_date(p_at);
  v_max integer := arc_setting_int('consumer_max_attempts', 7);
  v_attempts bigint;
  v_nth date;
  v_talked date;
  v_cap_end date;
  v_quiet_end date;
  v_from timestamptz;
BEGIN
  IF c.cease_communication THEN
    RETURN '{"callable_now": false, "call_restriction": "cease_communication", "callable_from": null}';
  END IF;
  SELECT count(*) FILTER (WHERE l.direction = 'outbound' AND l.occurred_at
                                >= (v_day - arc_setting_int('consumer_window_days', 7) + 1)::timestamptz),
         max(arc_business_date(l.occurred_at)) FILTER (WHERE l.successful)
  INTO v_attempts, v_talked
  FROM call_logs l
  WHERE l.customer_id = c.id AND l.channel = 'phone'
    AND l.occurred_at >= (v_day - arc_phone_hold_days() + 1)::timestamptz AND l.occurred_at <= p_at;
  IF v_attempts >= v_max THEN
    SELECT arc_business_date(l.occurred_at) INTO v_nth
    FROM call_logs l
    WHERE l.customer_id = c.id AND l.channel = 'phone' AND l.direction = 'outbound' AND l.occurred_at <= p_at
    ORDER BY l.occurred_at DESC
    OFFSET v_max - 1 LIMIT 1;
  END IF;
  v_cap_end := arc_phone_cap_end(v_day, v_nth);
  v_quiet_end := arc_phone_quiet_end(v_day, v_talked);
  -- Midnight of the day the limits lift (business time zone), then the
  -- customer's calling hours.
  v_from := arc_call_hours_from(c.timezone, greatest(p_at, greatest(v_cap_end, v_quiet_end)::timestamptz));
  IF v_from <= p_at THEN
    RETURN '{"callable_now": true, "call_restriction": null, "callable_from": null}';
  END IF;
  RETURN jsonb_build_object('callable_now', false,
                            'call_restriction', coalesce(arc_phone_held_by(v_cap_end, v_quiet_end), 'outside_hours'),
                            'callable_from', arc_ts(v_from));
END
$$;

-- 0015's arc_callable_now with every P15 limit.
CREATE OR REPLACE FUNCTION arc_callable_now(c customers) RETURNS boolean
LANGUAGE sql STABLE AS
$$ SELECT c.kind <> 'consumer' OR (arc_call_status(c, now())->>'callable_now')::boolean $$;

-- 0015's follow-up document, with what made the newer reasons (plan,
-- installment, escalation), the hold, and whether the customer may be
-- called at this moment.  Commercial customers are never restricted: a
-- constant, so a worklist of business accounts pays nothing for P15.
CREATE OR REPLACE FUNCTION arc_follow_up_doc(f follow_ups, c customers, p_day date) RETURNS jsonb
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
  || CASE WHEN c.kind = 'consumer' THEN arc_call_status(c, now())
          ELSE '{"callable_now": true, "call_restriction": null, "callable_from": null}'::jsonb END
$$;

-- 0013's trigger: a call log closes the customer's contact follow-ups due
-- on or before its day.  A held follow-up is judged by the day it was due
-- before the hold (a contact the hold did not foresee, such as the
-- consumer calling in, still answers it); it goes back to that day, no
-- longer held.
CREATE OR REPLACE FUNCTION arc_call_logs_close_follow_ups() RETURNS trigger
LANGUAGE plpgsql AS
$$
BEGIN
  UPDATE follow_ups f SET
    status = 'done', snoozed_until = NULL,
    closed_reason = 'contact_logged', closed_at = n.created_at, closed_by = n.logged_by,
    due_on = arc_unheld_due_on(f.due_on, f.held_from, f.held_until),
    held_from = NULL, held_until = NULL, held_by = NULL
  FROM (SELECT DISTINCT ON (l.customer_id) l.customer_id, l.occurred_at, l.created_at, l.logged_by
        FROM new_logs l
        ORDER BY l.customer_id, l.occurred_at DESC, l.id DESC) AS n
  WHERE f.customer_id = n.customer_id
    AND f.status IN ('open', 'snoozed')
    AND f.reason = ANY (arc_contact_reasons())
    AND arc_unheld_due_on(f.due_on, f.held_from, f.held_until) <= arc_business_date(n.occurred_at);
  RETURN NULL;
END
$$;

-- The last rule (P15): open contact follow-ups of a consumer held on the
-- business day of AS_OF are due on its first callable day (held_until),
-- when that is later than the day they were due; held_by says which limit.
-- A hold that is over is released: due_on stays the held day (from then on
-- the customer may be called), or, lifted early (the limits were changed,
-- the customer is no longer a consumer), the later of the day it was due
-- and the sweep's day.  A follow-up closed or snoozed while held (the
-- close rule, a person) drops the hold and goes back to the day it was
-- due.  Only rows that change are written; nothing is made or closed
-- (zeros per reason touched).
CREATE OR REPLACE FUNCTION arc_rule_consumer_limits(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_ids bigint[];
  v_due date[];
  v_from date[];
  v_until date[];
  v_by text[];
BEGIN
  -- What changes, first; then only those rows are written, by primary key.
  WITH h AS MATERIALIZED (SELECT * FROM arc_consumer_holds(p_as_of)),
  -- The follow-ups to look at: the open contact ones of held customers (an
  -- index probe per customer, follow_ups_open_key: never a scan of every
  -- follow-up ever made), and those held before (follow_ups_held_idx).
  todo AS (
    SELECT f.id, f.customer_id, f.reason, f.status, f.due_on, f.held_from, f.held_until, f.held_by
    FROM h
    CROSS JOIN LATERAL (
      SELECT x.id, x.customer_id, x.reason, x.status, x.due_on, x.held_from, x.held_until, x.held_by
      FROM follow_ups x
      WHERE x.customer_id = h.customer_id AND x.status = 'open' AND x.reason = ANY (arc_contact_reasons())
      OFFSET 0) AS f
    UNION
    SELECT f.id, f.customer_id, f.reason, f.status, f.due_on, f.held_from, f.held_until, f.held_by
    FROM follow_ups f WHERE f.held_by IS NOT NULL),
  n AS (
    SELECT t.*, h.held_until AS hold_until, h.held_by AS hold_by,
           arc_unheld_due_on(t.due_on, t.held_from, t.held_until) AS unheld
    FROM todo t LEFT JOIN h ON h.customer_id = t.customer_id),
  m AS (
    SELECT n.*,
           coalesce(n.status = 'open' AND n.reason = ANY (arc_contact_reasons()) AND n.hold_until > n.unheld,
                    false) AS held,
           -- Still on the day a hold moved it to.
           (n.status = 'open' AND n.held_by IS NOT NULL AND n.due_on = n.held_until) AS was_held
    FROM n),
  x AS (
    SELECT m.id, m.due_on, m.held_from, m.held_until, m.held_by,
           CASE WHEN m.held THEN m.hold_until
                WHEN m.status <> 'open' THEN m.unheld
                WHEN m.was_held THEN greatest(m.held_from, least(m.held_until, v_day))
                ELSE m.due_on END AS new_due,
           CASE WHEN m.held THEN m.unheld END AS new_from,
           CASE WHEN m.held THEN m.hold_until END AS new_until,
           CASE WHEN m.held THEN m.hold_by END AS new_by
    FROM m)
  SELECT array_agg(x.id), array_agg(x.new_due), array_agg(x.new_from), array_agg(x.new_until), array_agg(x.new_by)
  INTO v_ids, v_due, v_from, v_until, v_by
  FROM x
  WHERE (x.due_on, x.held_from, x.held_until, x.held_by)
        IS DISTINCT FROM (x.new_due, x.new_from, x.new_until, x.new_by);

  RETURN QUERY
  WITH upd AS (
    UPDATE follow_ups f SET due_on = u.due_on, held_from = u.held_from, held_until = u.held_until,
                            held_by = u.held_by
    FROM unnest(v_ids, v_due, v_from, v_until, v_by) AS u (id, due_on, held_from, held_until, held_by)
    WHERE f.id = u.id
    RETURNING f.reason)
  SELECT u.reason, 0, 0 FROM upd u GROUP BY u.reason;
END
$$;
