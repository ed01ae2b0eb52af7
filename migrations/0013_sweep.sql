-- The sweep's rules (SPEC P1-P3, P5, P6, P11, P12): what makes a follow-up
-- and what closes one, as set-based statements over all customers.  The
-- tables are in 0012_follow_ups.sql; src/schedule/rules.c lists the rules in
-- the order the sweep (src/schedule/sweep.c) runs them, in one transaction.
--
-- Every rule is a function (p_as_of timestamptz, p_run bigint) returning
-- rows (reason, created, closed).  Rules read the instant they are given
-- and the data, never the clock (no now(), no current_date): a sweep can be
-- replayed for any day.  The business day of as_of is arc_business_date.
-- One pass per rule: aggregates and hash joins over indexed columns, never
-- a query per customer; what every rule needs of an account (its overdue
-- balance, its last contact) is computed once per sweep
-- (arc_sweep_accounts).  Rules run with work_mem 64MB, so sorts and hashes
-- over the whole book stay in memory, and without JIT, whose compile time
-- exceeds what it saves on statements that run once a sweep.
--
-- Cause keys.  A follow-up records what caused it (cause_key), and a cause
-- gets at most one follow-up (follow_ups_cause_key): one closed by hand is
-- not made again for the same cause.  When the sweep itself closes an
-- overdue, retry, promise_broken or check_in follow-up because its cause
-- went away (cause_gone), the cause is released, so that if it comes back
-- (a payment bounces, a dispute is rejected, a paid-up account with
-- check-ins falls overdue and pays again) the follow-up is made again.

-- The invoices the service may chase at AS_OF: open with something owed,
-- not sold to a factor (P14), not under an open dispute (P6).  The one
-- place that says so (payment plans and hand-offs will add to it).  An
-- inlinable SQL function: callers' conditions reach the invoice scan.
CREATE FUNCTION arc_dunnable_invoices(p_as_of timestamptz) RETURNS SETOF invoices
LANGUAGE sql STABLE AS
$$
  SELECT i.* FROM invoices i
  WHERE i.status = 'open' AND i.balance > 0 AND NOT i.factored
    AND NOT EXISTS (SELECT 1 FROM disputes d WHERE d.invoice_id = i.id AND d.status = 'open')
$$;

-- Customers with dunnable invoices past due at the business day of AS_OF:
-- the oldest due date (the account went overdue the day after it), and the
-- overdue balance in the customer's largest overdue currency with those
-- invoices (amounts in different currencies are never added up).  The day
-- is an InitPlan (evaluated once, not per invoice).
CREATE FUNCTION arc_overdue_accounts(p_as_of timestamptz)
RETURNS TABLE (customer_id bigint, first_due date, amount bigint, currency text, invoice_ids bigint[])
LANGUAGE sql STABLE AS
$$
  SELECT DISTINCT ON (g.customer_id) g.customer_id, min(g.first_due) OVER (PARTITION BY g.customer_id),
         g.amount, g.currency, g.invoice_ids
  FROM (SELECT i.customer_id, i.currency, sum(i.balance)::bigint AS amount, min(i.due_on) AS first_due,
               array_agg(i.id ORDER BY i.due_on, i.id) AS invoice_ids
        FROM arc_dunnable_invoices(p_as_of) i
        WHERE i.due_on < (SELECT arc_business_date(p_as_of))
        GROUP BY i.customer_id, i.currency) AS g
  ORDER BY g.customer_id, g.amount DESC, g.currency
$$;

-- Each customer's last contact as of AS_OF: the call log with the greatest
-- occurred_at (ties: greatest id) not after AS_OF, and its business day.
CREATE FUNCTION arc_last_contacts(p_as_of timestamptz)
RETURNS TABLE (customer_id bigint, call_log_id bigint, day date)
LANGUAGE sql STABLE AS
$$
  SELECT l.customer_id, l.id, arc_business_date(l.occurred_at)
  FROM (SELECT DISTINCT ON (x.customer_id) x.customer_id, x.id, x.occurred_at
        FROM call_logs x
        WHERE x.occurred_at <= p_as_of
        ORDER BY x.customer_id, x.occurred_at DESC, x.id DESC) AS l
$$;

-- What the rules need to know of each account at AS_OF, built once per
-- sweep into a temporary table (dropped at commit) instead of once per
-- rule: the overdue balance (arc_overdue_accounts) and the last contact
-- (arc_last_contacts) of every customer that has either.  Rules do not
-- change invoices, disputes or call logs, so the table stays true for the
-- whole sweep.  It is reused only within one transaction, for one as_of and
-- one run (P_RUN NULL: always rebuilt), so no later change is missed.
CREATE FUNCTION arc_sweep_accounts(p_as_of timestamptz, p_run bigint) RETURNS void
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_key text := concat_ws('/', pg_current_xact_id(), p_as_of, p_run);
BEGIN
  IF p_run IS NOT NULL AND current_setting('arc.sweep_accounts', true) = v_key
     AND to_regclass('pg_temp.arc_sweep_accounts') IS NOT NULL THEN
    RETURN;
  END IF;
  IF to_regclass('pg_temp.arc_sweep_accounts') IS NOT NULL THEN
    DROP TABLE pg_temp.arc_sweep_accounts;
  END IF;
  CREATE TEMPORARY TABLE arc_sweep_accounts ON COMMIT DROP AS
  SELECT coalesce(o.customer_id, l.customer_id) AS customer_id, o.first_due, o.amount, o.currency, o.invoice_ids,
         l.call_log_id AS last_call_log_id, l.day AS last_day
  FROM arc_overdue_accounts(p_as_of) o
  FULL JOIN arc_last_contacts(p_as_of) l ON l.customer_id = o.customer_id;
  -- Row counts for the rules' plans (a temporary table has no statistics).
  ANALYZE pg_temp.arc_sweep_accounts;
  PERFORM set_config('arc.sweep_accounts', v_key, true);
END
$$;

-- Customers a pending promise keeps quiet at AS_OF (P5): while the business
-- day is not past promised_on + grace days.  Written as promised_on >= day
-- - grace so the partial index promises_pending_idx serves it.
CREATE FUNCTION arc_promise_quiet(p_as_of timestamptz)
RETURNS TABLE (customer_id bigint)
LANGUAGE sql STABLE AS
$$
  SELECT DISTINCT p.customer_id FROM promises p
  WHERE p.status = 'pending'
    AND p.promised_on >= (SELECT arc_business_date(p_as_of) - arc_setting_int('promise_grace_days', 1))
$$;

-- Invoices whose receipt is still to be confirmed at AS_OF (P1): open, not
-- factored, no confirmation recorded by AS_OF, from confirm_receipt_days
-- after issued_on through due_on, of a customer we may contact, and not
-- already asked about by an earlier confirm_receipt follow-up (closed).
-- DUE is the day it becomes due.  Which customers are asked (new ones,
-- late payers) is the create rule's business; this is the invoice side,
-- shared by the close, create and refresh rules.
CREATE FUNCTION arc_receipts_to_confirm(p_as_of timestamptz)
RETURNS TABLE (customer_id bigint, invoice_id bigint, due date)
LANGUAGE sql STABLE AS
$$
  SELECT i.customer_id, i.id, i.issued_on + k.days
  FROM (SELECT arc_business_date(p_as_of) AS day, arc_setting_int('confirm_receipt_days', 2) AS days) AS k
  JOIN invoices i ON i.issued_on <= k.day - k.days AND i.due_on >= k.day
  JOIN customers c ON c.id = i.customer_id AND NOT c.cease_communication
  WHERE i.status = 'open' AND NOT i.factored
    AND (i.receipt_confirmed_at IS NULL OR i.receipt_confirmed_at > p_as_of)
    AND NOT EXISTS (SELECT 1 FROM follow_ups f
                    WHERE f.customer_id = i.customer_id AND f.reason = 'confirm_receipt'
                      AND f.status IN ('done', 'dismissed') AND i.id = ANY (f.invoice_ids))
$$;

-- Follow-ups that are about calling the customer: a call log for the
-- customer closes them, and a cease-communication request stops them.
CREATE FUNCTION arc_contact_reasons() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ARRAY['overdue', 'retry', 'promise_broken', 'check_in', 'thank_you', 'installment_missed'] $$;

-- Rule 1 (P5): promises kept or broken as of AS_OF.  Promises are not
-- follow-ups: nothing to count here; promise_broken follows from them.
CREATE FUNCTION arc_rule_promises(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
BEGIN
  PERFORM arc_promises_evaluate(p_as_of);
END
$$;

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

-- Rule 3: open and snoozed follow-ups whose cause is gone close
-- (closed_reason cause_gone, closed_at = AS_OF):
--   overdue, retry      nothing dunnable overdue, or a promise keeps quiet;
--   promise_broken      nothing dunnable overdue;
--   confirm_receipt     none of its invoices still to be confirmed;
--   resolve_dispute     its dispute is no longer open;
--   check_in            something overdue, or check_in_days unset;
--   thank_you           its payment was reversed;
-- and every contact reason when the customer asked us to stop (P15).
-- Each create rule below asks for the opposite of these, so a sweep never
-- closes what it would make again.
CREATE FUNCTION arc_rule_close(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_gone bigint[];
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  -- Which, first; then only those rows are written (by primary key: on
  -- most days few of the open follow-ups close).
  WITH quiet AS (SELECT q.customer_id FROM arc_promise_quiet(p_as_of) q),
  -- confirm_receipt follow-ups with an invoice still to be confirmed.
  asking AS (
    SELECT DISTINCT f.id
    FROM follow_ups f
    JOIN arc_receipts_to_confirm(p_as_of) r ON r.customer_id = f.customer_id AND r.invoice_id = ANY (f.invoice_ids)
    WHERE f.reason = 'confirm_receipt' AND f.status IN ('open', 'snoozed'))
  SELECT array_agg(f.id) INTO v_gone
  FROM follow_ups f
  JOIN customers c ON c.id = f.customer_id
  LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = f.customer_id
  LEFT JOIN quiet q ON q.customer_id = f.customer_id
  LEFT JOIN asking a ON a.id = f.id
  LEFT JOIN disputes d ON d.id = f.dispute_id
  LEFT JOIN payments p ON p.id = f.payment_id
  WHERE f.status IN ('open', 'snoozed')
    AND ((c.cease_communication AND f.reason = ANY (arc_contact_reasons()))
         OR CASE f.reason
              WHEN 'overdue' THEN s.first_due IS NULL OR q.customer_id IS NOT NULL
              WHEN 'retry' THEN s.first_due IS NULL OR q.customer_id IS NOT NULL
              WHEN 'promise_broken' THEN s.first_due IS NULL
              WHEN 'confirm_receipt' THEN a.id IS NULL
              WHEN 'resolve_dispute' THEN d.status IS DISTINCT FROM 'open'
              WHEN 'check_in' THEN s.first_due IS NOT NULL OR c.check_in_days IS NULL
              WHEN 'thank_you' THEN p.status IS DISTINCT FROM 'received'
              ELSE false
            END);

  RETURN QUERY
  WITH done AS (
    UPDATE follow_ups f SET
      status = 'done', snoozed_until = NULL,
      closed_reason = 'cause_gone', closed_at = p_as_of, closed_by = NULL,
      -- Released: the same cause, should it come back, makes a new one.
      cause_key = CASE WHEN f.reason IN ('overdue', 'retry', 'promise_broken', 'check_in')
                       THEN f.cause_key || ' (closed as ' || f.id || ')' ELSE f.cause_key END
    WHERE f.id = ANY (v_gone)
    RETURNING f.reason)
  SELECT x.reason, 0, count(*)::integer FROM done x GROUP BY x.reason;
END
$$;

-- Rule 4a (P1): confirm receipt with customers that are new (no payment
-- received by the day) or have a history (a broken promise, or an invoice
-- paid in full after its due date).  One per customer over its invoices to
-- confirm, due when the first of them is.  Customers with one open already
-- are left out first: the payment history is the expensive part.
--
-- The history reads every allocation of the customers asked about, often
-- most of the book: hash joins, not an index probe per allocation, even
-- when the planner underestimates how many customers that is.
CREATE FUNCTION arc_rule_confirm_receipt(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off SET enable_nestloop = off AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH r AS (
    SELECT x.* FROM arc_receipts_to_confirm(p_as_of) x
    WHERE NOT EXISTS (SELECT 1 FROM follow_ups f
                      WHERE f.customer_id = x.customer_id AND f.reason = 'confirm_receipt'
                        AND f.status IN ('open', 'snoozed'))),
  -- Of the customers asked about: who paid anything by the day, and who
  -- paid an invoice in full after its due date.  One pass over their
  -- allocations.
  paid AS (
    SELECT a.customer_id, bool_or(i.status = 'paid' AND p.received_on > i.due_on) AS late
    FROM payment_allocations a
    JOIN payments p ON p.id = a.payment_id
    JOIN invoices i ON i.id = a.invoice_id
    WHERE a.reversed_at IS NULL AND p.received_on <= v_day
      AND a.customer_id IN (SELECT r.customer_id FROM r)
    GROUP BY a.customer_id),
  broke AS (
    SELECT DISTINCT pr.customer_id FROM promises pr
    WHERE pr.status = 'broken' AND pr.broken_at <= p_as_of AND pr.customer_id IN (SELECT r.customer_id FROM r)),
  ask AS (
    SELECT r.customer_id, min(r.invoice_id) AS first_id, min(r.due) AS due,
           array_agg(r.invoice_id ORDER BY r.invoice_id) AS invoice_ids
    FROM r
    LEFT JOIN paid ON paid.customer_id = r.customer_id
    LEFT JOIN broke ON broke.customer_id = r.customer_id
    WHERE paid.customer_id IS NULL OR paid.late OR broke.customer_id IS NOT NULL
    GROUP BY r.customer_id),
  ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, run_id)
    SELECT k.customer_id, 'confirm_receipt', 'receipt:' || k.first_id, k.due, c.collector,
           coalesce(s.amount, 0), s.currency, k.invoice_ids, p_run
    FROM ask k
    JOIN customers c ON c.id = k.customer_id
    LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = k.customer_id
    ORDER BY k.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'confirm_receipt'::text, count(*)::integer, 0 FROM ins;
END
$$;

-- Rule 4b (P2): call as soon as an account is overdue: customers with
-- dunnable invoices past due, not kept quiet by a promise, not asking us to
-- stop, and not contacted since the account went overdue (the day after
-- its oldest due date).  Due that day.
CREATE FUNCTION arc_rule_overdue(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, run_id)
    SELECT s.customer_id, 'overdue', 'overdue:' || to_char(s.first_due, 'YYYY-MM-DD'), s.first_due + 1,
           c.collector, s.amount, s.currency, s.invoice_ids, p_run
    FROM pg_temp.arc_sweep_accounts s
    JOIN customers c ON c.id = s.customer_id
    WHERE s.first_due IS NOT NULL
      AND (s.last_day IS NULL OR s.last_day <= s.first_due)
      AND NOT c.cease_communication
      AND NOT EXISTS (SELECT 1 FROM arc_promise_quiet(p_as_of) q WHERE q.customer_id = s.customer_id)
    ORDER BY s.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'overdue'::text, count(*)::integer, 0 FROM ins;
END
$$;

-- Rule 4c (P3): repeat every cadence_days (per customer, else the default)
-- until paid: overdue accounts, not quiet, not asking us to stop, whose last
-- contact L (an unanswered attempt or a talk that ended without a promise)
-- was after they went overdue, once L's day + cadence has come.  The cause
-- is L: a new contact makes a new retry.
CREATE FUNCTION arc_rule_retry(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_cadence integer := arc_setting_int('cadence_days', 3);
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, run_id)
    SELECT s.customer_id, 'retry', 'retry:' || s.last_call_log_id, s.last_day + coalesce(c.cadence_days, v_cadence),
           c.collector, s.amount, s.currency, s.invoice_ids, p_run
    FROM pg_temp.arc_sweep_accounts s
    JOIN customers c ON c.id = s.customer_id
    WHERE s.first_due IS NOT NULL
      AND s.last_day > s.first_due
      AND s.last_day + coalesce(c.cadence_days, v_cadence) <= v_day
      AND NOT c.cease_communication
      AND NOT EXISTS (SELECT 1 FROM arc_promise_quiet(p_as_of) q WHERE q.customer_id = s.customer_id)
    ORDER BY s.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'retry'::text, count(*)::integer, 0 FROM ins;
END
$$;

-- Rule 4d (P5): a broken promise is followed up at once: promises broken by
-- AS_OF with no contact since, of customers still overdue (what the close
-- rule asks) who have not asked us to stop.  The latest one per customer;
-- due the day it broke.
CREATE FUNCTION arc_rule_promise_broken(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH b AS (
    SELECT DISTINCT ON (pr.customer_id) pr.customer_id, pr.id, pr.broken_at
    FROM promises pr
    WHERE pr.status = 'broken' AND pr.broken_at <= p_as_of
    ORDER BY pr.customer_id, pr.broken_at DESC, pr.id DESC),
  ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, promise_id, run_id)
    SELECT b.customer_id, 'promise_broken', 'promise:' || b.id, arc_business_date(b.broken_at),
           c.collector, s.amount, s.currency, s.invoice_ids, b.id, p_run
    FROM b
    JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = b.customer_id
    JOIN customers c ON c.id = b.customer_id
    WHERE s.first_due IS NOT NULL
      AND NOT c.cease_communication
      -- No contact since it broke: the last contact is older (or none).
      AND NOT EXISTS (SELECT 1 FROM call_logs l
                      WHERE l.id = s.last_call_log_id AND l.occurred_at > b.broken_at)
    ORDER BY b.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'promise_broken'::text, count(*)::integer, 0 FROM ins;
END
$$;

-- Rule 4e (P6): an open dispute is worked internally (also for customers
-- who asked us to stop calling): one per customer, for its oldest open
-- dispute, due the day that dispute was opened.
CREATE FUNCTION arc_rule_resolve_dispute(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH d AS (
    SELECT DISTINCT ON (x.customer_id) x.customer_id, x.id, x.invoice_id, x.created_at
    FROM disputes x
    WHERE x.status = 'open'
    ORDER BY x.customer_id, x.created_at, x.id),
  ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, dispute_id, run_id)
    SELECT d.customer_id, 'resolve_dispute', 'dispute:' || d.id, arc_business_date(d.created_at),
           c.collector, coalesce(s.amount, 0), s.currency, ARRAY[d.invoice_id], d.id, p_run
    FROM d
    JOIN customers c ON c.id = d.customer_id
    LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = d.customer_id
    ORDER BY d.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'resolve_dispute'::text, count(*)::integer, 0 FROM ins;
END
$$;

-- Rule 4f (P11): thank the people who got us paid: payments received in
-- the last 7 days (not reversed) on an invoice that had collection activity
-- (a call log naming it, or naming no invoice) in the 60 days up to the
-- payment.  The latest such payment per customer; due the day it came.
CREATE FUNCTION arc_rule_thank_you(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH p AS (
    SELECT DISTINCT ON (x.customer_id) x.customer_id, x.id, x.received_on
    FROM payments x
    WHERE x.status = 'received' AND x.received_on BETWEEN v_day - 7 AND v_day
      AND EXISTS (SELECT 1
                  FROM payment_allocations a
                  JOIN call_logs l ON l.customer_id = x.customer_id
                                  AND (l.invoice_ids = '{}' OR a.invoice_id = ANY (l.invoice_ids))
                  WHERE a.payment_id = x.id AND a.reversed_at IS NULL
                    AND l.occurred_at <= p_as_of
                    AND arc_business_date(l.occurred_at) BETWEEN x.received_on - 60 AND x.received_on)
    ORDER BY x.customer_id, x.received_on DESC, x.id DESC),
  ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, payment_id, run_id)
    SELECT p.customer_id, 'thank_you', 'payment:' || p.id, p.received_on, c.collector,
           coalesce(s.amount, 0), s.currency,
           ARRAY(SELECT a.invoice_id FROM payment_allocations a
                 WHERE a.payment_id = p.id AND a.reversed_at IS NULL ORDER BY a.id),
           p.id, p_run
    FROM p
    JOIN customers c ON c.id = p.customer_id
    LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = p.customer_id
    WHERE NOT c.cease_communication
    ORDER BY p.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'thank_you'::text, count(*)::integer, 0 FROM ins;
END
$$;

-- Rule 4g (P12): check in with customers that asked for it (check_in_days)
-- when nothing is overdue, no promise keeps them quiet, and the last
-- contact (or, with none, the day they became a customer) is check_in_days
-- old.  The cause is that day: a new contact moves the next check-in.
CREATE FUNCTION arc_rule_check_in(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  RETURN QUERY
  WITH k AS (
    SELECT c.id AS customer_id, c.collector,
           coalesce(s.last_day, arc_business_date(c.created_at)) + c.check_in_days AS due
    FROM customers c
    LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = c.id
    WHERE c.check_in_days IS NOT NULL AND NOT c.cease_communication
      AND s.first_due IS NULL
      AND NOT EXISTS (SELECT 1 FROM arc_promise_quiet(p_as_of) q WHERE q.customer_id = c.id)),
  ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, run_id)
    SELECT k.customer_id, 'check_in', 'check_in:' || to_char(k.due, 'YYYY-MM-DD'), k.due, k.collector, p_run
    FROM k
    WHERE k.due <= v_day
    ORDER BY k.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'check_in'::text, count(*)::integer, 0 FROM ins;
END
$$;

-- Rule 5: what the worklist shows of open (and snoozed) follow-ups follows
-- the account: the assignee is the customer's collector; amount_overdue and
-- currency are its dunnable overdue balance at AS_OF in its largest
-- currency (0 and no currency when none); invoice_ids are those overdue
-- invoices for the dunning reasons and the invoices still to be confirmed
-- for confirm_receipt.  Only rows that really change are written.
CREATE FUNCTION arc_rule_refresh(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_ids bigint[];
  v_assignees text[];
  v_amounts bigint[];
  v_currencies text[];
  v_invoices text[];
BEGIN
  -- The rules before this one may have just written many follow-ups; with
  -- statistics that still say the table is small, the planner picks nested
  -- loops that take minutes.  Sampling is cheap next to that.
  ANALYZE follow_ups;
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  -- What changed, first; then only those rows are written, by primary key.
  -- (invoice_ids travel as text: arrays of arrays must be rectangular.)
  WITH r AS (
    SELECT x.customer_id, array_agg(x.invoice_id ORDER BY x.invoice_id) AS invoice_ids
    FROM arc_receipts_to_confirm(p_as_of) x
    WHERE x.customer_id IN (SELECT f.customer_id FROM follow_ups f
                            WHERE f.reason = 'confirm_receipt' AND f.status IN ('open', 'snoozed'))
    GROUP BY x.customer_id),
  n AS (
    SELECT f.id, f.assignee, f.amount_overdue, f.currency, f.invoice_ids,
           c.collector AS new_assignee, coalesce(s.amount, 0) AS new_amount, s.currency AS new_currency,
           CASE WHEN f.reason IN ('overdue', 'retry', 'promise_broken') THEN coalesce(s.invoice_ids, '{}')
                WHEN f.reason = 'confirm_receipt' THEN coalesce(r.invoice_ids, f.invoice_ids)
                ELSE f.invoice_ids END AS new_invoice_ids
    FROM follow_ups f
    JOIN customers c ON c.id = f.customer_id
    LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = f.customer_id
    LEFT JOIN r ON r.customer_id = f.customer_id
    WHERE f.status IN ('open', 'snoozed'))
  SELECT array_agg(n.id), array_agg(n.new_assignee), array_agg(n.new_amount), array_agg(n.new_currency),
         array_agg(n.new_invoice_ids::text)
  INTO v_ids, v_assignees, v_amounts, v_currencies, v_invoices
  FROM n
  WHERE (n.assignee, n.amount_overdue, n.currency, n.invoice_ids)
        IS DISTINCT FROM (n.new_assignee, n.new_amount, n.new_currency, n.new_invoice_ids);

  UPDATE follow_ups f SET assignee = u.assignee, amount_overdue = u.amount, currency = u.currency,
                          invoice_ids = u.invoice_ids::bigint[]
  FROM unnest(v_ids, v_assignees, v_amounts, v_currencies, v_invoices)
       AS u (id, assignee, amount, currency, invoice_ids)
  WHERE f.id = u.id;
END
$$;

-- A contact closes the customer's open contact follow-ups at once (SPEC:
-- "closes by itself when a call log for that customer is recorded"), done
-- by whoever logged it, when it was logged.  Only a contact on or after the
-- day a follow-up is due answers it: a log entered late for an older call
-- (append-only corrections) leaves today's call to make.  One statement per
-- INSERT, not one per row.
CREATE FUNCTION arc_call_logs_close_follow_ups() RETURNS trigger
LANGUAGE plpgsql AS
$$
BEGIN
  UPDATE follow_ups f SET
    status = 'done', snoozed_until = NULL,
    closed_reason = 'contact_logged', closed_at = n.created_at, closed_by = n.logged_by
  FROM (SELECT DISTINCT ON (l.customer_id) l.customer_id, l.occurred_at, l.created_at, l.logged_by
        FROM new_logs l
        ORDER BY l.customer_id, l.occurred_at DESC, l.id DESC) AS n
  WHERE f.customer_id = n.customer_id
    AND f.status IN ('open', 'snoozed')
    AND f.reason = ANY (arc_contact_reasons())
    AND f.due_on <= arc_business_date(n.occurred_at);
  RETURN NULL;
END
$$;

CREATE TRIGGER call_logs_close_follow_ups AFTER INSERT ON call_logs
  REFERENCING NEW TABLE AS new_logs
  FOR EACH STATEMENT EXECUTE FUNCTION arc_call_logs_close_follow_ups();

-- What the rules look up beyond the tables' own indexes.  The open,
-- unfactored invoices by due date, with what the rules read of them: both
-- the overdue side (due_on < day) and the receipt side (due_on >= day) are
-- index-only scans instead of reading a third of the invoice table.
CREATE INDEX invoices_open_sweep_idx ON invoices (due_on)
  INCLUDE (customer_id, id, currency, balance, issued_on, receipt_confirmed_at)
  WHERE status = 'open' AND NOT factored;
-- Payments of the last days (thank_you), allocations of a customer (is it
-- new?), snoozed follow-ups to wake, confirm_receipt follow-ups closed.
CREATE INDEX payments_received_on_idx ON payments (received_on) WHERE status = 'received';
CREATE INDEX payment_allocations_customer_idx ON payment_allocations (customer_id);
CREATE INDEX follow_ups_snoozed_idx ON follow_ups (snoozed_until) WHERE status = 'snoozed';
CREATE INDEX follow_ups_receipts_asked_idx ON follow_ups (customer_id)
  WHERE reason = 'confirm_receipt' AND status IN ('done', 'dismissed');
-- arc_event_append (0006) looks for an event of the same resource in the
-- current transaction.  A sweep writes a follow_up event per follow-up it
-- makes and closes, and the deferred promise events of rule 1 are appended
-- at commit, after them: without this index each of those lookups reads
-- every event of the sweep's transaction.
CREATE INDEX events_txid_resource_idx ON events (txid, resource_type, resource_id);
