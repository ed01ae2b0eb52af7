/* GET /v1/meta: the business day, its time zone, the playbook in force and
 * the caller (src/http/meta.sql renders it). */
#include <string.h>

#include "arc/auth.h"
#include "arc/handlers.h"
#include "arc/resource.h"
#include "arc/statements.h"

const struct db_stmt meta_stmts[] = {
    {"meta_select", "SELECT arc_meta_json($1::text, $2::text, $3::text)::text"},
    {NULL, NULL},
};

unsigned meta_get(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {NULL};
  struct field_errors fe = {0};
  query_known(rq, known, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {role_name(rq->who.role), principal_has_actor(&rq->who) ? rq->who.actor : NULL,
                          rq->who.key_id};
  PGresult *r;
  if (db_exec_one(rq->db, "meta_select", 3, params, &r) != DB_ONE)
    return db_error_reply(rq->db, rp);
  reply_text(rp, 200, strdup(PQgetvalue(r, 0, 0)));
  PQclear(r);
  return 200;
}
