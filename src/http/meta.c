/* GET /v1/meta: the business day, its time zone, the playbook in force and
 * the caller (src/http/meta.sql renders it). */
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
  return reply_rendered(rq->db, rp, "meta_select", 3, params);
}
