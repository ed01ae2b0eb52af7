/* /v1/invoices/{id}/adjustments: credits, debits and corrections change an
 * invoice's amount and balance together and leave a record that is never
 * changed afterwards. */
#include <stdio.h>
#include <string.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/resource.h"

static const char *const kinds[] = {"credit", "debit", "correction", NULL};

struct adjustment_new {
  const char *invoice_id, *kind, *reason, *actor;
  int64_t amount;
  char amount_text[24];
};

static unsigned create_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct adjustment_new *in = ctx;
  const char *params[] = {in->invoice_id, in->kind, in->amount_text, in->reason, in->actor};
  PGresult *r;
  if (db_exec_one(db, "adjustments_insert", 5, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  char prefix[64];
  snprintf(prefix, sizeof prefix, "/v1/invoices/%s/adjustments/", in->invoice_id);
  reply_doc(rp, 201, r, 0, prefix);
  PQclear(r);
  return 201;
}

unsigned adjustments_create(struct request *rq, struct reply *rp)
{
  /* INT64_MIN is outside the accepted range: it stays only when amount was bad. */
  struct adjustment_new in = {.actor = rq->who.actor, .amount = INT64_MIN};
  in.invoice_id = path_id(rq, rp, 0, "invoice");
  if (!in.invoice_id)
    return rp->status;
  struct jspec spec[] = {
      JSPEC_ENUMV("kind", JSPEC_REQUIRED, &in.kind, kinds),
      JSPEC_MONEYV("amount", JSPEC_REQUIRED, &in.amount, -ARC_MONEY_MAX, ARC_MONEY_MAX),
      JSPEC_STR("reason", JSPEC_REQUIRED, &in.reason, 500),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  jspec_parse(rq->body, spec, JSPEC_CREATE, "", &fe);
  if (in.amount != INT64_MIN) {
    if (in.amount == 0)
      field_error(&fe, "amount", "must not be zero");
    else if (in.kind && strcmp(in.kind, "credit") == 0 && in.amount > 0)
      field_error(&fe, "amount", "a credit lowers the invoice: it must be negative");
    else if (in.kind && strcmp(in.kind, "debit") == 0 && in.amount < 0)
      field_error(&fe, "amount", "a debit raises the invoice: it must be positive");
  }
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  snprintf(in.amount_text, sizeof in.amount_text, "%lld", (long long)in.amount);
  return db_run_tx(rq->db, create_tx, &in, rp);
}

unsigned adjustments_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit", "cursor", "kind", NULL};
  const char *invoice_id = path_id(rq, rp, 0, "invoice");
  if (!invoice_id)
    return rp->status;
  struct field_errors fe = {0};
  struct page pg;
  const char *kind;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_enum(rq, "kind", kinds, &kind, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *id_param[] = {invoice_id};
  PGresult *r;
  enum db_status st = db_exec_one(rq->db, "adjustments_invoice_exists", 1, id_param, &r);
  PQclear(r);
  if (st < 0)
    return db_error_reply(rq->db, rp);
  if (st == DB_NONE)
    return reply_not_found(rp, "invoice", invoice_id);
  const char *params[] = {pg.cursor, pg.limit_plus_one, invoice_id, kind};
  r = db_exec(rq->db, "adjustments_select_page", 4, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned adjustments_get(struct request *rq, struct reply *rp)
{
  const char *invoice_id = path_id(rq, rp, 0, "invoice");
  if (!invoice_id)
    return rp->status;
  const char *id = path_id(rq, rp, 1, "adjustment");
  if (!id)
    return rp->status;
  const char *params[] = {invoice_id, id};
  PGresult *r;
  enum db_status st = db_exec_one(rq->db, "adjustments_select_by_id", 2, params, &r);
  if (st < 0)
    return db_error_reply(rq->db, rp);
  if (st == DB_NONE)
    return reply_problemf(rp, PROBLEM_NOT_FOUND, "no adjustment with id %.64s on invoice %.64s", id, invoice_id);
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}
