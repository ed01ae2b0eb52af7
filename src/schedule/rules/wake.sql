-- Rule 2: snoozed follow-ups whose day has come are open again, due that
-- day.  Neither made nor closed: the rows say so with zeros.
CREATE FUNCTION arc_rule_wake(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
BEGIN
  RETURN QUERY
  WITH woken AS (
    UPDATE follow_ups f SET status = 'open', due_on = f.snoozed_until, snoozed_until = NULL
    WHERE f.status = 'snoozed' AND f.snoozed_until <= v_day
    RETURNING f.reason)
  SELECT w.reason, 0, 0 FROM woken w GROUP BY w.reason;
END
$$;
