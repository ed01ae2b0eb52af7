/* /v1/scheduler/runs: run a sweep now, or preview one for any instant
 * (admin), and read past runs (admin, manager). */
#include <stdint.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/resource.h"
#include "arc/sweep.h"

/* The sweep runs on the request's own connection and waits for another
 * instance's sweep to finish: the caller asked for this one to happen.
 * Only a sweep for now writes, unless ARC_TIME_TRAVEL is on: a sweep for
 * another instant, or one asked for with "preview": true, is a preview. */
unsigned scheduler_runs_create(struct request *rq, struct reply *rp)
{
  const char *as_of = NULL;
  int preview = -1, full = 0;
  int64_t limit = -1;
  struct jspec spec[] = {
      JSPEC_INSTANTV("as_of", 0, &as_of),
      JSPEC_BOOLV("preview", 0, &preview),
      JSPEC_BOOLV("full", 0, &full),
      JSPEC_INTV("limit", 0, &limit, 0, 1000),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  jspec_parse(rq->body, spec, JSPEC_CREATE, "", &fe);
  if (preview == -1)
    preview = as_of && !sweep_time_travel();
  if (as_of && !preview && !sweep_time_travel())
    field_error(&fe, "as_of", "a sweep for another instant than now only previews (this server has "
                              "ARC_TIME_TRAVEL off): leave out \"preview\": false");
  if (limit >= 0 && !preview)
    field_error(&fe, "limit", "is the number of follow-ups a preview shows: send it with \"preview\": true");
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  if (preview)
    return sweep_preview(rq->db, as_of, limit >= 0 ? (int)limit : 100, rp);
  return sweep_run(rq->db, as_of, "api", SWEEP_WAIT, full, rp);
}

unsigned scheduler_runs_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit", "cursor", "as_of_from", "as_of_to", NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *from, *to;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_instant(rq, "as_of_from", &from, &fe);
  query_instant(rq, "as_of_to", &to, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {pg.cursor, pg.limit_plus_one, from, to};
  PGresult *r = db_exec(rq->db, "scheduler_runs_select_page", 4, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned scheduler_runs_get(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "scheduler run");
  if (!id)
    return rp->status;
  const char *params[] = {id};
  return reply_read_one(rq, rp, "scheduler_runs_select_by_id", 1, params, "scheduler run", id);
}
