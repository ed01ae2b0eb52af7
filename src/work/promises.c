/* /v1/promises: promises to pay (SPEC P5), made directly or in a call log,
 * listed, read, and cancelled by managers.  Whether a promise is kept or
 * broken is decided in SQL (arc_promises_evaluate, promises.sql), after
 * every payment and reversal and by the scheduler's sweep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/promises.h"
#include "arc/resource.h"

static const char *const methods[] = {"ach", "wire", "check", "card", "cash", "other", NULL};
static const char *const statuses[] = {"pending", "kept", "broken", "cancelled", NULL};
/* The one status a client sets; kept and broken follow the payments. */
static const char *const settable_statuses[] = {"cancelled", NULL};

void promises_check_invoice_ids(const json_t *v, const char *field, struct field_errors *fe)
{
  if (!json_is_array(v)) {
    field_error(fe, field, "must be an array of invoice ids");
    return;
  }
  if (json_array_size(v) > WORK_INVOICE_IDS_MAX) {
    field_error(fe, field, "may name at most %d invoices", WORK_INVOICE_IDS_MAX);
    return;
  }
  size_t i;
  const json_t *item;
  json_array_foreach(v, i, item) {
    char item_field[200];
    snprintf(item_field, sizeof item_field, "%s[%zu]", field, i);
    if (!json_is_string(item) || !jspec_is_id(json_string_value(item))) {
      field_error(fe, item_field, "must be an id string");
      continue;
    }
    /* Ids are canonical (no leading zeros): equal ids are equal strings. */
    for (size_t j = 0; j < i; j++)
      if (json_equal(item, json_array_get(v, j))) {
        field_error(fe, item_field, "names the same invoice as %s[%zu]", field, j);
        break;
      }
  }
}

/* The terms of a promise; a direct one also names its customer and may
 * name the call log it came from (NESTED leaves those two out). */
static void promise_parse(const json_t *body, const char *prefix, int nested, struct field_errors *fe)
{
  struct jspec spec[] = {
      JSPEC_IDV("customer_id", JSPEC_REQUIRED, NULL),
      JSPEC_IDV("call_log_id", JSPEC_NULLABLE, NULL),
      JSPEC_MONEYV("amount", JSPEC_REQUIRED, NULL, 1, ARC_MONEY_MAX),
      JSPEC_CURRENCYV("currency", 0, NULL),
      JSPEC_DATEV("promised_on", JSPEC_REQUIRED, NULL),
      JSPEC_ENUMV("method", JSPEC_NULLABLE, NULL, methods),
      JSPEC_CUSTOMV("invoice_ids", 0, NULL, promises_check_invoice_ids),
      JSPEC_ENDV,
  };
  jspec_parse(body, nested ? spec + 2 : spec, JSPEC_CREATE, prefix, fe);
}

void promises_check_nested(const json_t *v, const char *field, struct field_errors *fe)
{
  if (!json_is_object(v)) {
    field_error(fe, field, "must be an object {\"amount\", \"promised_on\", \"currency\", \"method\", \"invoice_ids\"}");
    return;
  }
  promise_parse(v, field, 1, fe);
}

struct write_ctx {
  const struct request *rq;
  const char *id;
  const char *problems; /* the C checks' errors, JSON: the database adds its own and writes nothing */
};

static unsigned create_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct write_ctx *w = ctx;
  const char *params[] = {request_body_text(w->rq), w->rq->who.actor, w->problems ? w->problems : "[]"};
  PGresult *r;
  enum db_status st = db_exec_one(db, "promises_create", 3, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE) {
    PQclear(r);
    return reply_problem(rp, PROBLEM_INTERNAL, "the promise was not recorded");
  }
  reply_doc(rp, 201, r, 0, "/v1/promises/");
  PQclear(r);
  return 201;
}

unsigned promises_create(struct request *rq, struct reply *rp)
{
  struct field_errors fe = {0};
  promise_parse(rq->body, "", 0, &fe);
  struct write_ctx w = {.rq = rq};
  if (field_errors_any(&fe)) {
    /* The database's checks run too, on the fields that passed these, so
     * that one 422 names every bad field; it writes nothing then. */
    if (!json_is_object(rq->body))
      return reply_validation(rp, &fe);
    char *problems = json_dumps(fe.list, JSON_COMPACT);
    field_errors_clear(&fe);
    w.problems = problems;
    unsigned status = db_run_tx(rq->db, create_tx, &w, rp); /* with problems, arc_promise_create raises */
    free(problems);
    return status;
  }
  return db_run_tx(rq->db, create_tx, &w, rp);
}

unsigned promises_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit",         "cursor",      "customer_id", "status",        "call_log_id",
                                      "invoice_id",    "promised_from", "promised_to", "updated_since", NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *customer_id, *status, *call_log_id, *invoice_id, *from, *to, *updated_since;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_id(rq, "customer_id", &customer_id, &fe);
  query_enum(rq, "status", statuses, &status, &fe);
  query_id(rq, "call_log_id", &call_log_id, &fe);
  query_id(rq, "invoice_id", &invoice_id, &fe);
  query_date(rq, "promised_from", &from, &fe);
  query_date(rq, "promised_to", &to, &fe);
  query_instant(rq, "updated_since", &updated_since, &fe);
  /* YYYY-MM-DD strings order like the dates they name. */
  if (from && to && strcmp(from, to) > 0)
    field_error(&fe, "promised_to", "must not be before promised_from");
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {pg.cursor, pg.limit_plus_one, customer_id, status, call_log_id,
                          invoice_id, from,             to,          updated_since};
  /* The most selective filter given has a statement of its own. */
  const char *stmt = call_log_id ? "promises_select_page_by_call_log"
                     : invoice_id  ? "promises_select_page_by_invoice"
                     : customer_id ? "promises_select_page_by_customer"
                     : status      ? "promises_select_page_by_status"
                     :               "promises_select_page";
  PGresult *r = db_exec(rq->db, stmt, 9, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned promises_get(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "promise");
  if (!id)
    return rp->status;
  const char *params[] = {id};
  return reply_read_one(rq, rp, "promises_select_by_id", 1, params, "promise", id);
}

static unsigned update_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct write_ctx *w = ctx;
  const char *lock_params[] = {w->id};
  PGresult *r;
  enum db_status st = db_exec_one(db, "promises_lock", 1, lock_params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE) {
    PQclear(r);
    return reply_not_found(rp, "promise", w->id);
  }
  long long version = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  if (!request_if_match_ok(w->rq, version))
    return reply_stale(rp, "promise", version);
  const char *params[] = {w->id, request_body_text(w->rq)};
  if (db_exec_one(db, "promises_update", 2, params, &r) != DB_ONE) {
    PQclear(r);
    return db_error_reply(db, rp);
  }
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

/* PATCH: {"status": "cancelled", "cancel_reason": "..."} — the only change
 * a client makes to a promise. */
unsigned promises_update(struct request *rq, struct reply *rp)
{
  struct write_ctx w = {.rq = rq, .id = path_id(rq, rp, 0, "promise")};
  if (!w.id)
    return rp->status;
  const char *status = NULL, *reason = NULL;
  struct jspec spec[] = {
      JSPEC_ENUMV("status", 0, &status, settable_statuses),
      JSPEC_STR("cancel_reason", 0, &reason, 500),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  jspec_parse(rq->body, spec, JSPEC_PATCH, "", &fe);
  if (status && !spec[1].present)
    field_error(&fe, "cancel_reason", "is required when cancelling: say why");
  if (spec[1].present && !spec[0].present)
    field_error(&fe, "status", "must be \"cancelled\" when a cancel_reason is given");
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  return db_run_tx(rq->db, update_tx, &w, rp);
}
