/* SQL of the API keys. */
#include <stdio.h>

#include "arc/api_keys.h"
#include "arc/statements.h"

const struct db_stmt api_keys_stmts[] = {
    {"api_keys_select_for_auth",
     "SELECT role, actor, encode(secret_sha256, 'hex') FROM api_keys "
     "WHERE key_id = $1 AND revoked_at IS NULL"},
    {"api_keys_insert",
     "INSERT INTO api_keys AS k (key_id, secret_sha256, role, name, actor, created_by) "
     "VALUES ($1, decode($2, 'hex'), $3, $4, $5, $6) "
     "RETURNING k.key_id, k.version, arc_api_key_json(k)::text"},
    {"api_keys_select_by_id",
     "SELECT k.key_id, k.version, arc_api_key_json(k)::text FROM api_keys k WHERE k.key_id = $1"},
    {"api_keys_select_page",
     "SELECT k.id, k.version, arc_api_key_json(k)::text FROM api_keys k "
     "WHERE ($1::bigint IS NULL OR k.id > $1) AND ($3::text IS NULL OR k.role = $3) "
     "AND ($4::boolean IS NULL OR (k.revoked_at IS NULL) = $4) ORDER BY k.id LIMIT $2"},
    {"api_keys_revoke",
     "UPDATE api_keys k SET revoked_at = coalesce(k.revoked_at, now()) WHERE k.key_id = $1 "
     "RETURNING k.key_id, k.version, arc_api_key_json(k)::text"},
    {NULL, NULL},
};

PGresult *api_keys_insert(struct db *db, enum role role, const char *name, const char *actor,
                          const char *created_by, struct api_key_material *key)
{
  if (auth_key_generate(key) != 0)
    return NULL;
  char hash_hex[65];
  for (int i = 0; i < 32; i++)
    snprintf(hash_hex + 2 * i, 3, "%02x", key->secret_hash[i]);
  const char *params[] = {key->key_id, hash_hex, role_name(role), name, actor, created_by};
  return db_exec(db, "api_keys_insert", 6, params);
}
