-- Core: helpers every resource uses, time zones, API keys.

-- Instants leave the database as RFC 3339 in UTC, whatever the session's TimeZone.
CREATE FUNCTION arc_ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

-- Raises one of our own errors: class AR, the rest of the code is the HTTP
-- status the API answers with (AR404, AR409, AR410 over-allocation, AR412,
-- AR422).  FIELD names the request field the message is about.
CREATE FUNCTION arc_raise(code text, message text, field text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS
$$
BEGIN
  RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message, COLUMN = coalesce(field, '');
END
$$;

-- Every versioned row: version + 1 and updated_at on each real change.
CREATE FUNCTION arc_touch() RETURNS trigger
LANGUAGE plpgsql AS
$$
BEGIN
  IF NEW IS DISTINCT FROM OLD THEN
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;

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
CREATE TRIGGER api_keys_touch BEFORE UPDATE ON api_keys FOR EACH ROW EXECUTE FUNCTION arc_touch();

-- The key's public face; the secret and its hash never leave the database.
CREATE FUNCTION arc_api_key_json(k api_keys) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT jsonb_build_object(
    'id', k.key_id, 'role', k.role, 'name', k.name, 'actor', k.actor,
    'created_by', k.created_by, 'created_at', arc_ts(k.created_at),
    'updated_at', arc_ts(k.updated_at), 'revoked_at', arc_ts(k.revoked_at),
    'active', k.revoked_at IS NULL, 'version', k.version)
$$;
