-- Webhooks (SPEC §2 events and webhooks): subscriptions, the outbox of
-- deliveries built from the event feed, and every delivery attempt.
--
-- Outbox.  The delivery thread (src/integrate/delivery.c) reads the event
-- feed with the feed's own visibility rule (0006: events ordered by (txid,
-- id), only those of transactions below pg_snapshot_xmin, so none is ever
-- skipped) from a position kept per subscription in webhook_progress, and
-- turns what it read into one webhook_deliveries row per (subscription,
-- event) wanted by the subscription's filter, moving the position in the
-- same transaction.  arc_webhooks_enqueue is set-based (one statement for
-- every subscription) and runs under an advisory lock, so one instance at a
-- time creates deliveries; the unique (webhook_id, event_id) key is the
-- last line of defence.  A restart resumes from the stored positions.
--
-- Attempts.  Due deliveries are claimed a batch at a time (FOR UPDATE SKIP
-- LOCKED, so several instances share the work) by moving next_attempt_at
-- forward by a lease; the POSTs happen after that commit, never inside a
-- transaction; their results are recorded in one statement
-- (arc_webhook_attempts_record).  A delivery whose POST was lost with its
-- process is retried when the lease runs out: at-least-once.
--
-- Secrets.  HMAC needs the key itself, so the secret is stored as shown to
-- the client once (whsec_<base64>); arc_webhook_json never renders it.
--
-- The thread's own state (position, failure streak) lives in
-- webhook_progress so that delivering neither bumps the subscription's
-- version (its ETag) nor writes events.

CREATE TABLE webhooks (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  url             text NOT NULL
                  CONSTRAINT webhooks_url_check CHECK (url ~* '^https?://' AND length(url) <= 2000),
  event_types     text[] NOT NULL DEFAULT '{}'
                  CONSTRAINT webhooks_event_types_check CHECK (cardinality(event_types) <= 100),
  description     text CONSTRAINT webhooks_description_check CHECK (length(description) <= 1000),
  secret          text NOT NULL CONSTRAINT webhooks_secret_check CHECK (secret ~ '^whsec_[A-Za-z0-9+/]{32,}=*$'),
  enabled         boolean NOT NULL DEFAULT true,
  disabled_reason text,
  disabled_at     timestamptz,
  created_by      text,
  version         bigint NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT webhooks_enabled_check CHECK (enabled = (disabled_at IS NULL))
);
CREATE TRIGGER webhooks_touch BEFORE UPDATE ON webhooks FOR EACH ROW EXECUTE FUNCTION arc_touch();

-- The feed position (the last event read, included or filtered out) and
-- the failure streak: failing_since is the first failed attempt since the
-- last successful one (NULL while the last attempt succeeded).
CREATE TABLE webhook_progress (
  webhook_id      bigint PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
  cursor_txid     xid8 NOT NULL,
  cursor_id       bigint NOT NULL DEFAULT 0,
  failing_since   timestamptz,
  last_success_at timestamptz,
  last_failure_at timestamptz
);

-- One event for one subscription.  pending: next_attempt_at is when it is
-- due (or, while claimed, when the claim lapses; NULL while the
-- subscription is disabled); retry_step counts the failed attempts of the
-- current retry window, which started at window_started_at (the first
-- attempt, or the first after the subscription was enabled again).
-- delivered: a 2xx came back.  failed: the window ran out (gave_up_at).
-- event_id has no foreign key: events are append-only and never deleted,
-- and a key would tie any future retention of the feed to this table.
CREATE TABLE webhook_deliveries (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  webhook_id        bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event_id          bigint NOT NULL,
  event_type        text NOT NULL,
  status            text NOT NULL DEFAULT 'pending'
                    CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'delivered', 'failed')),
  next_attempt_at   timestamptz,
  retry_step        integer NOT NULL DEFAULT 0,
  window_started_at timestamptz,
  delivered_at      timestamptz,
  gave_up_at        timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT webhook_deliveries_event_key UNIQUE (webhook_id, event_id)
);
-- What is due, soonest first; parked and finished rows stay out of it.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
  WHERE status = 'pending' AND next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (webhook_id) WHERE status = 'pending';

-- Every POST: when it started, how long it took, what came back (the status
-- code, or the transport error when none did) and the start of the answer.
CREATE TABLE webhook_attempts (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id   bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempted_at  timestamptz NOT NULL,
  duration_ms   integer NOT NULL CHECK (duration_ms >= 0),
  status_code   integer,
  error         text,
  response_body text,
  succeeded     boolean NOT NULL
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);

-- The subscription as clients see it: never the secret.
CREATE FUNCTION arc_webhook_json(w webhooks) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT jsonb_build_object(
    'id', w.id::text,
    'url', w.url,
    'event_types', to_jsonb(w.event_types),
    'description', w.description,
    'enabled', w.enabled,
    'disabled_reason', w.disabled_reason,
    'disabled_at', arc_ts(w.disabled_at),
    'failing_since', arc_ts(p.failing_since),
    'last_success_at', arc_ts(p.last_success_at),
    'last_failure_at', arc_ts(p.last_failure_at),
    'pending_deliveries', (SELECT count(*) FROM webhook_deliveries d
                           WHERE d.webhook_id = w.id AND d.status = 'pending'),
    'created_by', w.created_by,
    'version', w.version,
    'created_at', arc_ts(w.created_at),
    'updated_at', arc_ts(w.updated_at))
  FROM (SELECT NULL) one LEFT JOIN webhook_progress p ON p.webhook_id = w.id
$$;

-- The subscription in events: the feed is readable by every role, and a
-- URL often carries a credential of the receiver, so it is left out.
CREATE FUNCTION arc_webhook_event_json(w webhooks) RETURNS jsonb
LANGUAGE sql STABLE AS
$$ SELECT arc_webhook_json(w) - 'url' - 'pending_deliveries' $$;

CREATE FUNCTION arc_webhook_delivery_json(d webhook_deliveries) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT jsonb_build_object(
    'id', d.id::text,
    'webhook_id', d.webhook_id::text,
    'event_id', d.event_id::text,
    'event_type', d.event_type,
    'message_id', 'evt_' || d.event_id,
    'status', d.status,
    'next_attempt_at', CASE WHEN d.status = 'pending' THEN arc_ts(d.next_attempt_at) END,
    'delivered_at', arc_ts(d.delivered_at),
    'gave_up_at', arc_ts(d.gave_up_at),
    'created_at', arc_ts(d.created_at),
    'attempt_count', coalesce(jsonb_array_length(a.list), 0),
    'attempts', coalesce(a.list, '[]'::jsonb))
  FROM (SELECT jsonb_agg(jsonb_build_object(
                 'attempted_at', arc_ts(x.attempted_at),
                 'duration_ms', x.duration_ms,
                 'status_code', x.status_code,
                 'error', x.error,
                 'response_body', x.response_body,
                 'succeeded', x.succeeded) ORDER BY x.id) AS list
        FROM webhook_attempts x WHERE x.delivery_id = d.id) a
$$;

-- What is POSTed: the event as GET /v1/events shows it, plus `timestamp`
-- (when it occurred) as Standard Webhooks payloads carry it.
CREATE FUNCTION arc_webhook_payload(e events) RETURNS text
LANGUAGE sql STABLE AS
$$ SELECT (arc_event_json(e) || jsonb_build_object('timestamp', arc_ts(e.occurred_at)))::text $$;

-- Whether a subscription with filter P_TYPES wants an event of type P_TYPE:
-- an empty filter wants everything; an entry is a type, "<prefix>.*" (every
-- type under the prefix) or "*".
CREATE FUNCTION arc_webhook_wants(p_types text[], p_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
  SELECT cardinality(p_types) = 0
      OR EXISTS (SELECT 1 FROM unnest(p_types) x
                 WHERE x = '*' OR x = p_type OR (right(x, 2) = '.*' AND starts_with(p_type, left(x, -1))))
$$;

-- The delay before retry P_STEP (1 = after the first failure), with a jitter
-- of ±20 % so that receivers coming back are not hit by every sender at
-- once: P_BASE_MS × 1, 60, 360, 1440, 3600, 7200, 7200, ... With the
-- default base of 5 s: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
CREATE FUNCTION arc_webhook_backoff(p_step integer, p_base_ms bigint) RETURNS interval
LANGUAGE sql VOLATILE AS
$$
  SELECT (p_base_ms * (ARRAY[1, 60, 360, 1440, 3600, 7200])[least(greatest(p_step, 1), 6)]
          * (0.8 + random() * 0.4)) * interval '1 millisecond'
$$;

-- POST /v1/webhooks.  P holds validated url, event_types, description;
-- P_SECRET is new (the caller made it).  The subscription's feed position
-- starts at the oldest transaction still running, so every event committed
-- from now on reaches it (and a few of transactions that were running
-- already, including this one: its own webhook.created).
CREATE FUNCTION arc_webhook_create(p jsonb, p_secret text, p_actor text)
RETURNS webhooks
LANGUAGE plpgsql AS
$$
DECLARE
  w webhooks;
BEGIN
  INSERT INTO webhooks (url, event_types, description, secret, created_by)
  VALUES (p->>'url',
          ARRAY(SELECT jsonb_array_elements_text(coalesce(p->'event_types', '[]'))),
          p->>'description', p_secret, p_actor)
  RETURNING * INTO w;
  INSERT INTO webhook_progress (webhook_id, cursor_txid, cursor_id)
  VALUES (w.id, pg_snapshot_xmin(pg_current_snapshot()), 0);
  PERFORM arc_event_append('webhook.created', 'webhook', w.id::text, NULL, arc_webhook_event_json(w));
  RETURN w;
END
$$;

-- PATCH (the caller locked the row and checked If-Match).  enabled: false
-- disables by hand; enabled: true starts a disabled subscription again:
-- its pending deliveries are due at once with a new retry window (as after
-- a new url), and the events since it stopped follow (its feed position
-- did not move while it was disabled).  One event: webhook.enabled / webhook.disabled when that
-- flipped, else webhook.updated; none when nothing changed.
CREATE FUNCTION arc_webhook_update(p_id bigint, p jsonb, p_actor text)
RETURNS TABLE (res_id bigint, res_version bigint, res_doc text)
LANGUAGE plpgsql AS
$$
DECLARE
  cur webhooks;
  w webhooks;
  want_enabled boolean := CASE WHEN p ? 'enabled' THEN (p->>'enabled')::boolean END;
  kind text := 'webhook.updated';
BEGIN
  SELECT * INTO cur FROM webhooks WHERE id = p_id;
  IF NOT FOUND THEN
    PERFORM arc_raise('AR404', format('no webhook with id %s', p_id));
  END IF;
  UPDATE webhooks SET
    url = CASE WHEN p ? 'url' THEN p->>'url' ELSE url END,
    event_types = CASE WHEN p ? 'event_types'
                       THEN ARRAY(SELECT jsonb_array_elements_text(p->'event_types')) ELSE event_types END,
    description = CASE WHEN p ? 'description' THEN p->>'description' ELSE description END,
    enabled = coalesce(want_enabled, enabled),
    disabled_at = CASE WHEN want_enabled IS NULL THEN disabled_at
                       WHEN want_enabled THEN NULL ELSE coalesce(disabled_at, now()) END,
    disabled_reason = CASE WHEN want_enabled IS NULL THEN disabled_reason
                           WHEN want_enabled THEN NULL
                           ELSE coalesce(disabled_reason, format('disabled by %s', p_actor)) END
  WHERE id = p_id
  RETURNING * INTO w;
  -- Enabled again, or pointed elsewhere (the old endpoint was wrong): what
  -- waits is due at once, with a new retry window.
  IF w.enabled AND (NOT cur.enabled OR w.url IS DISTINCT FROM cur.url) THEN
    UPDATE webhook_deliveries SET next_attempt_at = now(), retry_step = 0, window_started_at = NULL
    WHERE webhook_id = w.id AND status = 'pending';
    UPDATE webhook_progress SET failing_since = NULL WHERE webhook_id = w.id;
  END IF;
  IF w.enabled AND NOT cur.enabled THEN
    kind := 'webhook.enabled';
  ELSIF cur.enabled AND NOT w.enabled THEN
    kind := 'webhook.disabled';
    PERFORM arc_webhook_park(ARRAY[w.id]);
  END IF;
  IF w.version <> cur.version THEN
    PERFORM arc_event_append(kind, 'webhook', w.id::text, NULL, arc_webhook_event_json(w));
  END IF;
  RETURN QUERY SELECT w.id, w.version, arc_webhook_json(w)::text;
END
$$;

-- Pending deliveries of disabled subscriptions wait outside the due index.
CREATE FUNCTION arc_webhook_park(p_ids bigint[]) RETURNS void
LANGUAGE sql AS
$$
  UPDATE webhook_deliveries SET next_attempt_at = NULL
  WHERE webhook_id = ANY (p_ids) AND status = 'pending' AND next_attempt_at IS NOT NULL
$$;

-- DELETE: the subscription, its deliveries and their attempts go; the
-- event webhook.deleted stays.  False when there was none.
CREATE FUNCTION arc_webhook_delete(p_id bigint) RETURNS boolean
LANGUAGE plpgsql AS
$$
DECLARE
  w webhooks;
  doc jsonb;
BEGIN
  SELECT * INTO w FROM webhooks WHERE id = p_id;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  doc := arc_webhook_event_json(w);
  DELETE FROM webhooks WHERE id = p_id;
  PERFORM arc_event_append('webhook.deleted', 'webhook', p_id::text, NULL, doc);
  RETURN true;
END
$$;

-- Creates the deliveries of up to P_LIMIT settled events per enabled
-- subscription and moves each subscription's position past what it read.
-- Returns (-1, 0) when another instance holds the lock (nothing done), else
-- the deliveries created and the most events any subscription read (equal to
-- P_LIMIT: more are waiting).
CREATE FUNCTION arc_webhooks_enqueue(p_limit integer)
RETURNS TABLE (created integer, most_read integer)
LANGUAGE plpgsql AS
$$
BEGIN
  IF NOT pg_try_advisory_xact_lock(7250022) THEN
    RETURN QUERY SELECT -1, 0;
    RETURN;
  END IF;
  RETURN QUERY
  WITH horizon AS MATERIALIZED (
    SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin
  ),
  -- Key-share locks keep a subscription from being deleted under us; one
  -- deleted meanwhile drops out here instead of failing the insert.
  subs AS MATERIALIZED (
    SELECT w.id, w.event_types, p.cursor_txid, p.cursor_id
    FROM webhooks w JOIN webhook_progress p ON p.webhook_id = w.id
    WHERE w.enabled
    FOR KEY SHARE OF w
  ),
  scan AS MATERIALIZED (
    SELECT s.id AS webhook_id, s.event_types, e.id AS event_id, e.txid, e.type
    FROM subs s CROSS JOIN horizon h
    CROSS JOIN LATERAL (
      SELECT e.id, e.txid, e.type FROM events e
      WHERE e.txid < h.xmin AND (e.txid, e.id) > (s.cursor_txid, s.cursor_id)
      ORDER BY e.txid, e.id LIMIT p_limit) e
  ),
  ins AS (
    INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, next_attempt_at)
    SELECT x.webhook_id, x.event_id, x.type, now() FROM scan x
    WHERE arc_webhook_wants(x.event_types, x.type)
    ORDER BY x.webhook_id, x.txid, x.event_id
    ON CONFLICT ON CONSTRAINT webhook_deliveries_event_key DO NOTHING
    RETURNING 1
  ),
  last AS (
    SELECT DISTINCT ON (x.webhook_id) x.webhook_id, x.txid, x.event_id
    FROM scan x ORDER BY x.webhook_id, x.txid DESC, x.event_id DESC
  ),
  moved AS (
    UPDATE webhook_progress p SET cursor_txid = l.txid, cursor_id = l.event_id
    FROM last l WHERE p.webhook_id = l.webhook_id
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM ins)::integer,
         coalesce((SELECT max(n) FROM (SELECT count(*) AS n FROM scan GROUP BY webhook_id) c), 0)::integer
  FROM (SELECT count(*) FROM moved) m;
END
$$;

-- Records a batch of attempts and what follows from them.  P_RESULTS is
-- [{delivery_id, started_ms_ago, duration_ms, status_code|null, error|null,
-- response_body|null}]: the start of an attempt is measured back from the
-- database's clock, so every instant here is on one clock.  A 2xx delivers; anything else is a
-- failed attempt, retried after arc_webhook_backoff, but never later than
-- P_WINDOW_MS after the window's first attempt: a failure at or past that
-- moment gives the delivery up.  A subscription is disabled (with the event
-- webhook.disabled) when its endpoint answers 410 Gone, or when a delivery
-- is given up and no attempt to it succeeded since that delivery's window
-- began: every attempt failed for the whole window.  Deliveries deleted
-- meanwhile (their subscription was) are skipped.
CREATE FUNCTION arc_webhook_attempts_record(p_results jsonb, p_base_ms bigint, p_window_ms bigint)
RETURNS TABLE (recorded integer, delivered integer, given_up integer, disabled integer)
LANGUAGE plpgsql AS
$$
DECLARE
  v_recorded integer;
  v_delivered integer;
  v_given_up integer;
  v_disabled integer;
  w webhooks;
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS arc_webhook_results (
    delivery_id bigint, webhook_id bigint, attempted_at timestamptz, duration_ms integer, status_code integer,
    error text, response_body text, ok boolean, window_start timestamptz, retry_step integer
  ) ON COMMIT DROP;
  TRUNCATE arc_webhook_results;
  -- Lock the deliveries (id order) and keep only those still pending.
  INSERT INTO arc_webhook_results
  SELECT d.id, d.webhook_id, r.at, greatest(r.duration_ms, 0), r.status_code, r.error, r.response_body,
         coalesce(r.status_code BETWEEN 200 AND 299, false), coalesce(d.window_started_at, r.at), d.retry_step
  FROM (SELECT x.delivery_id, clock_timestamp() - greatest(x.started_ms_ago, 0) * interval '1 millisecond' AS at,
               x.duration_ms, x.status_code, x.error, x.response_body
        FROM jsonb_to_recordset(p_results) AS x(delivery_id bigint, started_ms_ago bigint, duration_ms integer,
                                                status_code integer, error text, response_body text)) r
  JOIN (SELECT * FROM webhook_deliveries WHERE id IN (SELECT (j->>'delivery_id')::bigint
                                                      FROM jsonb_array_elements(p_results) j)
        ORDER BY id FOR UPDATE) d ON d.id = r.delivery_id
  WHERE d.status = 'pending';
  GET DIAGNOSTICS v_recorded = ROW_COUNT;

  INSERT INTO webhook_attempts (delivery_id, attempted_at, duration_ms, status_code, error, response_body, succeeded)
  SELECT delivery_id, attempted_at, duration_ms, status_code, error, response_body, ok
  FROM arc_webhook_results ORDER BY attempted_at, delivery_id;

  UPDATE webhook_deliveries d SET status = 'delivered', delivered_at = r.attempted_at, next_attempt_at = NULL,
         window_started_at = r.window_start
  FROM arc_webhook_results r WHERE d.id = r.delivery_id AND r.ok;
  GET DIAGNOSTICS v_delivered = ROW_COUNT;

  UPDATE webhook_deliveries d SET
    window_started_at = r.window_start,
    retry_step = r.retry_step + 1,
    status = CASE WHEN now() >= r.window_start + p_window_ms * interval '1 millisecond'
                  THEN 'failed' ELSE 'pending' END,
    gave_up_at = CASE WHEN now() >= r.window_start + p_window_ms * interval '1 millisecond' THEN now() END,
    next_attempt_at = CASE WHEN now() >= r.window_start + p_window_ms * interval '1 millisecond' THEN NULL
                           ELSE least(now() + arc_webhook_backoff(r.retry_step + 1, p_base_ms),
                                      r.window_start + p_window_ms * interval '1 millisecond') END
  FROM arc_webhook_results r WHERE d.id = r.delivery_id AND NOT r.ok;

  -- The failure streak: it ends with the latest success of the batch and
  -- starts again with the first failure after it.
  UPDATE webhook_progress p SET
    last_success_at = coalesce(greatest(p.last_success_at, b.last_ok), p.last_success_at),
    last_failure_at = coalesce(greatest(p.last_failure_at, b.last_failed), p.last_failure_at),
    failing_since = CASE WHEN b.last_ok IS NULL THEN coalesce(p.failing_since, b.first_failed)
                         ELSE b.first_failed_after_ok END
  FROM (SELECT r.webhook_id,
               max(r.attempted_at) FILTER (WHERE r.ok) AS last_ok,
               max(r.attempted_at) FILTER (WHERE NOT r.ok) AS last_failed,
               min(r.attempted_at) FILTER (WHERE NOT r.ok) AS first_failed,
               min(r.attempted_at) FILTER (WHERE NOT r.ok AND r.attempted_at >
                   (SELECT max(o.attempted_at) FROM arc_webhook_results o
                    WHERE o.webhook_id = r.webhook_id AND o.ok)) AS first_failed_after_ok
        FROM arc_webhook_results r GROUP BY r.webhook_id) b
  WHERE p.webhook_id = b.webhook_id;

  SELECT count(*) INTO v_given_up FROM webhook_deliveries d JOIN arc_webhook_results r ON r.delivery_id = d.id
  WHERE d.status = 'failed';

  v_disabled := 0;
  FOR w IN
    WITH why AS (
      SELECT DISTINCT ON (r.webhook_id) r.webhook_id,
             CASE WHEN r.status_code = 410
                  THEN 'the endpoint answered 410 Gone'
                  ELSE format('every delivery attempt failed for %s (since %s); the last one: %s',
                              CASE WHEN p_window_ms % 3600000 = 0 THEN (p_window_ms / 3600000) || ' h'
                                   ELSE round(p_window_ms / 1000.0, 1) || ' s' END,
                              arc_ts(p.failing_since),
                              coalesce('HTTP ' || r.status_code, r.error, 'no answer')) END AS reason
      FROM arc_webhook_results r
      JOIN webhook_deliveries d ON d.id = r.delivery_id
      JOIN webhook_progress p ON p.webhook_id = r.webhook_id
      WHERE r.status_code = 410
         OR (d.status = 'failed' AND p.failing_since IS NOT NULL AND p.failing_since <= r.window_start)
      ORDER BY r.webhook_id, (r.status_code = 410) DESC, r.attempted_at DESC
    )
    UPDATE webhooks x SET enabled = false, disabled_at = now(), disabled_reason = why.reason
    FROM why WHERE x.id = why.webhook_id AND x.enabled
    RETURNING x.*
  LOOP
    -- Only the few subscriptions disabled by this batch pass here.
    PERFORM arc_event_append('webhook.disabled', 'webhook', w.id::text, NULL, arc_webhook_event_json(w));
    PERFORM arc_webhook_park(ARRAY[w.id]);
    v_disabled := v_disabled + 1;
  END LOOP;

  RETURN QUERY SELECT v_recorded, v_delivered, v_given_up, v_disabled;
END
$$;

-- Deliveries claimed by an instance that stops before their POSTs finished:
-- due again at once.
CREATE FUNCTION arc_webhook_release(p_ids bigint[]) RETURNS integer
LANGUAGE sql AS
$$
  WITH r AS (
    UPDATE webhook_deliveries d SET next_attempt_at = now()
    FROM webhooks w
    WHERE d.id = ANY (p_ids) AND d.status = 'pending' AND w.id = d.webhook_id AND w.enabled
    RETURNING 1)
  SELECT count(*)::integer FROM r
$$;

-- Deliveries waiting, for /metrics: pending ones of enabled subscriptions.
CREATE FUNCTION arc_webhook_backlog() RETURNS bigint
LANGUAGE sql STABLE AS
$$
  SELECT count(*) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
  WHERE d.status = 'pending' AND w.enabled
$$;
