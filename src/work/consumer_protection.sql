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
-- hold: the close rule (src/schedule/rules/close.sql) closes the customer's contact
-- follow-ups and the create rules make none; internal ones go on.

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

-- The first instant at or after P_AT within a business customer's hours:
-- weekdays from ARC_BUSINESS_HOURS_START to ARC_BUSINESS_HOURS_END local
-- time in zone P_ZONE (08:00 to 18:00 unless set); P_AT itself when inside,
-- else the next opening (Friday evening: Monday).  P_LOCAL is P_AT in
-- P_ZONE, converted once by the caller; one expression, inlined.
CREATE FUNCTION arc_business_hours_from(p_zone text, p_at timestamptz, p_local timestamp) RETURNS timestamptz
LANGUAGE sql STABLE AS
$$
  SELECT CASE
    WHEN extract(isodow FROM p_local) <= 5
         AND p_local - p_local::date >= make_interval(hours => arc_setting_int('business_hours_start', 8))
         AND p_local - p_local::date < make_interval(hours => arc_setting_int('business_hours_end', 18))
      THEN p_at
    WHEN extract(isodow FROM p_local) <= 5
         AND p_local - p_local::date < make_interval(hours => arc_setting_int('business_hours_start', 8))
      THEN (p_local::date + make_interval(hours => arc_setting_int('business_hours_start', 8))) AT TIME ZONE p_zone
    ELSE (p_local::date + CASE extract(isodow FROM p_local) WHEN 5 THEN 3 WHEN 6 THEN 2 ELSE 1 END
          + make_interval(hours => arc_setting_int('business_hours_start', 8))) AT TIME ZONE p_zone
  END
$$;

-- Whether customer C may be called at instant P_AT, as the document's
-- members: callable_now; call_restriction, why not (cease_communication;
-- else the day limit that holds it, attempt_cap or recent_conversation;
-- else outside_hours); callable_from, the first instant it may be called
-- (the first day the limits allow, at or after 08:00 its time), null when
-- it may be called or never will (cease).  Only consumers have limits; a
-- business customer is called in its business hours (outside_hours
-- otherwise, callable from its next opening).
--
-- Part of every consumer follow-up's document, so it is kept cheap: one
-- index scan over the customer's calls of the last days
-- (call_logs_customer_idx) counts attempts and finds the last
-- conversation; only a customer at the cap pays a second one for the day
-- its cap lifts.  LANGUAGE sql with one SELECT, so it is inlined into the
-- statement that lists documents (arc_follow_up_fields) instead of
-- starting a query per row; OFFSET 0 keeps each step computed once, and
-- the condition on h, a one-time filter, skips all of it for the others.
-- What depends only on P_AT (the business day, the window's first instant,
-- the cap) is in scalar subqueries: with P_AT now(), as its one caller
-- passes, each is computed once per statement (an InitPlan), not per row
-- (a worklist page of 51 consumers: 5-8 % more pages a second).
CREATE FUNCTION arc_call_status_fields(c customers, p_at timestamptz)
RETURNS TABLE (callable_now boolean, call_restriction text, callable_from text)
LANGUAGE sql STABLE AS
$$
  SELECT CASE WHEN c.kind <> 'consumer' THEN b.open_from <= p_at
              WHEN c.cease_communication THEN false
              ELSE h.open_from <= p_at END,
         CASE WHEN c.kind <> 'consumer' THEN CASE WHEN b.open_from > p_at THEN 'outside_hours' END
              WHEN c.cease_communication THEN 'cease_communication'
              WHEN h.open_from > p_at THEN coalesce(arc_phone_held_by(h.cap_end, h.quiet_end), 'outside_hours') END,
         CASE WHEN c.kind <> 'consumer' THEN CASE WHEN b.open_from > p_at THEN arc_ts(b.open_from) END
              WHEN NOT c.cease_communication AND h.open_from > p_at THEN arc_ts(h.open_from) END
  FROM (SELECT 1) o
  -- A business customer: its hours.
  LEFT JOIN LATERAL (
    SELECT arc_business_hours_from(c.timezone, p_at, l.local) AS open_from
    FROM (SELECT p_at AT TIME ZONE c.timezone AS local OFFSET 0) l
    WHERE c.kind <> 'consumer'
    OFFSET 0) b ON true
  -- A consumer: the day limits, then its calling hours.
  LEFT JOIN LATERAL (
    -- The first instant the limits and the calling hours allow.
    SELECT e.cap_end, e.quiet_end,
           arc_call_hours_from(c.timezone, greatest(p_at, greatest(e.cap_end, e.quiet_end)::timestamptz))
             AS open_from
    FROM (
      -- The days the attempt cap and the quiet period lift.
      SELECT arc_phone_cap_end(n.day, n.nth) AS cap_end, arc_phone_quiet_end(n.day, n.talked) AS quiet_end
      FROM (
        -- The day of the N-th attempt back, when there were N: a column of
        -- its own, as a subquery for an argument would keep
        -- arc_phone_cap_end from being inlined (planned on every call).
        SELECT a.day, a.talked,
               CASE WHEN a.attempts >= a.max THEN
                 (SELECT arc_business_date(l.occurred_at) FROM call_logs l
                  WHERE l.customer_id = c.id AND l.channel = 'phone' AND l.direction = 'outbound'
                    AND l.occurred_at <= p_at
                  ORDER BY l.occurred_at DESC OFFSET a.max - 1 LIMIT 1) END AS nth
        FROM (
          -- Attempts in the window and the last conversation, in one scan.
          SELECT (SELECT arc_business_date(p_at)) AS day, (SELECT arc_setting_int('consumer_max_attempts', 7)) AS max,
                 count(*) FILTER (WHERE l.direction = 'outbound' AND l.occurred_at
                   >= (SELECT (arc_business_date(p_at) - arc_setting_int('consumer_window_days', 7) + 1)::timestamptz))
                   AS attempts,
                 max(arc_business_date(l.occurred_at)) FILTER (WHERE l.successful) AS talked
          FROM call_logs l
          WHERE l.customer_id = c.id AND l.channel = 'phone'
            AND l.occurred_at >= (SELECT (arc_business_date(p_at) - arc_phone_hold_days() + 1)::timestamptz)
            AND l.occurred_at <= p_at) a
        OFFSET 0) n
      OFFSET 0) e
    WHERE c.kind = 'consumer' AND NOT c.cease_communication
    OFFSET 0) h ON true
$$;
