/* /v1/payment-plans: make a plan over a customer's open invoices with an
 * explicit or a generated schedule, list, read, and cancel or annotate one
 * (SPEC P7).  This file checks shapes: which fields, one schedule form,
 * ascending dates.  What needs the data (the invoices, the sum of the
 * installments against what is owed, one active plan) and how installments
 * fill, are missed and default lives in payment_plans.sql. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/promises.h"
#include "arc/resource.h"

#define INSTALLMENTS_MAX 120
#define NOTES_MAX 10000

static const char *const frequencies[] = {"weekly", "biweekly", "monthly", NULL};
static const char *const statuses[] = {"active", "completed", "defaulted", "cancelled", NULL};
/* The one status a client sets; the others follow the money and the sweep. */
static const char *const settable_statuses[] = {"cancelled", NULL};

/* invoice_ids: 1 to WORK_INVOICE_IDS_MAX distinct invoice ids. */
static void check_invoice_ids(const json_t *v, const char *field, struct field_errors *fe)
{
  if (json_is_array(v) && json_array_size(v) == 0) {
    field_error(fe, field, "must name at least one invoice");
    return;
  }
  promises_check_invoice_ids(v, field, fe);
}

/* installments: 1 to INSTALLMENTS_MAX {due_on, amount}, due dates strictly
 * ascending. */
static void check_installments(const json_t *v, const char *field, struct field_errors *fe)
{
  if (!json_is_array(v)) {
    field_error(fe, field, "must be an array of {\"due_on\", \"amount\"} objects");
    return;
  }
  size_t n = json_array_size(v);
  if (n == 0 || n > INSTALLMENTS_MAX) {
    field_error(fe, field, "must hold 1 to %d installments", INSTALLMENTS_MAX);
    return;
  }
  const char *previous = NULL; /* the last valid due date, at index prev_i */
  size_t i, prev_i = 0;
  const json_t *item;
  json_array_foreach(v, i, item) {
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s[%zu]", field, i);
    const char *due_on = NULL;
    struct jspec spec[] = {
        JSPEC_DATEV("due_on", JSPEC_REQUIRED, &due_on),
        JSPEC_MONEYV("amount", JSPEC_REQUIRED, NULL, 1, ARC_MONEY_MAX),
        JSPEC_ENDV,
    };
    jspec_parse(item, spec, JSPEC_CREATE, prefix, fe);
    /* YYYY-MM-DD strings order like the dates they name. */
    if (due_on && previous && strcmp(due_on, previous) <= 0) {
      char dfield[128];
      snprintf(dfield, sizeof dfield, "%s.due_on", prefix);
      field_error(fe, dfield, "must be after the due date of %s[%zu] (%s): due dates ascend", field, prev_i,
                  previous);
    }
    if (due_on) {
      previous = due_on;
      prev_i = i;
    }
  }
}

/* The create spec's entries the schedule check looks at. */
enum { C_INSTALLMENTS = 2, C_COUNT, C_FREQUENCY, C_FIRST_DUE_ON };

/* Exactly one schedule form: installments, or all of count, frequency and
 * first_due_on. */
static void check_schedule_form(const struct jspec *spec, struct field_errors *fe)
{
  static const int generated[] = {C_COUNT, C_FREQUENCY, C_FIRST_DUE_ON};
  int given = 0;
  for (size_t i = 0; i < 3; i++)
    given += spec[generated[i]].present;
  if (spec[C_INSTALLMENTS].present) {
    for (size_t i = 0; i < 3; i++)
      if (spec[generated[i]].present)
        field_error(fe, spec[generated[i]].name,
                    "does not go with installments: give either installments or count, frequency and first_due_on");
    return;
  }
  if (given == 0) {
    field_error(fe, "installments", "is required, unless the schedule is generated from count, frequency and "
                                    "first_due_on");
    return;
  }
  for (size_t i = 0; i < 3; i++)
    if (!spec[generated[i]].present)
      field_error(fe, spec[generated[i]].name, "is required to generate a schedule (count, frequency and "
                                               "first_due_on)");
}

struct write_ctx {
  const struct request *rq;
  const char *id;
};

/* A plan the database refused: STATUS 422 or 409 with its field errors. */
static unsigned refused(struct reply *rp, const char *status, const char *errors_text)
{
  json_t *errors = json_loads(errors_text, 0, NULL);
  if (!json_is_array(errors)) {
    json_decref(errors);
    return reply_problem(rp, PROBLEM_INTERNAL, "the plan was refused for a reason that could not be read");
  }
  if (strcmp(status, "422") == 0) {
    struct field_errors fe = {.list = errors};
    return reply_validation(rp, &fe);
  }
  const char *first = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
  reply_problem(rp, PROBLEM_CONFLICT, first ? first : "the plan conflicts with another one");
  json_object_set_new(rp->json, "errors", errors);
  return rp->status;
}

static unsigned create_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct write_ctx *w = ctx;
  const char *params[] = {request_body_text(w->rq), w->rq->who.actor};
  PGresult *r;
  enum db_status st = db_exec_one(db, "payment_plans_insert", 2, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE)
    return reply_problem(rp, PROBLEM_INTERNAL, "the payment plan was not recorded");
  unsigned status;
  if (!PQgetisnull(r, 0, 3))
    status = refused(rp, PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4));
  else
    status = reply_doc(rp, 201, r, 0, "/v1/payment-plans/");
  PQclear(r);
  return status;
}

unsigned payment_plans_create(struct request *rq, struct reply *rp)
{
  struct jspec spec[] = {
      JSPEC_IDV("customer_id", JSPEC_REQUIRED, NULL),
      JSPEC_CUSTOMV("invoice_ids", JSPEC_REQUIRED, NULL, check_invoice_ids),
      [C_INSTALLMENTS] = JSPEC_CUSTOMV("installments", 0, NULL, check_installments),
      [C_COUNT] = JSPEC_INTV("count", 0, NULL, 1, INSTALLMENTS_MAX),
      [C_FREQUENCY] = JSPEC_ENUMV("frequency", 0, NULL, frequencies),
      [C_FIRST_DUE_ON] = JSPEC_DATEV("first_due_on", 0, NULL),
      JSPEC_INTV("grace_days", 0, NULL, 0, 60),
      JSPEC_INTV("max_missed", 0, NULL, 1, 100),
      JSPEC_TXT("notes", JSPEC_NULLABLE, NULL, NOTES_MAX),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  jspec_parse(rq->body, spec, JSPEC_CREATE, "", &fe);
  if (!rq->body || json_is_object(rq->body))
    check_schedule_form(spec, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  struct write_ctx w = {.rq = rq};
  return db_run_tx(rq->db, create_tx, &w, rp);
}

unsigned payment_plans_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit", "cursor", "customer_id", "status", "invoice_id", NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *customer_id, *status, *invoice_id;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_id(rq, "customer_id", &customer_id, &fe);
  query_enum(rq, "status", statuses, &status, &fe);
  query_id(rq, "invoice_id", &invoice_id, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {pg.cursor, pg.limit_plus_one, customer_id, status, invoice_id};
  /* The most selective filter given has a statement of its own. */
  const char *stmt = invoice_id  ? "payment_plans_select_page_by_invoice"
                     : customer_id ? "payment_plans_select_page_by_customer"
                     : status      ? "payment_plans_select_page_by_status"
                     :               "payment_plans_select_page";
  PGresult *r = db_exec(rq->db, stmt, 5, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned payment_plans_get(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "payment plan");
  if (!id)
    return rp->status;
  const char *params[] = {id};
  return reply_read_one(rq, rp, "payment_plans_select_by_id", 1, params, "payment plan", id);
}

static unsigned update_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct write_ctx *w = ctx;
  const char *lock_params[] = {w->id};
  PGresult *r;
  enum db_status st = db_exec_one(db, "payment_plans_lock", 1, lock_params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE)
    return reply_not_found(rp, "payment plan", w->id);
  long long version = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  if (!request_if_match_ok(w->rq, version))
    return reply_stale(rp, "payment plan", version);
  const char *params[] = {w->id, request_body_text(w->rq), w->rq->who.actor};
  if (db_exec_one(db, "payment_plans_update", 3, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

/* The PATCH spec's entries the fit check looks at. */
enum { U_STATUS, U_CANCEL_REASON };

/* PATCH: {"status": "cancelled", "cancel_reason": "..."} ends an active
 * plan; {"notes": ...} annotates one.  The terms are fixed once made. */
unsigned payment_plans_update(struct request *rq, struct reply *rp)
{
  struct write_ctx w = {.rq = rq, .id = path_id(rq, rp, 0, "payment plan")};
  if (!w.id)
    return rp->status;
  const char *status = NULL;
  struct jspec spec[] = {
      [U_STATUS] = JSPEC_ENUMV("status", 0, &status, settable_statuses),
      [U_CANCEL_REASON] = JSPEC_STR("cancel_reason", 0, NULL, 500),
      JSPEC_TXT("notes", JSPEC_NULLABLE, NULL, NOTES_MAX),
      JSPEC_IDV("customer_id", JSPEC_CREATE_ONLY, NULL),
      JSPEC_CUSTOMV("invoice_ids", JSPEC_CREATE_ONLY, NULL, check_invoice_ids),
      JSPEC_CUSTOMV("installments", JSPEC_CREATE_ONLY, NULL, check_installments),
      JSPEC_INTV("count", JSPEC_CREATE_ONLY, NULL, 1, INSTALLMENTS_MAX),
      JSPEC_ENUMV("frequency", JSPEC_CREATE_ONLY, NULL, frequencies),
      JSPEC_DATEV("first_due_on", JSPEC_CREATE_ONLY, NULL),
      JSPEC_INTV("grace_days", JSPEC_CREATE_ONLY, NULL, 0, 60),
      JSPEC_INTV("max_missed", JSPEC_CREATE_ONLY, NULL, 1, 100),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  jspec_parse(rq->body, spec, JSPEC_PATCH, "", &fe);
  if (status && !spec[U_CANCEL_REASON].present)
    field_error(&fe, "cancel_reason", "is required when cancelling: say why");
  if (spec[U_CANCEL_REASON].present && !spec[U_STATUS].present)
    field_error(&fe, "status", "must be \"cancelled\" when a cancel_reason is given");
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  return db_run_tx(rq->db, update_tx, &w, rp);
}
