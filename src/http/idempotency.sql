-- How long a key is remembered; after that the same key is a new request.
CREATE FUNCTION arc_idempotency_ttl() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '24 hours' $$;
