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
