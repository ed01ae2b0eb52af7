/* POST /v1/invoices/{id}/receipt-confirmation (SPEC P1): who at the customer
 * confirmed that the invoice arrived, how and when.  The answer is the
 * invoice; the rules (void invoice, no future time) are in
 * arc_invoice_confirm_receipt, receipts.sql. */
#include <stdlib.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/resource.h"

static const char *const channels[] = {"phone", "email", "sms", "letter", "visit", "portal", NULL};

struct receipt {
  const struct request *rq;
  const char *invoice_id;
};

static unsigned confirm_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct receipt *rc = ctx;
  const char *lock_params[] = {rc->invoice_id};
  PGresult *r;
  enum db_status st = db_exec_one(db, "receipts_lock", 1, lock_params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE) {
    PQclear(r);
    return reply_not_found(rp, "invoice", rc->invoice_id);
  }
  long long version = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  /* If-Match lets a client confirm exactly the invoice it looked at. */
  if (!request_if_match_ok(rc->rq, version))
    return reply_stale(rp, "invoice", version);
  const char *params[] = {rc->invoice_id, request_body_text(rc->rq)};
  if (db_exec_one(db, "receipts_confirm", 2, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

unsigned receipts_confirm(struct request *rq, struct reply *rp)
{
  struct receipt rc = {.rq = rq, .invoice_id = path_id(rq, rp, 0, "invoice")};
  if (!rc.invoice_id)
    return rp->status;
  struct jspec spec[] = {
      JSPEC_STR("confirmed_by", JSPEC_REQUIRED, NULL, 200),
      JSPEC_ENUMV("via", JSPEC_REQUIRED, NULL, channels),
      JSPEC_INSTANTV("confirmed_at", 0, NULL),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  if (!jspec_parse(rq->body, spec, JSPEC_CREATE, "", &fe))
    return reply_validation(rp, &fe);
  return db_run_tx(rq->db, confirm_tx, &rc, rp);
}
