/* /healthz: the process answers.  /readyz: the database answers too. */
#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/problem.h"
#include "arc/statements.h"

const struct db_stmt health_stmts[] = {
    {"health_ping", "SELECT 1"},
    {NULL, NULL},
};

unsigned health_live(struct request *rq, struct reply *rp)
{
  (void)rq;
  return reply_json(rp, 200, json_pack("{s:s}", "status", "ok"));
}

unsigned health_ready(struct request *rq, struct reply *rp)
{
  struct db *db = rq->db ? rq->db : db_thread();
  PGresult *r = db_ready(db) ? db_exec(db, "health_ping", 0, NULL) : NULL;
  if (!r) {
    reply_problem(rp, PROBLEM_UNAVAILABLE, "the database is unreachable");
    reply_header(rp, "Retry-After", "2");
    return rp->status;
  }
  PQclear(r);
  return reply_json(rp, 200, json_pack("{s:s, s:s}", "status", "ok", "database", "ok"));
}
