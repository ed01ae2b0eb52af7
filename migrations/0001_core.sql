-- Core: time zones and API keys.


-- IANA zone names, from PostgreSQL's own time zone database.  Customers
-- reference it, so a misspelt zone is refused at the door.
CREATE TABLE timezones (name text PRIMARY KEY);
INSERT INTO timezones SELECT name FROM pg_timezone_names ON CONFLICT DO NOTHING;
INSERT INTO timezones VALUES ('UTC') ON CONFLICT DO NOTHING;

CREATE TABLE api_keys (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key_id        text NOT NULL UNIQUE CHECK (key_id ~ '^[0-9a-f]{16}$'),
  secret_sha256 bytea NOT NULL CHECK (length(secret_sha256) = 32),
  role          text NOT NULL CHECK (role IN ('admin', 'manager', 'collector', 'viewer', 'integration')),
  name          text,
  actor         text,
  created_by    text,
  version       bigint NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz
);
