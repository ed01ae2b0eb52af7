/* GET /v1/customers/{id}/call-sheet (SPEC P10): the account at a glance
 * before a call.  The whole sheet is ONE statement (arc_call_sheet in
 * call_sheet.sql), so customer, invoices, aging, calls,
 * promises and disputes all come from one snapshot and cannot disagree. */
#include <stdlib.h>
#include <string.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/resource.h"

unsigned call_sheet_get(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "customer");
  if (!id)
    return rp->status;
  /* No query parameters yet; refusing unknown ones keeps room for an as_of. */
  static const char *const known[] = {NULL};
  struct field_errors fe = {0};
  query_known(rq, known, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {id};
  PGresult *r;
  enum db_status st = db_exec_one(rq->db, "call_sheet_select", 1, params, &r);
  if (st < 0)
    return db_error_reply(rq->db, rp);
  if (st == DB_NONE)
    return reply_not_found(rp, "customer", id);
  reply_text(rp, 200, strdup(PQgetvalue(r, 0, 0)));
  PQclear(r);
  return 200;
}
