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

-- Several bad fields at once (AR422): P_PROBLEMS is [{field, message}, ...],
-- carried in the message; COLUMN '*' tells src/db/errors.c to answer one
-- 422 naming them all.
CREATE FUNCTION arc_raise_fields(p_problems jsonb) RETURNS void
LANGUAGE plpgsql AS
$$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'AR422', MESSAGE = p_problems::text, COLUMN = '*';
END
$$;
