/* /v1/api-keys: admins create (the token is shown once), list, read and
 * revoke keys. */
#include <stdlib.h>
#include <string.h>

#include "arc/api_keys.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/resource.h"

static const char *const roles[] = {"admin", "manager", "collector", "viewer", "integration", NULL};

struct key_new {
  const char *role, *name, *actor, *created_by;
};

static unsigned create_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct key_new *in = ctx;
  struct api_key_material key;
  PGresult *r = api_keys_insert(db, role_parse(in->role), in->name, in->actor, in->created_by, &key);
  if (!r)
    return db_error_reply(db, rp);
  json_error_t err;
  json_t *doc = json_loads(PQgetvalue(r, 0, 2), 0, &err);
  long long version = atoll(PQgetvalue(r, 0, 1));
  PQclear(r);
  if (!doc)
    return reply_problem(rp, PROBLEM_INTERNAL, "cannot render the key");
  /* The only time the secret is ever shown. */
  json_object_set_new(doc, "key", json_string(key.token));
  reply_json(rp, 201, doc);
  reply_etag(rp, version);
  char loc[64];
  snprintf(loc, sizeof loc, "/v1/api-keys/%s", key.key_id);
  reply_header(rp, "Location", loc);
  return 201;
}

unsigned api_keys_create(struct request *rq, struct reply *rp)
{
  struct key_new in = {.created_by = rq->who.actor};
  struct jspec spec[] = {
      JSPEC_ENUMV("role", JSPEC_REQUIRED, &in.role, roles),
      JSPEC_STR("name", JSPEC_NULLABLE, &in.name, 200),
      JSPEC_STR("actor", JSPEC_NULLABLE, &in.actor, 200),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  if (!jspec_parse(rq->body, spec, JSPEC_CREATE, "", &fe))
    return reply_validation(rp, &fe);
  return db_run_tx(rq->db, create_tx, &in, rp);
}

unsigned api_keys_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit", "cursor", "role", "active", NULL};
  static const char *const booleans[] = {"true", "false", NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *role, *active;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_enum(rq, "role", roles, &role, &fe);
  query_enum(rq, "active", booleans, &active, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {pg.cursor, pg.limit_plus_one, role, active};
  PGresult *r = db_exec(rq->db, "api_keys_select_page", 4, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

static int key_id_ok(const char *s)
{
  if (!s || strlen(s) != AUTH_KEY_ID_LEN)
    return 0;
  for (const char *p = s; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return 0;
  return 1;
}

/* GET or revoke by key id: both answer the key's doc or 404. */
static unsigned by_key_id(struct request *rq, struct reply *rp, const char *stmt)
{
  const char *id = request_param(rq, 0);
  if (!key_id_ok(id))
    return reply_not_found(rp, "API key", id ? id : "");
  const char *params[] = {id};
  PGresult *r;
  enum db_status st = db_exec_one(rq->db, stmt, 1, params, &r);
  if (st < 0)
    return db_error_reply(rq->db, rp);
  if (st == DB_NONE)
    return reply_not_found(rp, "API key", id);
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

unsigned api_keys_get(struct request *rq, struct reply *rp)
{
  return by_key_id(rq, rp, "api_keys_select_by_id");
}

unsigned api_keys_revoke(struct request *rq, struct reply *rp)
{
  unsigned status = by_key_id(rq, rp, "api_keys_revoke");
  /* The UPDATE committed: no thread of this process may trust the key any
   * longer (other instances stop within ARC_AUTH_CACHE_MS). */
  if (status == 200)
    auth_cache_forget_all();
  return status;
}
