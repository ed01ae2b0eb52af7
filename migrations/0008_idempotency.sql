-- Idempotency-Key on POST (SPEC §3; Stripe and draft-ietf-httpapi-idempotency-key-header):
-- the first response to a key, remembered for 24 hours so a retried request is
-- answered without being done twice.  src/http/idempotency.c explains the flow.
--
-- A row is inserted at the start of the transaction that does the request's
-- work and completed with the response at its end, so the write and its
-- record commit together or not at all.  The unique key makes a concurrent
-- request with the same key wait for the first transaction: when it commits,
-- the second replays the stored response; when it rolls back, the second does
-- the work itself.
--
-- Keys are scoped to the API key that sent them (two clients may pick the same
-- key string).  The response body is sealed (AES-256-GCM) with a key derived
-- from the caller's bearer secret, which the database never holds: the body
-- of POST /v1/api-keys carries a new key's secret, and this table must not
-- make that secret readable to whoever reads the database.
CREATE TABLE idempotency_keys (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  api_key_id      text NOT NULL REFERENCES api_keys (key_id) ON DELETE CASCADE,
  idempotency_key text NOT NULL CHECK (idempotency_key ~ '^[!-~]{1,255}$'),
  method          text NOT NULL,
  path            text NOT NULL,
  body_sha256     bytea NOT NULL CHECK (length(body_sha256) = 32),
  -- NULL until the transaction that claimed the key stores its response;
  -- only committed (hence successful, < 400) responses are ever visible.
  status          integer CHECK (status BETWEEN 100 AND 399),
  is_problem      boolean NOT NULL DEFAULT false,
  headers         jsonb NOT NULL DEFAULT '[]',
  body            bytea,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT idempotency_keys_idempotency_key_key UNIQUE (api_key_id, idempotency_key)
);

-- The purge deletes the oldest rows first, a bounded batch at a time.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
