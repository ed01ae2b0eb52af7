-- Documents.  Each resource's document is arc_<resource>_json(row) RETURNS
-- json: row_to_json of one subquery whose columns are the properties of the
-- resource's schema in openapi/openapi.yaml, named and ordered as listed
-- there (id first).  So the keys come in the contract's order, the text is
-- compact (no spaces), dates are `date` columns ("YYYY-MM-DD" without
-- to_char), ids text, money bigint, instants arc_ts (RFC 3339 UTC).  Nested
-- objects are row_to_json of their own subquery; arrays array_to_json of an
-- ARRAY(...) subquery (json_agg would put a space after each comma).  The
-- functions are PL/pgSQL, which keeps the statement's plan for the session:
-- a LANGUAGE sql function with a FROM is not inlined and is planned again by
-- every statement that calls it (a third of the speed).  Callers that need
-- jsonb (event data, documents merged with ||) cast with ::jsonb.  The
-- documents the API reads most (invoices, follow-ups) are instead
-- arc_<resource>_fields, inlinable, whose columns the server renders
-- itself (src/http/row_json.c, docs/conventions.md); their _json function
-- is row_to_json of the fields.

-- Ids leave the database as strings; a bigint[] becomes a JSON array of
-- strings in the array's order.
CREATE FUNCTION arc_id_strings(ids bigint[]) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(to_jsonb(ids::text[]), '[]'::jsonb) $$;

-- A flat JSON object (scalar values) as compact json, keys in byte order;
-- NULL stays NULL.  For maps such as CurrencyAmounts and ReasonCounts.
CREATE FUNCTION arc_json_compact(o jsonb) RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
  SELECT CASE WHEN o IS NOT NULL THEN
    coalesce((SELECT '{' || string_agg(to_json(x.k)::text || ':' || x.v::text, ',' ORDER BY x.k COLLATE "C") || '}'
              FROM jsonb_each(o) AS x (k, v)), '{}')::json END
$$;
