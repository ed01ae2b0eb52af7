-- Escalations (SPEC P8): the ladder collector → the account's salesperson
-- (sales) → management → legal letter / collection agency.  The table is
-- in 0016_plans_escalations.sql; here are its document, a manager's
-- decisions (open, accept, climb, decline, resolve, cancel), its events,
-- the sweep's policy that proposes the next rung, the escalation
-- follow-up for the assignee, and the hand-off: at legal or agency routine
-- dunning stops.
--
-- One row per escalation of an account climbs the ladder: `level` is where
-- it stands, `history` the levels it was opened at.  The policy proposes a
-- new escalation (status proposed) or, for an open one, a higher
-- `proposed_level`; a manager accepts (status open / a climb to that
-- level), declines (`proposed_level: null` → declined_level) or cancels.
-- What the policy reads:
--   legal       the account is escalate_legal_days (90) overdue;
--   management  escalate_management_days (45) overdue;
--   sales       escalate_sales_attempts (5) unsuccessful attempts since
--               the last successful contact;
--   agency      never proposed: a manager's choice.
-- "Overdue" is the sweep's: the oldest dunnable invoice past due
-- (arc_sweep_accounts.first_due), counted in business days of as_of.
--
-- Manager decisions are the current state of the row, as an open dispute
-- is: a sweep replayed for an earlier as_of sees them as they are now.

-- The rungs in order; 0 for none (NULL), so greatest() compares them.
CREATE FUNCTION arc_escalation_rank(level text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT coalesce(array_position(ARRAY['sales', 'management', 'legal', 'agency'], level), 0) $$;

-- Who works an escalation at LEVEL when nobody was named: at sales the
-- customer's salesperson (who owns the relationship; its collector when it
-- has none); above, the configured management handle
-- (ARC_MANAGEMENT_ASSIGNEE; NULL, unassigned, when not configured).
CREATE FUNCTION arc_escalation_assignee(c customers, level text) RETURNS text
LANGUAGE sql STABLE AS
$$
  SELECT CASE WHEN level = 'sales' THEN coalesce(c.salesperson, c.collector)
              ELSE arc_setting_text('management_assignee') END
$$;

-- When the escalation was opened at its current level (the last entry of
-- its history), NULL while only proposed.
CREATE FUNCTION arc_escalation_level_since(e escalations) RETURNS timestamptz
LANGUAGE sql STABLE AS
$$ SELECT coalesce((e.history -> -1 ->> 'opened_at')::timestamptz, e.opened_at) $$;

CREATE FUNCTION arc_escalation_json(e escalations) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT jsonb_build_object(
    'id', e.id::text,
    'customer_id', e.customer_id::text,
    'invoice_ids', arc_id_strings(e.invoice_ids),
    'level', e.level,
    'proposed_level', e.proposed_level,
    'declined_level', e.declined_level,
    'reason', e.reason,
    'assignee', e.assignee,
    'status', e.status,
    'outcome', e.outcome,
    'outcome_notes', e.outcome_notes,
    'history', e.history,
    'handed_off', e.status = 'open' AND e.level IN ('legal', 'agency'),
    'proposed_by', e.proposed_by,
    'proposed_at', arc_ts(e.proposed_at),
    'opened_at', arc_ts(e.opened_at),
    'opened_by', e.opened_by,
    'closed_at', arc_ts(e.closed_at),
    'closed_by', e.closed_by,
    'run_id', e.run_id::text,
    'version', e.version,
    'created_at', arc_ts(e.created_at),
    'updated_at', arc_ts(e.updated_at))
$$;

-- One entry of the history: the level, when and by whom it was opened
-- there, and who it went to.
CREATE FUNCTION arc_escalation_history_entry(level text, opened_at timestamptz, opened_by text, assignee text)
RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT jsonb_build_array(jsonb_build_object('level', level, 'opened_at', arc_ts(opened_at),
                                              'opened_by', opened_by, 'assignee', assignee))
$$;

-- Whether an escalation's account still owes what it is about at DAY: an
-- open balance on its invoices, or, when it names none, anything open and
-- past due (disputed and plan invoices are owed too; factored ones are the
-- factor's).  Also whether any of its invoices was paid or written off,
-- for the outcome the sweep records when nothing is owed any more.
CREATE FUNCTION arc_escalation_owed(e escalations, p_day date,
                                    OUT owes boolean, OUT any_paid boolean, OUT any_written_off boolean)
LANGUAGE sql STABLE AS
$$
  SELECT CASE WHEN cardinality(e.invoice_ids) > 0 THEN coalesce(a.owes, false)
              ELSE EXISTS (SELECT 1 FROM invoices o
                           WHERE o.customer_id = e.customer_id AND o.status = 'open' AND o.balance > 0
                             AND o.due_on < p_day AND NOT o.factored) END,
         coalesce(a.paid, false), coalesce(a.written_off, false)
  FROM (SELECT bool_or(i.status = 'open' AND i.balance > 0) AS owes, bool_or(i.status = 'paid') AS paid,
               bool_or(i.status = 'written_off') AS written_off
        FROM invoices i WHERE i.id = ANY (e.invoice_ids)) AS a
$$;

-- POST /v1/escalations: a manager opens an escalation at any level
-- (validated body P: customer_id, level, reason, invoice_ids?, assignee?).
-- invoice_ids: open invoices of the customer, in the body's order; absent,
-- its open invoices past due today; [] is about the account as a whole.
-- One proposed or open escalation per customer: a second one is refused
-- naming the one to work on (also when two arrive at once: the unique
-- index decides, the loser sees the winner).
CREATE FUNCTION arc_escalation_create(p jsonb, p_actor text) RETURNS escalations
LANGUAGE plpgsql AS
$$
DECLARE
  v_customer bigint := (p->>'customer_id')::bigint;
  v_level text := p->>'level';
  v_now timestamptz := now();
  c customers;
  v_ids bigint[];
  v_bad record;
  v_assignee text;
  v_row escalations;
BEGIN
  SELECT * INTO c FROM customers WHERE id = v_customer;
  IF NOT FOUND THEN
    PERFORM arc_raise('AR422', format('no customer with id %s', v_customer), 'customer_id');
  END IF;
  IF jsonb_typeof(p->'invoice_ids') = 'array' THEN
    v_ids := ARRAY(SELECT (x.v #>> '{}')::bigint
                   FROM jsonb_array_elements(p->'invoice_ids') WITH ORDINALITY AS x(v, o) ORDER BY x.o);
    SELECT u.o - 1 AS idx, u.x AS id, i.customer_id, i.status INTO v_bad
    FROM unnest(v_ids) WITH ORDINALITY AS u(x, o)
    LEFT JOIN invoices i ON i.id = u.x
    WHERE i.id IS NULL OR i.customer_id <> v_customer OR i.status <> 'open'
    ORDER BY u.o LIMIT 1;
    IF FOUND THEN
      PERFORM arc_raise('AR422',
        CASE WHEN v_bad.customer_id IS NULL THEN format('no invoice with id %s', v_bad.id)
             WHEN v_bad.customer_id <> v_customer THEN format('invoice %s belongs to another customer', v_bad.id)
             ELSE format('invoice %s is %s; an escalation is about open invoices', v_bad.id,
                         replace(v_bad.status, '_', ' ')) END,
        format('invoice_ids[%s]', v_bad.idx));
    END IF;
  ELSE
    v_ids := ARRAY(SELECT i.id FROM invoices i
                   WHERE i.customer_id = v_customer AND i.status = 'open' AND i.balance > 0
                     AND i.due_on < current_date AND NOT i.factored
                   ORDER BY i.due_on, i.id);
  END IF;
  v_assignee := CASE WHEN p ? 'assignee' THEN p->>'assignee' ELSE arc_escalation_assignee(c, v_level) END;

  INSERT INTO escalations (customer_id, invoice_ids, level, reason, assignee, status, history,
                           proposed_by, proposed_at, opened_at, opened_by)
  VALUES (v_customer, v_ids, v_level, p->>'reason', v_assignee, 'open',
          arc_escalation_history_entry(v_level, v_now, p_actor, v_assignee),
          p_actor, v_now, v_now, p_actor)
  ON CONFLICT DO NOTHING
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    SELECT * INTO v_row FROM escalations e WHERE e.customer_id = v_customer AND e.status IN ('proposed', 'open');
    PERFORM arc_raise('AR409',
      format('customer %s already has %s escalation %s (level %s); one escalation per customer climbs the '
             'ladder: work on that one with PATCH /v1/escalations/%s', v_customer,
             CASE v_row.status WHEN 'open' THEN 'open' ELSE 'a proposed' END, v_row.id, v_row.level, v_row.id),
      'customer_id');
  END IF;
  RETURN v_row;
END
$$;

-- PATCH of an escalation (the caller locked it and checked If-Match).  P
-- holds validated fields whose combination fits (src/work/escalations.c);
-- what depends on the row's state is decided here:
--   proposed  {status: open, level?, assignee?}  accept (at the proposed
--             level or another one the manager picks);
--             {status: cancelled, outcome_notes?}; {assignee};
--   open      {level, assignee?}                 climb (only upward; takes
--             a proposal; assignee re-defaulted for the level unless given);
--             {proposed_level: null}             decline what was proposed;
--             {status: resolved, outcome, outcome_notes?};
--             {status: cancelled, outcome_notes?}; {assignee};
--   resolved, cancelled: nothing changes any more.
-- Every opening at a level is a history entry.  The new row is worked out
-- first and written by one UPDATE, so a change is one event.
CREATE FUNCTION arc_escalation_update(p_id bigint, p jsonb, p_actor text)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text)
LANGUAGE plpgsql AS
$$
DECLARE
  cur escalations;
  nw escalations;
  c customers;
  want text := p->>'status';
  v_level text := p->>'level';
  v_now timestamptz := now();
  v_higher text;
BEGIN
  SELECT * INTO cur FROM escalations WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM arc_raise('AR404', format('no escalation with id %s', p_id));
  END IF;
  IF p = '{}'::jsonb THEN
    RETURN QUERY SELECT cur.id, cur.version, arc_escalation_json(cur)::text;
    RETURN;
  END IF;
  IF cur.status IN ('resolved', 'cancelled') THEN
    PERFORM arc_raise('AR409', format('the escalation is %s; a closed escalation does not change (open a new one '
                                      'for the customer if needed)', cur.status),
                      (SELECT k FROM jsonb_object_keys(p) AS k ORDER BY k = 'status' DESC, k LIMIT 1));
  END IF;
  SELECT * INTO c FROM customers WHERE id = cur.customer_id;
  nw := cur;

  IF cur.status = 'proposed' THEN
    IF want = 'resolved' THEN
      PERFORM arc_raise('AR409', 'the escalation is only proposed: accept it (status open) or cancel it; it can be '
                                 'resolved once open', 'status');
    END IF;
    IF p ? 'proposed_level' THEN
      PERFORM arc_raise('AR409', 'the escalation is only proposed and has no proposed climb: cancel it to decline '
                                 'the proposal', 'proposed_level');
    END IF;
    IF v_level IS NOT NULL AND want IS DISTINCT FROM 'open' THEN
      PERFORM arc_raise('AR409', 'a proposal''s level is chosen when it is accepted: send status open with level',
                        'level');
    END IF;
    IF want = 'open' THEN
      nw.status := 'open';
      nw.level := coalesce(v_level, cur.level);
      nw.assignee := CASE WHEN p ? 'assignee' THEN p->>'assignee'
                          WHEN nw.level <> cur.level THEN arc_escalation_assignee(c, nw.level)
                          ELSE cur.assignee END;
      nw.opened_at := v_now;
      nw.opened_by := p_actor;
      nw.history := cur.history || arc_escalation_history_entry(nw.level, v_now, p_actor, nw.assignee);
    END IF;
  ELSIF v_level IS NOT NULL THEN -- open: a climb
    IF arc_escalation_rank(v_level) <= arc_escalation_rank(cur.level) THEN
      SELECT string_agg(l, ', ' ORDER BY arc_escalation_rank(l)) INTO v_higher
      FROM unnest(ARRAY['sales', 'management', 'legal', 'agency']) AS l
      WHERE arc_escalation_rank(l) > arc_escalation_rank(cur.level);
      PERFORM arc_raise('AR409',
        format('the escalation is at %s and only climbs: %s', cur.level,
               CASE WHEN v_higher IS NULL THEN 'agency is the last level; resolve or cancel it instead'
                    ELSE 'choose a higher level (' || v_higher || ')' END),
        'level');
    END IF;
    nw.level := v_level;
    nw.proposed_level := NULL;
    nw.assignee := CASE WHEN p ? 'assignee' THEN p->>'assignee' ELSE arc_escalation_assignee(c, v_level) END;
    nw.history := cur.history || arc_escalation_history_entry(v_level, v_now, p_actor, nw.assignee);
  ELSIF p ? 'proposed_level' THEN -- open: the proposed climb declined
    IF cur.proposed_level IS NULL THEN
      PERFORM arc_raise('AR409', 'no higher level is proposed for this escalation: there is nothing to decline',
                        'proposed_level');
    END IF;
    nw.declined_level := CASE WHEN arc_escalation_rank(cur.proposed_level) > arc_escalation_rank(cur.declined_level)
                              THEN cur.proposed_level ELSE cur.declined_level END;
    nw.proposed_level := NULL;
  END IF;

  IF want IN ('resolved', 'cancelled') THEN
    nw.status := want;
    nw.outcome := CASE WHEN want = 'resolved' THEN p->>'outcome' END;
    nw.proposed_level := NULL;
    nw.closed_at := v_now;
    nw.closed_by := p_actor;
  END IF;
  IF p ? 'outcome_notes' THEN
    nw.outcome_notes := p->>'outcome_notes';
  END IF;
  -- Named alone (or with a decline): the level and its history stay.
  IF p ? 'assignee' AND nw.level = cur.level AND nw.status = cur.status THEN
    nw.assignee := p->>'assignee';
  END IF;

  UPDATE escalations SET
    status = nw.status, level = nw.level, proposed_level = nw.proposed_level, declined_level = nw.declined_level,
    assignee = nw.assignee, outcome = nw.outcome, outcome_notes = nw.outcome_notes, history = nw.history,
    opened_at = nw.opened_at, opened_by = nw.opened_by, closed_at = nw.closed_at, closed_by = nw.closed_by
  WHERE id = p_id
  RETURNING * INTO cur;
  RETURN QUERY SELECT cur.id, cur.version, arc_escalation_json(cur)::text;
END
$$;

-- Events (SPEC §2), one INSERT per statement so a sweep proposing for many
-- accounts runs one trigger, not one per row (as follow-ups do, 0015):
--   escalation.proposed   the policy proposed one, raised a proposal's
--                         level, or proposed a climb (proposed_level);
--   escalation.opened     a manager opened one or accepted a proposal;
--   escalation.resolved, escalation.cancelled;
--   escalation.updated    anything else (a climb, a declined proposal, a
--                         new assignee).
-- Updates that changed nothing (same version) record nothing.
CREATE FUNCTION arc_escalations_emit() RETURNS trigger
LANGUAGE plpgsql AS
$$
BEGIN
  -- EXECUTE plans each time (a plan cached for a tiny transition table
  -- would be used for the sweep's large one).  New rows are read in the
  -- order they were inserted, which is id order (ids are drawn row by row
  -- as they are inserted): no sort of the sweep's proposals.
  IF TG_OP = 'INSERT' THEN
    EXECUTE $q$
      INSERT INTO events (type, resource_type, resource_id, customer_id, actor, request_id, data)
      SELECT CASE n.status WHEN 'proposed' THEN 'escalation.proposed' ELSE 'escalation.opened' END,
             'escalation', n.id::text, n.customer_id,
             coalesce(nullif(current_setting('arc.actor', true), ''), 'system'),
             nullif(current_setting('arc.request_id', true), ''),
             arc_escalation_json(n::escalations)
      FROM new_rows n $q$;
  ELSE
    EXECUTE $q$
      INSERT INTO events (type, resource_type, resource_id, customer_id, actor, request_id, data)
      SELECT CASE
               WHEN n.status <> o.status AND n.status = 'open' THEN 'escalation.opened'
               WHEN n.status <> o.status THEN 'escalation.' || n.status
               WHEN n.proposed_level IS NOT NULL AND n.proposed_level IS DISTINCT FROM o.proposed_level
                 THEN 'escalation.proposed'
               WHEN n.status = 'proposed' AND n.level <> o.level THEN 'escalation.proposed'
               ELSE 'escalation.updated' END,
             'escalation', n.id::text, n.customer_id,
             coalesce(nullif(current_setting('arc.actor', true), ''), 'system'),
             nullif(current_setting('arc.request_id', true), ''),
             arc_escalation_json(n::escalations)
      FROM new_rows n
      JOIN old_rows o ON o.id = n.id
      WHERE n.version <> o.version
      ORDER BY n.id $q$;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER escalations_emit_insert AFTER INSERT ON escalations
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_escalations_emit();
CREATE TRIGGER escalations_emit_update AFTER UPDATE ON escalations
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_escalations_emit();

-- The call sheet (0011) shows the escalation being worked: the proposed
-- or open one, else null.
CREATE OR REPLACE FUNCTION arc_call_sheet_escalation(c customers) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT arc_escalation_json(e) FROM escalations e
  WHERE e.customer_id = c.id AND e.status IN ('proposed', 'open')
$$;

-- Closed escalations by customer (the policy does not propose again what a
-- manager closed), and open escalation follow-ups by escalation.
CREATE INDEX escalations_closed_idx ON escalations (customer_id) WHERE status IN ('cancelled', 'resolved');
CREATE INDEX follow_ups_escalation_idx ON follow_ups (escalation_id)
  WHERE reason = 'escalation' AND status IN ('open', 'snoozed');

-- Sweep rule (P8), after the plans rule and before any follow-up rule:
--
-- 1. Settles escalations whose account no longer owes what they are about
--    (arc_escalation_owed: invoices' balances, not the dunnable view, in
--    which handed-off accounts owe nothing): an open one is resolved
--    `paid` (`written_off` when none of its invoices was paid and one was
--    written off), a proposed one cancelled; closed_by 'system', closed_at
--    AS_OF.  Handed-off ones first, so that the accounts built next see
--    their invoices as dunnable again (routine dunning resumes in this
--    sweep); for the others the accounts already say that most of them
--    still owe (an overdue invoice of theirs), and only the rest is looked
--    up.
-- 2. The policy level of every overdue account (days from the oldest
--    dunnable due date; unsuccessful attempts since the last successful
--    contact, counted in one pass over the call logs of the accounts that
--    could only reach sales: overdue for less than the management days,
--    with no escalation under way and none closed by a manager in this
--    episode).
-- 3. No escalation under way: a proposal at that level, unless a manager
--    closed (cancelled, or resolved with the account still overdue) one of
--    the customer's escalations at that level or higher in this overdue
--    episode (proposed after the oldest due date): the policy does not
--    nag.  A proposal whose policy level rose: raised
--    (reason, invoices and assignee follow).  An open one whose policy
--    level is above its level, its proposed and its declined level: that
--    level is proposed.
-- Every update is guarded by the version the sweep read: a row a manager
-- changed meanwhile (the sweep takes no row locks before deciding) is
-- left as the manager left it, and looked at again by the next sweep.
-- Proposals are events, not follow-ups: no rows returned.
CREATE OR REPLACE FUNCTION arc_rule_escalations(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_sales integer := arc_setting_int('escalate_sales_attempts', 5);
  v_mgmt integer := arc_setting_int('escalate_management_days', 45);
  v_legal integer := arc_setting_int('escalate_legal_days', 90);
  v_changed bigint;
BEGIN
  -- 1a. Handed-off accounts, before the accounts are built.
  UPDATE escalations e SET
    status = CASE e.status WHEN 'open' THEN 'resolved' ELSE 'cancelled' END,
    outcome = CASE WHEN e.status <> 'open' THEN NULL
                   WHEN NOT w.any_paid AND w.any_written_off THEN 'written_off' ELSE 'paid' END,
    outcome_notes = 'closed by the scheduler: nothing is owed on its invoices any more',
    proposed_level = NULL, closed_at = p_as_of, closed_by = 'system'
  FROM escalations x
  CROSS JOIN LATERAL arc_escalation_owed(x, v_day) w
  WHERE e.id = x.id AND e.version = x.version
    AND x.status = 'open' AND x.level IN ('legal', 'agency') AND NOT w.owes;

  PERFORM arc_sweep_accounts(p_as_of, p_run);

  -- 1b. The others that the accounts do not show owing.
  UPDATE escalations e SET
    status = CASE e.status WHEN 'open' THEN 'resolved' ELSE 'cancelled' END,
    outcome = CASE WHEN e.status <> 'open' THEN NULL
                   WHEN NOT w.any_paid AND w.any_written_off THEN 'written_off' ELSE 'paid' END,
    outcome_notes = 'closed by the scheduler: nothing is owed on its invoices any more',
    proposed_level = NULL, closed_at = p_as_of, closed_by = 'system'
  FROM escalations x
  CROSS JOIN LATERAL arc_escalation_owed(x, v_day) w
  WHERE e.id = x.id AND e.version = x.version AND x.status IN ('proposed', 'open')
    AND NOT (x.status = 'open' AND x.level IN ('legal', 'agency'))
    AND NOT EXISTS (SELECT 1 FROM pg_temp.arc_sweep_accounts s
                    WHERE s.customer_id = x.customer_id AND s.first_due IS NOT NULL
                      AND (x.invoice_ids = '{}' OR x.invoice_ids && s.invoice_ids))
    AND NOT w.owes;

  -- 2 and 3.
  WITH acc AS (
    SELECT s.customer_id, s.first_due, v_day - s.first_due AS days, s.invoice_ids
    FROM pg_temp.arc_sweep_accounts s
    WHERE s.first_due IS NOT NULL),
  cur AS (
    SELECT e.id, e.version, e.customer_id, e.status, e.level, e.proposed_level, e.declined_level
    FROM escalations e WHERE e.status IN ('proposed', 'open')),
  -- The highest level a manager closed (cancelled, or resolved while the
  -- account stayed overdue) in this overdue episode.
  refused AS (
    SELECT e.customer_id, max(arc_escalation_rank(e.level)) AS rank
    FROM escalations e
    JOIN acc a ON a.customer_id = e.customer_id
    WHERE e.status IN ('cancelled', 'resolved') AND e.closed_by IS DISTINCT FROM 'system'
      AND arc_business_date(e.proposed_at) > a.first_due
    GROUP BY e.customer_id),
  -- Accounts where only the attempts can decide.
  cand AS (
    SELECT a.customer_id FROM acc a
    WHERE a.days < v_mgmt
      AND NOT EXISTS (SELECT 1 FROM cur WHERE cur.customer_id = a.customer_id)
      AND NOT EXISTS (SELECT 1 FROM refused r WHERE r.customer_id = a.customer_id)),
  -- Every call log is a successful contact or an unsuccessful outbound
  -- attempt; the attempts since the last success are the logs newer than
  -- the newest successful one.
  tries AS (
    SELECT t.customer_id, count(*) FILTER (WHERE NOT t.reached) AS attempts, bool_or(t.reached) AS ever_reached
    FROM (SELECT l.customer_id,
                 bool_or(l.successful) OVER (PARTITION BY l.customer_id
                                             ORDER BY l.occurred_at DESC, l.id DESC) AS reached
          FROM call_logs l
          WHERE l.customer_id IN (SELECT cand.customer_id FROM cand) AND l.occurred_at <= p_as_of) AS t
    GROUP BY t.customer_id
    HAVING count(*) FILTER (WHERE NOT t.reached) >= v_sales),
  pol AS (
    SELECT a.customer_id, a.invoice_ids, p.level, arc_escalation_rank(p.level) AS rank,
           CASE WHEN p.level = 'sales'
                THEN t.attempts || ' unsuccessful attempts '
                     || CASE WHEN t.ever_reached THEN 'since the last successful contact'
                             ELSE 'and no successful contact yet' END
                ELSE a.days || ' days overdue' END AS reason
    FROM acc a
    LEFT JOIN tries t ON t.customer_id = a.customer_id
    CROSS JOIN LATERAL (SELECT CASE WHEN a.days >= v_legal THEN 'legal'
                                    WHEN a.days >= v_mgmt THEN 'management'
                                    WHEN t.customer_id IS NOT NULL THEN 'sales' END AS level) AS p
    WHERE p.level IS NOT NULL),
  -- Each account's policy beside its escalation under way, joined once;
  -- then only the rows that change are joined further and written.
  pc AS MATERIALIZED (
    SELECT p.customer_id, p.invoice_ids, p.level, p.rank, p.reason,
           cur.id, cur.version, cur.status, cur.level AS cur_level,
           greatest(arc_escalation_rank(cur.level), arc_escalation_rank(cur.proposed_level),
                    arc_escalation_rank(cur.declined_level)) AS cur_rank
    FROM pol p
    LEFT JOIN cur ON cur.customer_id = p.customer_id),
  proposed AS (
    INSERT INTO escalations (customer_id, invoice_ids, level, reason, assignee, status, proposed_by, proposed_at,
                             run_id)
    SELECT p.customer_id, p.invoice_ids, p.level, p.reason, arc_escalation_assignee(c, p.level), 'proposed',
           'policy', p_as_of, p_run
    FROM pc p
    JOIN customers c ON c.id = p.customer_id
    WHERE p.id IS NULL
      AND NOT EXISTS (SELECT 1 FROM refused r WHERE r.customer_id = p.customer_id AND r.rank >= p.rank)
    ORDER BY p.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1),
  raised AS (
    UPDATE escalations e SET
      level = p.level, reason = p.reason, invoice_ids = p.invoice_ids,
      assignee = (SELECT arc_escalation_assignee(c, p.level) FROM customers c WHERE c.id = p.customer_id),
      proposed_at = p_as_of, run_id = p_run
    FROM pc p
    WHERE p.status = 'proposed' AND p.rank > arc_escalation_rank(p.cur_level)
      AND e.id = p.id AND e.version = p.version
    RETURNING 1),
  climbs AS (
    UPDATE escalations e SET proposed_level = p.level, run_id = p_run
    FROM pc p
    WHERE p.status = 'open' AND p.rank > p.cur_rank
      AND e.id = p.id AND e.version = p.version
    RETURNING 1)
  SELECT (SELECT count(*) FROM proposed) + (SELECT count(*) FROM raised) + (SELECT count(*) FROM climbs)
  INTO v_changed;
END
$$;

-- Sweep rule (P8): an open escalation is worked by its assignee through an
-- `escalation` follow-up, due the business day it was opened at its level;
-- the cause is the escalation at that level, so a climb makes a new one
-- for the new level's assignee in the same sweep, and the old one closes
-- (cause_gone at AS_OF) like one whose escalation was resolved or
-- cancelled.  Internal work: a call log does not close it and a
-- cease-communication request does not stop it, and it continues while the
-- account is handed off.  amount_overdue/currency are the customer's
-- largest open, past-due balance (from the invoices: a handed-off account
-- has no dunnable balance); they and invoice_ids (the escalation's) are
-- kept current here, not by the refresh rule.
CREATE OR REPLACE FUNCTION arc_rule_escalation(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_day date := arc_business_date(p_as_of);
  v_closed integer;
  v_created integer;
BEGIN
  WITH gone AS (
    UPDATE follow_ups f SET
      status = 'done', snoozed_until = NULL, closed_reason = 'cause_gone', closed_at = p_as_of, closed_by = NULL
    WHERE f.reason = 'escalation' AND f.status IN ('open', 'snoozed')
      AND NOT EXISTS (SELECT 1 FROM escalations e
                      WHERE e.id = f.escalation_id AND e.status = 'open'
                        AND f.cause_key = 'escalation:' || e.id || ':' || e.level)
    RETURNING 1)
  SELECT count(*) INTO v_closed FROM gone;

  WITH esc AS (
    SELECT e.* FROM escalations e WHERE e.status = 'open'),
  owed AS (
    SELECT DISTINCT ON (g.customer_id) g.customer_id, g.amount, g.currency
    FROM (SELECT i.customer_id, i.currency, sum(i.balance)::bigint AS amount
          FROM invoices i
          WHERE i.customer_id IN (SELECT esc.customer_id FROM esc)
            AND i.status = 'open' AND i.balance > 0 AND i.due_on < v_day AND NOT i.factored
          GROUP BY i.customer_id, i.currency) AS g
    ORDER BY g.customer_id, g.amount DESC, g.currency),
  kept AS (
    UPDATE follow_ups f SET amount_overdue = coalesce(o.amount, 0), currency = o.currency,
                            invoice_ids = e.invoice_ids
    FROM esc e
    LEFT JOIN owed o ON o.customer_id = e.customer_id
    WHERE f.escalation_id = e.id AND f.reason = 'escalation' AND f.status IN ('open', 'snoozed')
      AND (f.amount_overdue, f.currency, f.invoice_ids)
          IS DISTINCT FROM (coalesce(o.amount, 0), o.currency, e.invoice_ids)
    RETURNING 1),
  ins AS (
    INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency,
                            invoice_ids, escalation_id, run_id)
    SELECT e.customer_id, 'escalation', 'escalation:' || e.id || ':' || e.level,
           arc_business_date(arc_escalation_level_since(e)), e.assignee, coalesce(o.amount, 0), o.currency,
           e.invoice_ids, e.id, p_run
    FROM esc e
    LEFT JOIN owed o ON o.customer_id = e.customer_id
    ORDER BY e.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT count(*) INTO v_created FROM ins;

  RETURN QUERY SELECT 'escalation'::text, v_created, v_closed WHERE v_created + v_closed > 0;
END
$$;

-- The hand-off (P8): while an account is handed off (an open escalation at
-- legal or agency) the lawyers or the agency talk to it, so every contact
-- follow-up stops (arc_contact_reasons(): overdue, retry, promise_broken,
-- check_in, thank_you, installment_missed) and so does confirm_receipt;
-- internal work goes on (resolve_dispute, escalation).  Overdue, retry and
-- promise_broken need a dunnable overdue balance, which a handed-off
-- account does not have (arc_dunnable_invoices, 0016); installment_missed
-- leaves such accounts out itself (0017); the others are left out below.
-- Open ones close with the close rule, as for a cease-communication
-- request (installment_missed with its own rule).  Once the escalation is
-- resolved or cancelled, they are made again as their causes say.

-- 0013's invoices to confirm, without handed-off customers (the close,
-- create and refresh rules of confirm_receipt all read it).  The hand-off
-- test is a hashed subplan: one probe per invoice, nothing per customer.
CREATE OR REPLACE FUNCTION arc_receipts_to_confirm(p_as_of timestamptz)
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
    AND NOT EXISTS (SELECT 1 FROM follow_ups f
                    WHERE f.customer_id = i.customer_id AND f.reason = 'confirm_receipt'
                      AND f.status IN ('done', 'dismissed') AND i.id = ANY (f.invoice_ids))
$$;

-- 0013's close rule, closing the contact follow-ups of handed-off
-- accounts too.
CREATE OR REPLACE FUNCTION arc_rule_close(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
DECLARE
  v_gone bigint[];
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  WITH quiet AS (SELECT q.customer_id FROM arc_promise_quiet(p_as_of) q),
  asking AS (
    SELECT DISTINCT f.id
    FROM follow_ups f
    JOIN arc_receipts_to_confirm(p_as_of) r ON r.customer_id = f.customer_id AND r.invoice_id = ANY (f.invoice_ids)
    WHERE f.reason = 'confirm_receipt' AND f.status IN ('open', 'snoozed')),
  handed AS (SELECT DISTINCT h.customer_id FROM arc_handed_off_customers() h)
  SELECT array_agg(f.id) INTO v_gone
  FROM follow_ups f
  JOIN customers c ON c.id = f.customer_id
  LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = f.customer_id
  LEFT JOIN quiet q ON q.customer_id = f.customer_id
  LEFT JOIN asking a ON a.id = f.id
  LEFT JOIN disputes d ON d.id = f.dispute_id
  LEFT JOIN payments p ON p.id = f.payment_id
  LEFT JOIN handed h ON h.customer_id = f.customer_id
  WHERE f.status IN ('open', 'snoozed')
    AND ((c.cease_communication AND f.reason = ANY (arc_contact_reasons()))
         -- installment_missed: its own rule (0017) closes it for a hand-off,
         -- releasing the cause so that it comes back afterwards.
         OR (h.customer_id IS NOT NULL AND f.reason = ANY (arc_contact_reasons())
             AND f.reason <> 'installment_missed')
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
      cause_key = CASE WHEN f.reason IN ('overdue', 'retry', 'promise_broken', 'check_in')
                       THEN f.cause_key || ' (closed as ' || f.id || ')' ELSE f.cause_key END
    WHERE f.id = ANY (v_gone)
    RETURNING f.reason)
  SELECT x.reason, 0, count(*)::integer FROM done x GROUP BY x.reason;
END
$$;

-- 0013's thank-you rule, not for handed-off accounts.
CREATE OR REPLACE FUNCTION arc_rule_thank_you(p_as_of timestamptz, p_run bigint)
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
      AND p.customer_id NOT IN (SELECT h.customer_id FROM arc_handed_off_customers() h)
    ORDER BY p.customer_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
  SELECT 'thank_you'::text, count(*)::integer, 0 FROM ins;
END
$$;

-- 0013's check-in rule, not for handed-off accounts (which have no
-- dunnable overdue balance, so the rule would otherwise take them for
-- accounts owing nothing).
CREATE OR REPLACE FUNCTION arc_rule_check_in(p_as_of timestamptz, p_run bigint)
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
      AND c.id NOT IN (SELECT h.customer_id FROM arc_handed_off_customers() h)
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

-- 0013's refresh rule, now that not every follow-up is the collector's:
-- an escalation follow-up is its escalation's assignee's (a new assignee
-- named on the escalation moves it), and the amounts and invoices of
-- escalation and installment_missed follow-ups are kept by their own rules
-- (arc_rule_escalation here, arc_rule_installment_missed in 0017).
CREATE OR REPLACE FUNCTION arc_rule_refresh(p_as_of timestamptz, p_run bigint)
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
  WITH r AS (
    SELECT x.customer_id, array_agg(x.invoice_id ORDER BY x.invoice_id) AS invoice_ids
    FROM arc_receipts_to_confirm(p_as_of) x
    WHERE x.customer_id IN (SELECT f.customer_id FROM follow_ups f
                            WHERE f.reason = 'confirm_receipt' AND f.status IN ('open', 'snoozed'))
    GROUP BY x.customer_id),
  n AS (
    SELECT f.id, f.assignee, f.amount_overdue, f.currency, f.invoice_ids,
           -- A lookup for escalation follow-ups only: the rest need no join.
           CASE WHEN f.reason = 'escalation'
                THEN (SELECT e.assignee FROM escalations e WHERE e.id = f.escalation_id)
                ELSE c.collector END AS new_assignee,
           CASE WHEN f.reason IN ('escalation', 'installment_missed') THEN f.amount_overdue
                ELSE coalesce(s.amount, 0) END AS new_amount,
           CASE WHEN f.reason IN ('escalation', 'installment_missed') THEN f.currency
                ELSE s.currency END AS new_currency,
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
