-- Instants leave the database as RFC 3339 in UTC, whatever the session's TimeZone.
CREATE FUNCTION arc_ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

-- When something is recorded as having happened (closed_at, broken_at,
-- proposed_at, ...): real time, the transaction's, also in a sweep replayed
-- for another instant (ARC_TIME_TRAVEL), whose as_of decides only the
-- business dates a row is about (due_on, held_until).  The one place the
-- sweep's rules read the clock, and only to stamp what they write: what
-- they decide follows as_of and the data (test_scenarios no_wall_clock).
CREATE FUNCTION arc_recorded_at() RETURNS timestamptz
LANGUAGE sql STABLE AS
$$ SELECT now() $$;

-- The business day of an instant: the date in ARC_TIMEZONE.
CREATE FUNCTION arc_business_date(t timestamptz) RETURNS date
LANGUAGE sql STABLE AS
$$ SELECT (t AT TIME ZONE current_setting('TimeZone'))::date $$;

-- Instant T as the local date-time in ZONE with its UTC offset, RFC 3339
-- ("2026-12-04T09:05:00-05:00"): a customer's local time on the worklist.
-- One expression, no FROM, so that it is inlined: as a query of its own it
-- cost 4.8 us a row, a fifth of a worklist page.
CREATE FUNCTION arc_local_ts(t timestamptz, zone text) RETURNS text
LANGUAGE sql STABLE AS
$$
  SELECT to_char(t AT TIME ZONE zone, 'YYYY-MM-DD"T"HH24:MI:SS')
         || CASE WHEN (t AT TIME ZONE zone) < (t AT TIME ZONE 'UTC')
                 THEN '-' || to_char((t AT TIME ZONE 'UTC') - (t AT TIME ZONE zone), 'HH24:MI')
                 ELSE '+' || to_char((t AT TIME ZONE zone) - (t AT TIME ZONE 'UTC'), 'HH24:MI') END
$$;
