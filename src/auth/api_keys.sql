-- The key's public face, in the contract's order (src/util/json.sql); the
-- secret and its hash never leave the database.
CREATE FUNCTION arc_api_key_json(k api_keys) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM (SELECT
    k.key_id AS id,
    k.role,
    k.name,
    k.actor,
    k.created_by,
    arc_ts(k.created_at) AS created_at,
    arc_ts(k.updated_at) AS updated_at,
    arc_ts(k.revoked_at) AS revoked_at,
    k.revoked_at IS NULL AS active,
    k.version) d);
END
$$;
