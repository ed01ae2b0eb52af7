-- Instants leave the database as RFC 3339 in UTC, whatever the session's TimeZone.
CREATE FUNCTION arc_ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

-- The business day of an instant: the date in ARC_TIMEZONE.
CREATE FUNCTION arc_business_date(t timestamptz) RETURNS date
LANGUAGE sql STABLE AS
$$ SELECT (t AT TIME ZONE current_setting('TimeZone'))::date $$;
