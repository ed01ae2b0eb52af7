-- The subscription as clients see it: never the secret.
CREATE FUNCTION arc_webhook_json(w webhooks) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM (SELECT
    w.id::text AS id,
    w.url,
    w.event_types,
    w.description,
    w.enabled,
    w.disabled_reason,
    arc_ts(w.disabled_at) AS disabled_at,
    arc_ts(p.failing_since) AS failing_since,
    arc_ts(p.last_success_at) AS last_success_at,
    arc_ts(p.last_failure_at) AS last_failure_at,
    (SELECT count(*) FROM webhook_deliveries x
     WHERE x.webhook_id = w.id AND x.status = 'pending') AS pending_deliveries,
    w.created_by,
    w.version,
    arc_ts(w.created_at) AS created_at,
    arc_ts(w.updated_at) AS updated_at
  FROM (SELECT NULL) one LEFT JOIN webhook_progress p ON p.webhook_id = w.id) d);
END
$$;

CREATE FUNCTION arc_webhook_delivery_json(d webhook_deliveries) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(x) FROM (SELECT
    d.id::text AS id,
    d.webhook_id::text AS webhook_id,
    d.event_id::text AS event_id,
    d.event_type,
    'evt_' || d.event_id AS message_id,
    d.status,
    CASE WHEN d.status = 'pending' THEN arc_ts(d.next_attempt_at) END AS next_attempt_at,
    arc_ts(d.delivered_at) AS delivered_at,
    arc_ts(d.gave_up_at) AS gave_up_at,
    arc_ts(d.created_at) AS created_at,
    cardinality(a.list) AS attempt_count,
    array_to_json(a.list) AS attempts
  FROM (SELECT ARRAY(SELECT row_to_json(t)
                     FROM (SELECT arc_ts(y.attempted_at) AS attempted_at, y.duration_ms, y.status_code, y.error,
                                  y.response_body, y.succeeded
                           FROM webhook_attempts y WHERE y.delivery_id = d.id ORDER BY y.id) t) AS list) a) x);
END
$$;

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
