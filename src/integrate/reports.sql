-- Reports (SPEC P13, P14): the aging of receivables as of any day, and the
-- collection KPIs of a period.  Each report is one statement (one snapshot)
-- and one pass over the ledger: invoices, their adjustments and their
-- allocations are each read once and joined by hash, never per customer.
--
-- "As of day D" means at the end of the business day D (ARC_TIMEZONE, the
-- session TimeZone), as the books know it now:
--   * an invoice counts from its issued_on;
--   * its amount is original_amount plus the adjustments made (created_at)
--     by the end of D;
--   * what was paid on it is the allocations of payments received
--     (received_on) by D and not reversed by the end of D, so a payment
--     reversed later still counts as paid on D;
--   * owed on D = amount - paid; an invoice owes something when that is
--     above 0 (a backdated payment can exceed an amount a later debit
--     raised: such an invoice owes nothing on the days in between);
--   * void invoices never count, whatever the day: voiding says the invoice
--     should not have been issued (as accounting packages treat it);
--   * written-off invoices count until the day they were written off (the
--     first event that shows them written off; updated_at when there is
--     none), not on or after it;
--   * a dispute is open on D when it was opened by the end of D and not
--     closed (resolved or rejected) by then;
--   * issued_on, due_on, factored and the customer's collector are today's
--     values: the service keeps no history of them.

-- When each written-off invoice was written off: its first event showing
-- it so (written_off is final).  Inlined into the callers' joins.
CREATE FUNCTION arc_report_written_off() RETURNS TABLE (invoice_id bigint, written_off_at timestamptz)
LANGUAGE sql STABLE AS
$$
  SELECT e.resource_id::bigint, min(e.occurred_at)
  FROM events e
  WHERE e.resource_type = 'invoice' AND e.data->>'status' = 'written_off'
  GROUP BY e.resource_id
$$;

-- Checks of the report dates that need today (the business day): the
-- shapes were checked by the handler.  One row per bad parameter.
CREATE FUNCTION arc_report_date_errors(p_as_of date, p_from date, p_to date)
RETURNS TABLE (field text, message text)
LANGUAGE sql STABLE AS
$$
  SELECT 'as_of', format('must not be later than today (%s)', to_char(current_date, 'YYYY-MM-DD'))
  WHERE p_as_of > current_date
  UNION ALL
  SELECT 'from', format('must not be later than today (%s)', to_char(current_date, 'YYYY-MM-DD'))
  WHERE p_from > current_date AND p_from <= coalesce(p_to, p_from)
  UNION ALL
  SELECT 'from', format('must be on or before to (%s)', to_char(p_to, 'YYYY-MM-DD'))
  WHERE p_from > p_to
  UNION ALL
  -- A to later than today is answered up to today (arc_report_kpis): the
  -- span that counts is the one reported.
  SELECT 'to', format('must be at most 365 days after from: a period spans at most 366 days, this one %s',
                      least(p_to, current_date) - p_from + 1)
  WHERE least(p_to, current_date) - p_from + 1 > 366
$$;

-- One aging cell: an amount (minor units) and how many invoices make it.
-- A plain expression, inlined into the statement.
CREATE FUNCTION arc_aging_cell(amount numeric, invoices bigint) RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT json_build_object('amount', coalesce(amount, 0), 'invoice_count', invoices) $$;

-- GET /v1/reports/aging.  What was owed at the end of P_AS_OF, by currency
-- (never added across currencies), by aging bucket (arc_aging_bucket of
-- due_on, as the call sheet does) and by class.  Every owed invoice is in
-- exactly one class, the first that fits:
--   factored     sold to a factor, collected by it (P14);
--   disputed     under an open dispute (P6): the whole balance;
--   in_plan      covered by a payment plan active on the day (P7);
--   collectible  the rest: what collectors chase, shown by bucket;
-- and "total" adds the four.  P_GROUP (customer | collector | NULL) adds
-- the same per customer or per collector (NULL collector: unassigned);
-- P_CURRENCY, P_CUSTOMER and P_COLLECTOR filter (NULL: all).  P_REPLAY
-- computes today from the history too (tests compare the two ways).
CREATE FUNCTION arc_report_aging(p_as_of date, p_group text, p_currency text, p_customer bigint,
                                 p_collector text, p_replay boolean DEFAULT false)
RETURNS json
LANGUAGE plpgsql STABLE SET work_mem = '64MB' SET jit = off AS
$fn$
DECLARE
  doc json;
BEGIN
  -- EXECUTE plans the statement for these values: a generic plan guesses
  -- row counts blindly and picks nested loops over the whole ledger.
  -- $1 as_of, $2 group, $3 currency, $4 customer, $5 collector, $6 the
  -- end of the day as_of (an instant), $7 whether as_of is today (or
  -- later; the handler refuses that).
  EXECUTE $sql$
    WITH adj AS (
      SELECT a.invoice_id, sum(a.amount) AS amount
      FROM invoice_adjustments a
      WHERE a.created_at < $6
        AND ($4 IS NULL OR a.customer_id = $4)
      GROUP BY a.invoice_id
    ), paid AS (
      SELECT al.invoice_id, sum(al.amount) AS amount
      FROM payment_allocations al
      JOIN payments p ON p.id = al.payment_id
      WHERE p.received_on <= $1
        AND (al.reversed_at IS NULL OR al.reversed_at >= $6)
        AND ($4 IS NULL OR al.customer_id = $4)
      GROUP BY al.invoice_id
    ), disputed AS (
      SELECT DISTINCT d.invoice_id
      FROM disputes d
      WHERE d.created_at < $6
        AND (d.closed_at IS NULL OR d.closed_at >= $6)
    ), planned AS (
      SELECT DISTINCT u.invoice_id
      FROM payment_plans pp, unnest(pp.invoice_ids) AS u(invoice_id)
      WHERE pp.created_at < $6
        AND (pp.status = 'active'
             OR coalesce(pp.completed_at, pp.defaulted_at, pp.cancelled_at) >= $6)
    ), owed AS MATERIALIZED (
      -- Today ($7): nothing can have been received, adjusted or reversed
      -- after the day, so what is owed is the balance of the open invoices
      -- (balance = amount - active allocations, amount = original_amount +
      -- adjustments): read from the open-invoice index, not the history.
      SELECT i.customer_id, c.collector, i.currency,
             arc_aging_bucket(i.due_on, $1) AS bucket,
             CASE WHEN i.factored THEN 'factored'
                  WHEN d.invoice_id IS NOT NULL THEN 'disputed'
                  WHEN pl.invoice_id IS NOT NULL THEN 'in_plan'
                  ELSE 'collectible' END AS class,
             i.balance AS amount
      FROM invoices i
      JOIN customers c ON c.id = i.customer_id
      LEFT JOIN disputed d ON d.invoice_id = i.id
      LEFT JOIN planned pl ON pl.invoice_id = i.id
      WHERE $7 AND i.status = 'open' AND i.balance > 0
        AND i.issued_on <= $1
        AND ($3 IS NULL OR i.currency = $3)
        AND ($4 IS NULL OR i.customer_id = $4)
        AND ($5 IS NULL OR c.collector = lower($5))
      UNION ALL
      -- A past day: the history.
      SELECT i.customer_id, c.collector, i.currency,
             arc_aging_bucket(i.due_on, $1) AS bucket,
             CASE WHEN i.factored THEN 'factored'
                  WHEN d.invoice_id IS NOT NULL THEN 'disputed'
                  WHEN pl.invoice_id IS NOT NULL THEN 'in_plan'
                  ELSE 'collectible' END AS class,
             i.original_amount + coalesce(adj.amount, 0) - coalesce(paid.amount, 0) AS amount
      FROM invoices i
      JOIN customers c ON c.id = i.customer_id
      LEFT JOIN adj ON adj.invoice_id = i.id
      LEFT JOIN paid ON paid.invoice_id = i.id
      LEFT JOIN disputed d ON d.invoice_id = i.id
      LEFT JOIN planned pl ON pl.invoice_id = i.id
      LEFT JOIN arc_report_written_off() w ON w.invoice_id = i.id
      WHERE NOT $7
        AND i.issued_on <= $1
        AND i.status <> 'void'
        AND (i.status <> 'written_off' OR coalesce(w.written_off_at, i.updated_at) >= $6)
        AND ($3 IS NULL OR i.currency = $3)
        AND ($4 IS NULL OR i.customer_id = $4)
        AND ($5 IS NULL OR c.collector = lower($5))
    ), scoped AS (
      -- Each owed invoice once for the totals and, when grouping, once for
      -- its group (customer_id is NULL when grouping by collector).
      SELECT s.is_total, s.customer_id, s.collector, o.customer_id AS cust, o.currency, o.class, o.bucket, o.amount
      FROM owed o
      CROSS JOIN LATERAL (VALUES (true, NULL::bigint, NULL::text),
                                 (false, CASE WHEN $2 = 'customer' THEN o.customer_id END, o.collector))
        AS s(is_total, customer_id, collector)
      WHERE o.amount > 0 AND (s.is_total OR $2 IS NOT NULL)
    ), currencies AS (
      -- One document per scope and currency: the collectible class by
      -- bucket, each class, and the total.
      SELECT s.is_total, s.customer_id, s.collector, s.currency,
             json_build_object(
               'currency', s.currency,
               'buckets', json_build_object(
                 'current', arc_aging_cell(sum(s.amount) FILTER (WHERE s.class = 'collectible' AND s.bucket = 'current'),
                                           count(*) FILTER (WHERE s.class = 'collectible' AND s.bucket = 'current')),
                 '1-30', arc_aging_cell(sum(s.amount) FILTER (WHERE s.class = 'collectible' AND s.bucket = '1-30'),
                                        count(*) FILTER (WHERE s.class = 'collectible' AND s.bucket = '1-30')),
                 '31-60', arc_aging_cell(sum(s.amount) FILTER (WHERE s.class = 'collectible' AND s.bucket = '31-60'),
                                         count(*) FILTER (WHERE s.class = 'collectible' AND s.bucket = '31-60')),
                 '61-90', arc_aging_cell(sum(s.amount) FILTER (WHERE s.class = 'collectible' AND s.bucket = '61-90'),
                                         count(*) FILTER (WHERE s.class = 'collectible' AND s.bucket = '61-90')),
                 '91+', arc_aging_cell(sum(s.amount) FILTER (WHERE s.class = 'collectible' AND s.bucket = '91+'),
                                       count(*) FILTER (WHERE s.class = 'collectible' AND s.bucket = '91+'))),
               'collectible', arc_aging_cell(sum(s.amount) FILTER (WHERE s.class = 'collectible'),
                                             count(*) FILTER (WHERE s.class = 'collectible')),
               'disputed', arc_aging_cell(sum(s.amount) FILTER (WHERE s.class = 'disputed'),
                                          count(*) FILTER (WHERE s.class = 'disputed')),
               'in_plan', arc_aging_cell(sum(s.amount) FILTER (WHERE s.class = 'in_plan'),
                                         count(*) FILTER (WHERE s.class = 'in_plan')),
               'factored', arc_aging_cell(sum(s.amount) FILTER (WHERE s.class = 'factored'),
                                          count(*) FILTER (WHERE s.class = 'factored')),
               'total', arc_aging_cell(sum(s.amount), count(*))) AS doc
      FROM scoped s
      GROUP BY s.is_total, s.customer_id, s.collector, s.currency
    ), scopes AS (
      SELECT x.is_total, x.customer_id, x.collector, json_agg(x.doc ORDER BY x.currency) AS currencies
      FROM currencies x
      GROUP BY x.is_total, x.customer_id, x.collector
    ), owing AS (
      -- How many customers owe something: in all, and per collector.
      SELECT x.is_total, x.collector, count(*) AS customers
      FROM (SELECT DISTINCT s.is_total, s.collector, s.cust FROM scoped s WHERE s.customer_id IS NULL) AS x
      GROUP BY x.is_total, x.collector
    )
    SELECT json_build_object(
      'as_of', to_char($1, 'YYYY-MM-DD'),
      'group_by', $2,
      'filters', json_build_object('currency', $3, 'customer_id', $4::text, 'collector', $5),
      'customer_count', coalesce((SELECT o.customers FROM owing o WHERE o.is_total), 0),
      'currencies', coalesce((SELECT t.currencies FROM scopes t WHERE t.is_total), '[]'),
      'groups', CASE WHEN $2 IS NOT NULL THEN coalesce((
        SELECT json_agg(
                 CASE WHEN $2 = 'customer'
                      THEN json_build_object('customer_id', g.customer_id::text, 'customer_name', cu.name,
                                             'collector', g.collector, 'currencies', g.currencies)
                      ELSE json_build_object('collector', g.collector, 'customer_count', o.customers,
                                             'currencies', g.currencies) END
                 ORDER BY $2 = 'collector' AND g.collector IS NULL, cu.name, g.customer_id, g.collector)
        FROM scopes g
        LEFT JOIN customers cu ON cu.id = g.customer_id
        LEFT JOIN owing o ON $2 = 'collector' AND NOT o.is_total AND o.collector IS NOT DISTINCT FROM g.collector
        WHERE NOT g.is_total), '[]') END,
      'generated_at', arc_ts(now()))
  $sql$ INTO doc USING p_as_of, p_group, p_currency, p_customer, p_collector, (p_as_of + 1)::timestamptz,
                       p_as_of >= current_date AND NOT p_replay;
  RETURN doc;
END
$fn$;

-- One currency's money KPIs from the period's sums (numeric, exact); the
-- formulas are documented in openapi (GET /v1/reports/kpis).  Ratios are
-- rounded half away from zero to 2 decimals; NULL when what they divide by
-- is not above 0.  met compares the unrounded share with the goal.
CREATE FUNCTION arc_report_kpi_currency(p_currency text, p_days integer, p_goal integer, br numeric, er numeric,
                                        ecr numeric, cs numeric, billed30 numeric, collected30 numeric,
                                        paid_count bigint, paid_amount numeric, paid_days numeric)
RETURNS json
LANGUAGE sql IMMUTABLE AS
$$
  SELECT json_build_object(
    'currency', p_currency,
    'beginning_receivables', br,
    'ending_receivables', er,
    'ending_current_receivables', ecr,
    'credit_sales', cs,
    'dso', CASE WHEN cs > 0 THEN round(er * p_days / cs, 2) END,
    'cei', CASE WHEN br + cs - ecr > 0 THEN round(100 * (br + cs - er) / (br + cs - ecr), 2) END,
    'collected_within_30_days', json_build_object(
      'invoiced_amount', billed30,
      'collected_amount', collected30,
      'actual_pct', CASE WHEN billed30 > 0 THEN round(100 * collected30 / billed30, 2) END,
      'goal_pct', p_goal,
      'met', CASE WHEN billed30 > 0 THEN 100 * collected30 >= p_goal * billed30 END),
    'days_to_pay', json_build_object(
      'invoices_paid', paid_count,
      'amount_paid', paid_amount,
      'average_days', CASE WHEN paid_amount > 0 THEN round(paid_days / paid_amount, 2) END))
$$;

-- GET /v1/reports/kpis for the days P_FROM through P_TO (both included),
-- all customers or P_COLLECTOR's; P_GROUP 'collector' adds the same per
-- collector.  Receivables follow the rules at the top of this file, at the
-- end of P_FROM - 1 (beginning) and of P_TO (ending); factored invoices
-- are left out of every money figure (their collection is the factor's).
-- Per invoice (issued by P_TO, not void, not factored):
--   owed_begin  issued before P_FROM, not written off by then: its owed amount;
--   owed_end    not written off by the end of P_TO: its owed amount;
--   sales       issued in the period: original_amount + adjustments made by
--               the end of P_TO; issued before: the adjustments made in the
--               period (net credit sales, so that beginning + sales - ending
--               is what payments and write-offs took off);
--   billed30 / collected30  issued in the period: the amount with the
--               adjustments made by the end of issued_on + 30, and the
--               allocations of payments received by issued_on + 30 and never
--               reversed (at most that amount);
--   paid in full in the period: nothing owed at the end of P_TO, something
--               paid, the last payment (received_on) in the period; weighs
--               its amount × the days from issued_on to that payment.
CREATE FUNCTION arc_report_kpis(p_from date, p_to date, p_group text, p_collector text)
RETURNS json
LANGUAGE plpgsql STABLE SET work_mem = '64MB' SET jit = off AS
$fn$
DECLARE
  doc json;
  -- "This year" asked on a day of it: the figures are up to today, and the
  -- report says so (to, and requested_to).
  v_to date := least(p_to, current_date);
BEGIN
  -- Planned for these values, as arc_report_aging is.  $1 from, $2 to,
  -- $3 group, $4 collector, $5 the start of from and $6 the end of to (the
  -- beginning and ending instants), $7 the days in the period, $8 the goal,
  -- $9 the to asked for when it was later than today.
  EXECUTE $sql$
    WITH inv AS MATERIALIZED (
      SELECT i.id, c.collector, i.currency, i.issued_on, i.due_on, i.original_amount,
             CASE WHEN i.status = 'written_off' THEN coalesce(w.written_off_at, i.updated_at) END AS written_off_at
      FROM invoices i
      JOIN customers c ON c.id = i.customer_id
      LEFT JOIN arc_report_written_off() w ON w.invoice_id = i.id
      WHERE i.issued_on <= $2 AND i.status <> 'void' AND NOT i.factored
        AND ($4 IS NULL OR c.collector = lower($4))
    ), adj AS (
      SELECT a.invoice_id,
             sum(a.amount) FILTER (WHERE a.created_at < $5) AS at_begin,
             sum(a.amount) FILTER (WHERE a.created_at < $6) AS at_end,
             sum(a.amount) FILTER (WHERE a.created_at < (v.issued_on + 31)::timestamptz) AS at_day30
      FROM invoice_adjustments a
      JOIN inv v ON v.id = a.invoice_id
      GROUP BY a.invoice_id
    ), paid AS (
      SELECT al.invoice_id,
             sum(al.amount) FILTER (WHERE p.received_on < $1
                                      AND (al.reversed_at IS NULL OR al.reversed_at >= $5))
               AS at_begin,
             sum(al.amount) FILTER (WHERE p.received_on <= $2
                                      AND (al.reversed_at IS NULL OR al.reversed_at >= $6))
               AS at_end,
             max(p.received_on) FILTER (WHERE p.received_on <= $2
                                          AND (al.reversed_at IS NULL OR al.reversed_at >= $6))
               AS last_on,
             sum(al.amount) FILTER (WHERE p.received_on <= v.issued_on + 30 AND al.reversed_at IS NULL) AS within30
      FROM payment_allocations al
      JOIN payments p ON p.id = al.payment_id
      JOIN inv v ON v.id = al.invoice_id
      GROUP BY al.invoice_id
    ), pos AS (
      SELECT v.collector, v.currency, v.issued_on >= $1 AS issued_in_period,
             CASE WHEN v.issued_on < $1 AND (v.written_off_at IS NULL OR v.written_off_at >= $5)
                  THEN greatest(v.original_amount + coalesce(a.at_begin, 0) - coalesce(pd.at_begin, 0), 0)
                  ELSE 0 END AS owed_begin,
             v.written_off_at IS NULL OR v.written_off_at >= $6 AS held_at_end,
             v.original_amount + coalesce(a.at_end, 0) AS amount_end,
             coalesce(pd.at_end, 0) AS paid_end,
             pd.last_on, v.issued_on, v.due_on,
             CASE WHEN v.issued_on >= $1 THEN v.original_amount + coalesce(a.at_end, 0)
                  ELSE coalesce(a.at_end, 0) - coalesce(a.at_begin, 0) END AS sales,
             v.original_amount + coalesce(a.at_day30, 0) AS billed30,
             coalesce(pd.within30, 0) AS paid30
      FROM inv v
      LEFT JOIN adj a ON a.invoice_id = v.id
      LEFT JOIN paid pd ON pd.invoice_id = v.id
    ), money1 AS (
      SELECT p.collector, p.currency,
             sum(p.owed_begin) AS br,
             sum(greatest(p.amount_end - p.paid_end, 0)) FILTER (WHERE p.held_at_end) AS er,
             sum(greatest(p.amount_end - p.paid_end, 0)) FILTER (WHERE p.held_at_end AND p.due_on >= $2) AS ecr,
             sum(p.sales) AS cs,
             sum(greatest(p.billed30, 0)) FILTER (WHERE p.issued_in_period) AS billed30,
             sum(least(greatest(p.paid30, 0), greatest(p.billed30, 0))) FILTER (WHERE p.issued_in_period)
               AS collected30,
             count(*) FILTER (WHERE p.held_at_end AND p.paid_end > 0 AND p.amount_end > 0
                                AND p.amount_end <= p.paid_end AND p.last_on >= $1) AS paid_count,
             sum(p.amount_end) FILTER (WHERE p.held_at_end AND p.paid_end > 0 AND p.amount_end > 0
                                         AND p.amount_end <= p.paid_end AND p.last_on >= $1) AS paid_amount,
             sum(p.amount_end * greatest(p.last_on - p.issued_on, 0))
               FILTER (WHERE p.held_at_end AND p.paid_end > 0 AND p.amount_end > 0
                         AND p.amount_end <= p.paid_end AND p.last_on >= $1) AS paid_days
      FROM pos p
      GROUP BY p.collector, p.currency
    ), money AS (
      -- Sums roll up exactly: per collector first, then the totals.
      SELECT s.is_total, s.collector, m.currency,
             coalesce(sum(m.br), 0) AS br, coalesce(sum(m.er), 0) AS er, coalesce(sum(m.ecr), 0) AS ecr,
             coalesce(sum(m.cs), 0) AS cs, coalesce(sum(m.billed30), 0) AS billed30,
             coalesce(sum(m.collected30), 0) AS collected30, sum(m.paid_count)::bigint AS paid_count,
             coalesce(sum(m.paid_amount), 0) AS paid_amount, coalesce(sum(m.paid_days), 0) AS paid_days
      FROM money1 m
      CROSS JOIN LATERAL (VALUES (true, NULL::text), (false, m.collector)) AS s(is_total, collector)
      WHERE s.is_total OR $3 = 'collector'
      GROUP BY s.is_total, s.collector, m.currency
      HAVING coalesce(sum(m.br), 0) <> 0 OR coalesce(sum(m.er), 0) <> 0 OR coalesce(sum(m.cs), 0) <> 0
          OR coalesce(sum(m.billed30), 0) <> 0 OR sum(m.paid_count) > 0
    ), acts1 AS (
      -- Promises that came due (due_by) in the period and were kept or
      -- broken; disputes opened, resolved and rejected in it; call logs.
      SELECT c.collector,
             count(*) FILTER (WHERE x.kind = 'promise' AND x.status = 'kept') AS kept,
             count(*) FILTER (WHERE x.kind = 'promise' AND x.status = 'broken') AS broken,
             count(*) FILTER (WHERE x.kind = 'dispute_opened') AS opened,
             count(*) FILTER (WHERE x.kind = 'dispute_closed' AND x.status = 'resolved') AS resolved,
             count(*) FILTER (WHERE x.kind = 'dispute_closed' AND x.status = 'rejected') AS rejected,
             count(*) FILTER (WHERE x.kind = 'call') AS calls,
             count(*) FILTER (WHERE x.kind = 'call' AND x.status = 'outbound') AS attempts,
             count(*) FILTER (WHERE x.kind = 'call' AND x.successful) AS successful
      FROM (SELECT 'promise' AS kind, pr.customer_id, pr.status, false AS successful
            FROM promises pr
            WHERE pr.status IN ('kept', 'broken') AND arc_promise_due_by(pr.promised_on) BETWEEN $1 AND $2
            UNION ALL
            SELECT 'dispute_opened', d.customer_id, d.status, false
            FROM disputes d
            WHERE d.created_at >= $5 AND d.created_at < $6
            UNION ALL
            SELECT 'dispute_closed', d.customer_id, d.status, false
            FROM disputes d
            WHERE d.status IN ('resolved', 'rejected') AND d.closed_at >= $5 AND d.closed_at < $6
            UNION ALL
            SELECT 'call', l.customer_id, l.direction, l.successful
            FROM call_logs l
            WHERE l.occurred_at >= $5 AND l.occurred_at < $6) AS x
      JOIN customers c ON c.id = x.customer_id
      WHERE $4 IS NULL OR c.collector = lower($4)
      GROUP BY c.collector
    ), acts AS (
      SELECT s.is_total, s.collector,
             sum(a.kept) AS kept, sum(a.broken) AS broken, sum(a.opened) AS opened, sum(a.resolved) AS resolved,
             sum(a.rejected) AS rejected, sum(a.calls) AS calls, sum(a.attempts) AS attempts,
             sum(a.successful) AS successful
      FROM acts1 a
      CROSS JOIN LATERAL (VALUES (true, NULL::text), (false, a.collector)) AS s(is_total, collector)
      WHERE s.is_total OR $3 = 'collector'
      GROUP BY s.is_total, s.collector
    ), scopes AS (
      SELECT u.is_total, u.collector,
             coalesce(json_agg(u.doc ORDER BY u.currency) FILTER (WHERE u.doc IS NOT NULL), '[]') AS currencies,
             sum(u.kept) AS kept, sum(u.broken) AS broken, sum(u.opened) AS opened, sum(u.resolved) AS resolved,
             sum(u.rejected) AS rejected, sum(u.calls) AS calls, sum(u.attempts) AS attempts,
             sum(u.successful) AS successful
      FROM (SELECT m.is_total, m.collector, m.currency,
                   arc_report_kpi_currency(m.currency, $7, $8, m.br, m.er, m.ecr, m.cs, m.billed30,
                                           m.collected30, m.paid_count, m.paid_amount, m.paid_days) AS doc,
                   0 AS kept, 0 AS broken, 0 AS opened, 0 AS resolved, 0 AS rejected, 0 AS calls, 0 AS attempts,
                   0 AS successful
            FROM money m
            UNION ALL
            SELECT a.is_total, a.collector, NULL, NULL, a.kept, a.broken, a.opened, a.resolved, a.rejected,
                   a.calls, a.attempts, a.successful
            FROM acts a
            UNION ALL -- the totals exist even when nothing happened
            SELECT true, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0) AS u
      GROUP BY u.is_total, u.collector
    ), parts AS (
      SELECT s.is_total, s.collector, s.currencies,
             json_build_object(
               'came_due', s.kept + s.broken, 'kept', s.kept, 'broken', s.broken,
               'kept_pct', CASE WHEN s.kept + s.broken > 0 THEN round(100 * s.kept / (s.kept + s.broken), 2) END)
               AS promises,
             json_build_object('opened', s.opened, 'resolved', s.resolved, 'rejected', s.rejected) AS disputes,
             json_build_object('logged', s.calls, 'attempts', s.attempts, 'successful_contacts', s.successful)
               AS calls
      FROM scopes s
    )
    SELECT json_build_object(
      'from', to_char($1, 'YYYY-MM-DD'),
      'to', to_char($2, 'YYYY-MM-DD'),
      'requested_to', $9,
      'days', $7,
      'group_by', $3,
      'filters', json_build_object('collector', $4),
      'goal_pct', $8,
      'totals', (SELECT json_build_object('currencies', t.currencies, 'promises', t.promises,
                                          'disputes', t.disputes, 'calls', t.calls)
                 FROM parts t WHERE t.is_total),
      'groups', CASE WHEN $3 IS NOT NULL THEN coalesce((
        SELECT json_agg(json_build_object('collector', g.collector, 'currencies', g.currencies,
                                          'promises', g.promises, 'disputes', g.disputes, 'calls', g.calls)
                        ORDER BY g.collector IS NULL, g.collector)
        FROM parts g WHERE NOT g.is_total), '[]') END,
      'generated_at', arc_ts(now()))
  $sql$ INTO doc USING p_from, v_to, p_group, p_collector, p_from::timestamptz, (v_to + 1)::timestamptz,
                       v_to - p_from + 1, arc_setting_int('receivables_goal_pct', 70),
                       CASE WHEN p_to > v_to THEN to_char(p_to, 'YYYY-MM-DD') END;
  RETURN doc;
END
$fn$;
