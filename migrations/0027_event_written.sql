-- Whether this transaction already recorded an event for a row: asked by
-- every deferred row trigger (arc_emit) and by arc_event_append, so that a
-- row changed several times, or whose event a statement already wrote
-- set-based, gets one event.
--
-- 0013/0025 looked it up by (txid, resource_type, resource_id).  The feed
-- index (txid, id) matches the same txid condition, and PostgreSQL cannot
-- tell the two apart by cost (it estimates any one txid as rare):
-- arc_emit's cached plan took the feed index and filtered every event of
-- the transaction, for each row.  A daily sweep that breaks 1,550 promises
-- spent 1.5 s there (1 ms a row, 4,000 events in its transaction); a
-- statement of 100k rows is quadratic.  The lookup index now holds the
-- transaction id as text, which only this lookup asks for, so it is the
-- one index that fits.  (Leading with the resource instead costs a first
-- sweep 0.8 s: its 255k entries land all over the index instead of at the
-- end of the transaction's range.)

CREATE INDEX events_written_idx ON events ((txid::text), resource_type, resource_id);
DROP INDEX events_txid_resource_idx;

CREATE FUNCTION arc_event_written(p_resource text, p_id text) RETURNS boolean
LANGUAGE sql STABLE AS
$$
  SELECT EXISTS (SELECT 1 FROM events e
                 WHERE e.txid::text = pg_current_xact_id()::text
                   AND e.resource_type = p_resource AND e.resource_id = p_id)
$$;

-- Records an event of this transaction (actor and request id from the
-- transaction's settings); callers have asked arc_event_written.
CREATE FUNCTION arc_event_insert(p_type text, p_resource text, p_id text, p_customer bigint, p_data jsonb)
RETURNS void
LANGUAGE plpgsql AS  -- PL/pgSQL keeps the INSERT's plan; a SQL function would plan it per call
$$
BEGIN
  INSERT INTO events (type, resource_type, resource_id, customer_id, actor, request_id, data)
  VALUES (p_type, p_resource, p_id, p_customer,
          coalesce(nullif(current_setting('arc.actor', true), ''), 'system'),
          nullif(current_setting('arc.request_id', true), ''), p_data);
END
$$;

-- 0006's: the first event of the transaction for the row, none after it.
CREATE OR REPLACE FUNCTION arc_event_append(p_type text, p_resource text, p_id text, p_customer bigint, p_data jsonb)
RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off AS
$$
BEGIN
  IF NOT arc_event_written(p_resource, p_id) THEN
    PERFORM arc_event_insert(p_type, p_resource, p_id, p_customer, p_data);
  END IF;
END
$$;

-- 0017's, asking arc_event_written once, before it renders the document
-- (0017 asked again in arc_event_append).
CREATE OR REPLACE FUNCTION arc_emit() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS
$$
DECLARE
  res text := TG_ARGV[0];
  kind text;
  doc jsonb;
  cust bigint;
  new_status text;
  old_status text;
BEGIN
  IF arc_event_written(res, NEW.id::text) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF to_jsonb(NEW) = to_jsonb(OLD) THEN
      RETURN NULL;
    END IF;
    new_status := to_jsonb(NEW) ->> 'status';
    old_status := to_jsonb(OLD) ->> 'status';
    kind := CASE
      WHEN new_status IS DISTINCT FROM old_status AND new_status = 'open' THEN res || '.reopened'
      WHEN new_status IS DISTINCT FROM old_status THEN res || '.' || new_status
      ELSE res || '.updated' END;
  ELSE
    kind := coalesce(TG_ARGV[1], res || '.created');
  END IF;
  -- The row as it is now, at commit: NEW is only the row as of this change.
  EXECUTE format('SELECT arc_%s_json(t), %s FROM %I t WHERE t.id = $1', res,
                 CASE WHEN TG_TABLE_NAME = 'customers' THEN 't.id' ELSE 't.customer_id' END,
                 TG_TABLE_NAME)
    INTO doc, cust USING NEW.id;
  IF doc IS NOT NULL THEN
    PERFORM arc_event_insert(kind, res, NEW.id::text, cust, doc);
  END IF;
  RETURN NULL;
END
$$;
