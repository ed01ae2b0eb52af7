/* POST /v1/payments/{id}/reversal: a payment that did not hold (a bounced
 * check) gives back what it paid; the invoices it paid reopen.  The money
 * moves in arc_payment_reverse (reversals.sql). */
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/payments.h"
#include "arc/resource.h"

struct reversal {
  const struct request *rq;
  const char *id;
  const char *reason;
};

static unsigned reverse_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct reversal *rv = ctx;
  /* If-Match lets a client reverse exactly the payment it looked at. */
  unsigned status = payments_lock_checked(db, rv->rq, rv->id, rp);
  if (status)
    return status;
  const char *params[] = {rv->id, rv->reason};
  PGresult *r;
  enum db_status st = db_exec_one(db, "payments_reverse", 2, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE) {
    PQclear(r);
    return reply_not_found(rp, "payment", rv->id);
  }
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

unsigned payments_reverse(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "payment");
  if (!id)
    return rp->status;
  struct reversal rv = {.rq = rq, .id = id};
  struct jspec spec[] = {
      JSPEC_STR("reason", JSPEC_REQUIRED, &rv.reason, 500),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  if (!jspec_parse(rq->body, spec, JSPEC_CREATE, "", &fe))
    return reply_validation(rp, &fe);
  return db_run_tx(rq->db, reverse_tx, &rv, rp);
}
