-- Escalations (SPEC P8): the ladder collector → the account's salesperson
-- (sales) → management → legal letter / collection agency.  The table is
-- in migrations/0005_plans_escalations.sql; here are its document, a manager's
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

-- Customers handed off at AS_OF (P8): an open escalation at legal or
-- agency.  Routine follow-ups stop until it is resolved.
CREATE FUNCTION arc_handed_off_customers() RETURNS TABLE (customer_id bigint)
LANGUAGE sql STABLE AS
$$ SELECT e.customer_id FROM escalations e WHERE e.status = 'open' AND e.level IN ('legal', 'agency') $$;

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

-- The escalation's document as its events carry it (jsonb, keys in
-- jsonb's order): the content of arc_escalation_json below, as an
-- inlinable function over a row of arc_escalation_document (migration
-- 0005), because the sweep writes ~100k of them in one statement, where the
-- API's PL/pgSQL rendering costs 26 µs a row against 9.  A field added to
-- the document goes in both.
CREATE FUNCTION arc_escalation_doc(e escalations) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT to_jsonb(ROW(
    e.id::text, e.customer_id::text, arc_id_strings(e.invoice_ids), e.level, e.proposed_level,
    e.declined_level, e.reason, e.assignee, e.status, e.outcome, e.outcome_notes, e.history,
    e.status = 'open' AND e.level IN ('legal', 'agency'), e.proposed_by, arc_ts(e.proposed_at),
    arc_ts(e.opened_at), e.opened_by, arc_ts(e.closed_at), e.closed_by, e.run_id::text, e.version,
    arc_ts(e.created_at), arc_ts(e.updated_at))::arc_escalation_document)
$$;

-- The escalation as clients see it (P8), in the contract's key order; its
-- events carry the same content (arc_escalation_doc).
CREATE FUNCTION arc_escalation_json(e escalations) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM (SELECT
    e.id::text AS id,
    e.customer_id::text AS customer_id,
    coalesce(e.invoice_ids::text[], '{}') AS invoice_ids,
    e.level,
    e.proposed_level,
    e.declined_level,
    e.reason,
    e.assignee,
    e.status,
    e.outcome,
    e.outcome_notes,
    -- Stored as jsonb (keys in jsonb's order): rendered in the contract's.
    array_to_json(ARRAY(SELECT row_to_json(h) FROM (SELECT x.level, x.opened_at, x.opened_by, x.assignee
                                                    FROM ROWS FROM (jsonb_to_recordset(e.history)
                                                           AS (level text, opened_at text, opened_by text,
                                                               assignee text))
                                                         WITH ORDINALITY AS x (level, opened_at, opened_by,
                                                                               assignee, n)
                                                    ORDER BY x.n) h)) AS history,
    e.status = 'open' AND e.level IN ('legal', 'agency') AS handed_off,
    e.proposed_by,
    arc_ts(e.proposed_at) AS proposed_at,
    arc_ts(e.opened_at) AS opened_at,
    e.opened_by,
    arc_ts(e.closed_at) AS closed_at,
    e.closed_by,
    e.run_id::text AS run_id,
    e.version,
    arc_ts(e.created_at) AS created_at,
    arc_ts(e.updated_at) AS updated_at) d);
END
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
-- accounts runs one trigger, not one per row (as follow-ups do):
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
  -- Statements that changed no row fire it too: nothing to plan then.
  IF NOT EXISTS (SELECT 1 FROM new_rows) THEN
    RETURN NULL;
  END IF;
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
             arc_escalation_doc(n::escalations)
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
             arc_escalation_doc(n::escalations)
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
