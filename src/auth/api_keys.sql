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
