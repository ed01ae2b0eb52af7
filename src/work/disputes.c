/* /v1/disputes: open, list, read, and resolve / reject / annotate (SPEC P6).
 * The rules that need the invoice (open invoice, one open dispute, amounts
 * against the balance) and every money movement live in
 * disputes.sql; this file checks shapes and which fields
 * fit which resolution. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/resource.h"

static const char *const reasons[] = {"pricing", "quantity", "damaged", "not_received", "missing_po",
                                      "duplicate", "quality", "other", NULL};
static const char *const statuses[] = {"open", "resolved", "rejected", NULL};
/* A PATCH closes a dispute; it never reopens one. */
static const char *const closing_statuses[] = {"resolved", "rejected", NULL};
static const char *const resolutions[] = {"credit_issued", "corrected_invoice", "customer_accepted", "other", NULL};

#define NOTES_MAX 10000

struct dispute_new {
  const char *invoice_id, *call_log_id, *body, *actor;
};

static unsigned create_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct dispute_new *in = ctx;
  const char *params[] = {in->invoice_id, in->body, in->actor, in->call_log_id};
  PGresult *r;
  if (db_exec_one(db, "disputes_insert", 4, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  reply_doc(rp, 201, r, 0, "/v1/disputes/");
  PQclear(r);
  return 201;
}

unsigned disputes_create(struct request *rq, struct reply *rp)
{
  struct dispute_new in = {.actor = rq->who.actor};
  const char *reason = NULL, *notes = NULL;
  int64_t amount = 0;
  struct jspec spec[] = {
      JSPEC_IDV("invoice_id", JSPEC_REQUIRED, &in.invoice_id),
      JSPEC_ENUMV("reason", JSPEC_REQUIRED, &reason, reasons),
      /* Absent: the invoice's open balance (arc_dispute_open). */
      JSPEC_MONEYV("amount", 0, &amount, 1, ARC_MONEY_MAX),
      JSPEC_TXT("notes", JSPEC_NULLABLE, &notes, NOTES_MAX),
      JSPEC_IDV("call_log_id", JSPEC_NULLABLE, &in.call_log_id),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  if (!jspec_parse(rq->body, spec, JSPEC_CREATE, "", &fe))
    return reply_validation(rp, &fe);
  in.body = request_body_text(rq);
  return db_run_tx(rq->db, create_tx, &in, rp);
}

unsigned disputes_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit", "cursor", "customer_id", "invoice_id", "status", "reason", NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *customer_id, *invoice_id, *status, *reason;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_id(rq, "customer_id", &customer_id, &fe);
  query_id(rq, "invoice_id", &invoice_id, &fe);
  query_enum(rq, "status", statuses, &status, &fe);
  query_enum(rq, "reason", reasons, &reason, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {pg.cursor, pg.limit_plus_one, customer_id, invoice_id, status, reason};
  /* The most selective filter given has a statement of its own. */
  const char *stmt = invoice_id  ? "disputes_select_page_by_invoice"
                     : customer_id ? "disputes_select_page_by_customer"
                     : status      ? "disputes_select_page_by_status"
                     :               "disputes_select_page";
  PGresult *r = db_exec(rq->db, stmt, 6, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned disputes_get(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "dispute");
  if (!id)
    return rp->status;
  const char *params[] = {id};
  return reply_read_one(rq, rp, "disputes_select_by_id", 1, params, "dispute", id);
}

/* The PATCH fields, in the order of the spec below. */
enum { P_STATUS, P_RESOLUTION, P_RESOLUTION_NOTES, P_CREDIT, P_NEW_AMOUNT, P_NEW_DUE_ON, P_NOTES };

/* Which fields fit the change asked for: a resolution only with status
 * resolved, each money field only with its resolution, and what each
 * resolution needs.  Only fields that were themselves valid reach here. */
static void check_fit(const struct jspec *spec, const char *status, const char *resolution,
                      struct field_errors *fe)
{
  int resolved = status && strcmp(status, "resolved") == 0;
  int credit = resolved && resolution && strcmp(resolution, "credit_issued") == 0;
  int corrected = resolved && resolution && strcmp(resolution, "corrected_invoice") == 0;
  int status_ok = !spec[P_STATUS].present || status;
  if (!status_ok)
    return; /* already reported; the rest would only echo it */
  if (!status && spec[P_RESOLUTION_NOTES].present)
    field_error(fe, "resolution_notes", "is written when the dispute is resolved or rejected: send it with status");
  if (resolved && !spec[P_RESOLUTION].present)
    field_error(fe, "resolution", "is required when status is resolved");
  if (!resolved && spec[P_RESOLUTION].present)
    field_error(fe, "resolution", "only fits status resolved");
  if (resolved && spec[P_RESOLUTION].present && !resolution)
    return; /* a bad resolution: which amounts fit is unknown */
  if (credit && !spec[P_CREDIT].present)
    field_error(fe, "credit_amount", "is required when the resolution is credit_issued");
  if (!credit && spec[P_CREDIT].present)
    field_error(fe, "credit_amount", "only fits resolution credit_issued");
  if (corrected && !spec[P_NEW_AMOUNT].present && !spec[P_NEW_DUE_ON].present) {
    field_error(fe, "new_amount", "a corrected invoice needs new_amount, new_due_on or both");
    field_error(fe, "new_due_on", "a corrected invoice needs new_amount, new_due_on or both");
  }
  if (!corrected && spec[P_NEW_AMOUNT].present)
    field_error(fe, "new_amount", "only fits resolution corrected_invoice");
  if (!corrected && spec[P_NEW_DUE_ON].present)
    field_error(fe, "new_due_on", "only fits resolution corrected_invoice");
}

struct dispute_patch {
  const struct request *rq;
  const char *id;
};

static unsigned update_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct dispute_patch *pt = ctx;
  const char *lock_params[] = {pt->id};
  PGresult *r;
  enum db_status st = db_exec_one(db, "disputes_lock", 1, lock_params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE) {
    PQclear(r);
    return reply_not_found(rp, "dispute", pt->id);
  }
  long long version = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  if (!request_if_match_ok(pt->rq, version))
    return reply_stale(rp, "dispute", version);
  const char *params[] = {pt->id, request_body_text(pt->rq), pt->rq->who.actor};
  if (db_exec_one(db, "disputes_update", 3, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

unsigned disputes_update(struct request *rq, struct reply *rp)
{
  struct dispute_patch pt = {.rq = rq, .id = path_id(rq, rp, 0, "dispute")};
  if (!pt.id)
    return rp->status;
  const char *status = NULL, *resolution = NULL;
  struct jspec spec[] = {
      [P_STATUS] = JSPEC_ENUMV("status", 0, &status, closing_statuses),
      [P_RESOLUTION] = JSPEC_ENUMV("resolution", 0, &resolution, resolutions),
      [P_RESOLUTION_NOTES] = JSPEC_TXT("resolution_notes", JSPEC_NULLABLE, NULL, NOTES_MAX),
      [P_CREDIT] = JSPEC_MONEYV("credit_amount", 0, NULL, 1, ARC_MONEY_MAX),
      /* 0 is a correction too: an invoice billed twice is corrected to nothing. */
      [P_NEW_AMOUNT] = JSPEC_MONEYV("new_amount", 0, NULL, 0, ARC_MONEY_MAX),
      [P_NEW_DUE_ON] = JSPEC_DATEV("new_due_on", 0, NULL),
      [P_NOTES] = JSPEC_TXT("notes", JSPEC_NULLABLE, NULL, NOTES_MAX),
      /* What the dispute is about is fixed once it is opened. */
      JSPEC_IDV("invoice_id", JSPEC_CREATE_ONLY, NULL),
      JSPEC_ENUMV("reason", JSPEC_CREATE_ONLY, NULL, reasons),
      JSPEC_MONEYV("amount", JSPEC_CREATE_ONLY, NULL, 1, ARC_MONEY_MAX),
      JSPEC_IDV("call_log_id", JSPEC_CREATE_ONLY, NULL),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  jspec_parse(rq->body, spec, JSPEC_PATCH, "", &fe);
  if (!rq->body || json_is_object(rq->body))
    check_fit(spec, status, resolution, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  return db_run_tx(rq->db, update_tx, &pt, rp);
}
