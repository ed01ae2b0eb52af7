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
CREATE FUNCTION arc_rule_consumer_limits(p_as_of timestamptz, p_run bigint)
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
