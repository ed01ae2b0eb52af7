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
