-- Ids leave the database as strings; a bigint[] becomes a JSON array of
-- strings in the array's order.
CREATE FUNCTION arc_id_strings(ids bigint[]) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(to_jsonb(ids::text[]), '[]'::jsonb) $$;
