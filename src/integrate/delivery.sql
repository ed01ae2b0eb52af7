-- The subscription in events: the feed is readable by every role, and a
-- URL often carries a credential of the receiver, so it is left out.
CREATE FUNCTION arc_webhook_event_json(w webhooks) RETURNS jsonb
LANGUAGE sql STABLE AS
$$ SELECT arc_webhook_json(w)::jsonb - 'url' - 'pending_deliveries' $$;

-- What is POSTed: the event as GET /v1/events shows it, plus `timestamp`
-- (when it occurred) as Standard Webhooks payloads carry it.
CREATE FUNCTION arc_webhook_payload(e events) RETURNS text
LANGUAGE sql STABLE AS
$$ SELECT left(arc_event_json(e)::text, -1) || ',"timestamp":' || to_json(arc_ts(e.occurred_at))::text || '}' $$;

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

-- Pending deliveries of disabled subscriptions wait outside the due index.
CREATE FUNCTION arc_webhook_park(p_ids bigint[]) RETURNS void
LANGUAGE sql AS
$$
  UPDATE webhook_deliveries SET next_attempt_at = NULL
  WHERE webhook_id = ANY (p_ids) AND status = 'pending' AND next_attempt_at IS NOT NULL
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
