-- The sweep's rules (SPEC P1-P3, P5, P6, P11, P12): what makes a follow-up
-- and what closes one, as set-based statements over all customers.  Each
-- rule is src/schedule/rules/<name>.sql; src/schedule/rules.c lists them in
-- the order the sweep (src/schedule/sweep.c) runs them, in one transaction;
-- this file holds what several rules share.
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
-- not sold to a factor (P14), not under an open dispute (P6), not in an
-- active payment plan (P7), not of a handed-off customer (P8).  The one
-- place that says so.  An inlinable SQL function: callers' conditions
-- reach the invoice scan.
CREATE FUNCTION arc_dunnable_invoices(p_as_of timestamptz) RETURNS SETOF invoices
LANGUAGE sql STABLE AS
$$
  SELECT i.* FROM invoices i
  WHERE i.status = 'open' AND i.balance > 0 AND NOT i.factored AND i.plan_id IS NULL
    AND NOT EXISTS (SELECT 1 FROM disputes d WHERE d.invoice_id = i.id AND d.status = 'open')
    AND NOT EXISTS (SELECT 1 FROM escalations e
                    WHERE e.customer_id = i.customer_id AND e.status = 'open' AND e.level IN ('legal', 'agency'))
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
-- one run (P_RUN NULL: always rebuilt), so no later change is missed.  An
-- incremental sweep builds it for the customers it revisits only
-- (arc_sweep_scope_ids): rules that join it to rows of other customers must
-- leave those rows out.
CREATE FUNCTION arc_sweep_accounts(p_as_of timestamptz, p_run bigint) RETURNS void
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off SET plan_cache_mode = force_custom_plan AS
$$
DECLARE
  v_key text := concat_ws('/', pg_current_xact_id(), p_as_of, p_run);
  v_scope bigint[] := arc_sweep_scope_ids();
BEGIN
  IF p_run IS NOT NULL AND current_setting('arc.sweep_accounts', true) = v_key
     AND to_regclass('pg_temp.arc_sweep_accounts') IS NOT NULL THEN
    RETURN;
  END IF;
  IF to_regclass('pg_temp.arc_sweep_accounts') IS NOT NULL THEN
    DROP TABLE pg_temp.arc_sweep_accounts;
  END IF;
  CREATE TEMPORARY TABLE arc_sweep_accounts (customer_id bigint, first_due date, amount bigint, currency text,
                                              invoice_ids bigint[], last_call_log_id bigint, last_day date)
    ON COMMIT DROP;
  INSERT INTO arc_sweep_accounts
  SELECT coalesce(o.customer_id, l.customer_id), o.first_due, o.amount, o.currency, o.invoice_ids,
         l.call_log_id, l.day
  FROM (SELECT * FROM arc_overdue_accounts(p_as_of) x WHERE v_scope IS NULL OR x.customer_id = ANY (v_scope)) o
  FULL JOIN (SELECT * FROM arc_last_contacts(p_as_of) x WHERE v_scope IS NULL OR x.customer_id = ANY (v_scope)) l
    ON l.customer_id = o.customer_id;
  -- Row counts for the rules' plans (a temporary table has no statistics).
  ANALYZE pg_temp.arc_sweep_accounts;
  PERFORM set_config('arc.sweep_accounts', v_key, true);
END
$$;

-- The promises that still count at AS_OF (P5): pending, while the business
-- day is not past promised_on + grace days.  Written as promised_on >= day
-- - grace so the partial index promises_pending_idx serves it; inlinable,
-- so callers' conditions and joins reach the scan.
CREATE FUNCTION arc_promises_in_grace(p_as_of timestamptz) RETURNS SETOF promises
LANGUAGE sql STABLE AS
$$
  SELECT p.* FROM promises p
  WHERE p.status = 'pending'
    AND p.promised_on >= (SELECT arc_business_date(p_as_of) - arc_setting_int('promise_grace_days', 1))
$$;

-- Customers a pending promise keeps quiet at AS_OF (arc_promises_in_grace),
-- and only as far as the promise goes: what is still promised (amount less what was paid on it), in the
-- currency of the account's overdue balance (arc_sweep_accounts), must
-- cover that balance.  A promise over one invoice of several leaves the
-- rest of the account to its cadence (P3); the follow-ups then show the
-- promise (arc_promise_pending).  PL/pgSQL: it reads the sweep's temporary
-- table, which exists only while a sweep runs.
CREATE FUNCTION arc_promise_quiet(p_as_of timestamptz)
RETURNS TABLE (customer_id bigint)
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN QUERY
  SELECT q.customer_id
  FROM (SELECT p.customer_id, p.currency, sum(p.amount - p.paid_amount) AS promised
        FROM arc_promises_in_grace(p_as_of) p
        GROUP BY p.customer_id, p.currency) q
  LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = q.customer_id
  GROUP BY q.customer_id
  HAVING bool_or(s.first_due IS NULL OR (q.currency = s.currency AND q.promised >= s.amount));
END
$$;

-- Each customer's pending promise at AS_OF (the latest made of
-- arc_promises_in_grace), for the follow-ups of an account a promise does
-- not quiet: they show it.
CREATE FUNCTION arc_promise_pending(p_as_of timestamptz)
RETURNS TABLE (customer_id bigint, promise_id bigint)
LANGUAGE sql STABLE AS
$$
  SELECT DISTINCT ON (p.customer_id) p.customer_id, p.id
  FROM arc_promises_in_grace(p_as_of) p
  ORDER BY p.customer_id, p.id DESC
$$;

-- Invoices whose receipt is still to be confirmed at AS_OF (P1): open, not
-- factored, no confirmation recorded by AS_OF, from confirm_receipt_days
-- after issued_on through due_on, of a customer we may contact, and not
-- already asked about by an earlier confirm_receipt follow-up (closed).
-- DUE is the day it becomes due.  Which customers are asked (new ones,
-- late payers) is the create rule's business; this is the invoice side,
-- shared by the close, create and refresh rules.  Handed-off customers
-- are left out; the hand-off test is a hashed subplan: one probe per
-- invoice, nothing per customer.
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
    AND i.customer_id NOT IN (SELECT h.customer_id FROM arc_handed_off_customers() h)
    -- A probe of follow_ups_receipts_asked_idx per invoice (OFFSET 0 keeps
    -- it a subplan): as an anti-join, statistics that lag behind the
    -- confirmations closed since the last ANALYZE made it a loop over all
    -- of them for every invoice.
    AND NOT EXISTS (SELECT 1 FROM follow_ups f
                    WHERE f.customer_id = i.customer_id AND f.reason = 'confirm_receipt'
                      AND f.status IN ('done', 'dismissed') AND i.id = ANY (f.invoice_ids)
                    OFFSET 0)
$$;

-- Follow-ups that are about calling the customer: a call log for the
-- customer closes them, and a cease-communication request stops them.
CREATE FUNCTION arc_contact_reasons() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ARRAY['overdue', 'retry', 'promise_broken', 'check_in', 'thank_you', 'installment_missed'] $$;
