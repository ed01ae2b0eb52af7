/* /v1/payments: record a payment with its allocations (explicit, or the
 * oldest open invoices first), list, read, correct its bookkeeping fields,
 * and upsert by external id.  This file checks the shape of requests; the
 * money moves in SQL (payments.sql) under row locks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/payments.h"
#include "arc/resource.h"

/* Each allocation locks an invoice row: keep one payment's work bounded. */
#define ALLOCATIONS_MAX 1000

static const char *const methods[] = {"ach", "wire", "check", "card", "cash", "other", NULL};
static const char *const statuses[] = {"received", "reversed", NULL};

struct payment_in {
  const char *customer_id, *currency, *received_on, *method, *reference, *external_id;
  int64_t amount;
  const json_t *allocations;
};

/* allocations: an array of {invoice_id, amount}, each invoice at most once. */
static void check_allocations(const json_t *v, const char *field, struct field_errors *fe)
{
  if (!json_is_array(v)) {
    field_error(fe, field, "must be an array of {\"invoice_id\", \"amount\"} objects");
    return;
  }
  if (json_array_size(v) > ALLOCATIONS_MAX) {
    field_error(fe, field, "may hold at most %d allocations", ALLOCATIONS_MAX);
    return;
  }
  size_t i;
  const json_t *item;
  json_array_foreach(v, i, item) {
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s[%zu]", field, i);
    const char *invoice_id = NULL;
    struct jspec spec[] = {
        JSPEC_IDV("invoice_id", JSPEC_REQUIRED, &invoice_id),
        JSPEC_MONEYV("amount", JSPEC_REQUIRED, NULL, 1, ARC_MONEY_MAX),
        JSPEC_ENDV,
    };
    jspec_parse(item, spec, JSPEC_CREATE, prefix, fe);
    if (!invoice_id)
      continue;
    /* Ids are canonical (no leading zeros), so equal ids are equal strings. */
    for (size_t j = 0; j < i; j++) {
      const char *earlier = json_string_value(json_object_get(json_array_get(v, j), "invoice_id"));
      if (earlier && strcmp(earlier, invoice_id) == 0) {
        char dup[128];
        snprintf(dup, sizeof dup, "%s.invoice_id", prefix);
        field_error(fe, dup, "names the same invoice as %s[%zu]", field, j);
        break;
      }
    }
  }
}

/* Validates a payment body for MODE; cross-field rules included. */
static int payment_parse(const json_t *body, enum jspec_mode mode, struct payment_in *in, struct field_errors *fe)
{
  struct jspec spec[] = {
      JSPEC_IDV("customer_id", JSPEC_REQUIRED | JSPEC_CREATE_ONLY, &in->customer_id),
      JSPEC_MONEYV("amount", JSPEC_REQUIRED | JSPEC_CREATE_ONLY, &in->amount, 1, ARC_MONEY_MAX),
      JSPEC_CURRENCYV("currency", JSPEC_REQUIRED | JSPEC_CREATE_ONLY, &in->currency),
      JSPEC_DATEV("received_on", JSPEC_REQUIRED, &in->received_on),
      JSPEC_ENUMV("method", JSPEC_REQUIRED, &in->method, methods),
      JSPEC_STR("reference", JSPEC_NULLABLE, &in->reference, 200),
      JSPEC_STR("external_id", JSPEC_NULLABLE, &in->external_id, 200),
      JSPEC_CUSTOMV("allocations", JSPEC_NULLABLE | JSPEC_CREATE_ONLY, &in->allocations, check_allocations),
      JSPEC_ENDV,
  };
  jspec_parse(body, spec, mode, "", fe);
  /* Allocations may not spend more than the payment; each item is at most
   * 2^53 - 1 and there are at most ALLOCATIONS_MAX, so the sum fits. */
  if (in->allocations && in->amount > 0) {
    int64_t sum = 0;
    size_t i;
    const json_t *item;
    json_array_foreach(in->allocations, i, item)
      sum += (int64_t)json_integer_value(json_object_get(item, "amount"));
    if (sum > in->amount)
      field_error(fe, "allocations", "add up to %lld, more than the payment amount of %lld", (long long)sum,
                  (long long)in->amount);
  }
  return !field_errors_any(fe);
}

struct write_ctx {
  const struct request *rq;
  const char *id;   /* PATCH: the payment; upsert: the external id */
  const char *body; /* the validated body as jsonb text */
};

static unsigned record_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct write_ctx *w = ctx;
  const char *params[] = {w->body, w->rq->who.actor};
  PGresult *r;
  enum db_status st = db_exec_one(db, "payments_record", 2, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE) {
    PQclear(r);
    return reply_problem(rp, PROBLEM_INTERNAL, "the payment was not recorded");
  }
  reply_doc(rp, 201, r, 0, "/v1/payments/");
  PQclear(r);
  return 201;
}

unsigned payments_create(struct request *rq, struct reply *rp)
{
  struct payment_in in = {0};
  struct field_errors fe = {0};
  if (!payment_parse(rq->body, JSPEC_CREATE, &in, &fe))
    return reply_validation(rp, &fe);
  struct write_ctx w = {.rq = rq, .body = request_body_text(rq)};
  return db_run_tx(rq->db, record_tx, &w, rp);
}

unsigned payments_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit",       "cursor",        "customer_id",  "status", "external_id",
                                      "received_from", "received_to", "updated_since", NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *customer_id, *status, *external_id, *from, *to, *updated_since;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_id(rq, "customer_id", &customer_id, &fe);
  query_enum(rq, "status", statuses, &status, &fe);
  query_string(rq, "external_id", &external_id, &fe);
  query_date(rq, "received_from", &from, &fe);
  query_date(rq, "received_to", &to, &fe);
  query_instant(rq, "updated_since", &updated_since, &fe);
  /* YYYY-MM-DD strings order like the dates they name. */
  if (from && to && strcmp(from, to) > 0)
    field_error(&fe, "received_to", "must not be before received_from");
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {pg.cursor, pg.limit_plus_one, customer_id, status, external_id, from, to, updated_since};
  /* The most selective filter given has a statement of its own. */
  const char *stmt = external_id ? "payments_select_page_by_external_id"
                     : customer_id ? "payments_select_page_by_customer"
                     : status      ? "payments_select_page_by_status"
                     :               "payments_select_page";
  PGresult *r = db_exec(rq->db, stmt, 8, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned payments_get(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "payment");
  if (!id)
    return rp->status;
  const char *params[] = {id};
  return reply_read_one(rq, rp, "payments_select_by_id", 1, params, "payment", id);
}

unsigned payments_lock_checked(struct db *db, const struct request *rq, const char *id, struct reply *rp)
{
  const char *params[] = {id};
  PGresult *r;
  enum db_status st = db_exec_one(db, "payments_lock", 1, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE) {
    PQclear(r);
    return reply_not_found(rp, "payment", id);
  }
  long long version = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  if (!request_if_match_ok(rq, version))
    return reply_stale(rp, "payment", version);
  return 0;
}

static unsigned update_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct write_ctx *w = ctx;
  unsigned status = payments_lock_checked(db, w->rq, w->id, rp);
  if (status)
    return status;
  const char *params[] = {w->id, w->body};
  PGresult *r;
  enum db_status st = db_exec_one(db, "payments_update", 2, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE) {
    PQclear(r);
    return reply_not_found(rp, "payment", w->id);
  }
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

unsigned payments_update(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "payment");
  if (!id)
    return rp->status;
  struct payment_in in = {0};
  struct field_errors fe = {0};
  if (!payment_parse(rq->body, JSPEC_PATCH, &in, &fe))
    return reply_validation(rp, &fe);
  struct write_ctx w = {.rq = rq, .id = id, .body = request_body_text(rq)};
  return db_run_tx(rq->db, update_tx, &w, rp);
}

static unsigned upsert_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct write_ctx *w = ctx;
  const char *params[] = {w->id, w->body, w->rq->who.actor};
  PGresult *r;
  enum db_status st = db_exec_one(db, "payments_upsert", 3, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE) {
    PQclear(r);
    return reply_problem(rp, PROBLEM_INTERNAL, "the payment was not recorded");
  }
  unsigned status = strcmp(PQgetvalue(r, 0, 3), "t") == 0 ? 201 : 200;
  reply_doc(rp, status, r, 0, "/v1/payments/");
  PQclear(r);
  return status;
}

unsigned payments_upsert(struct request *rq, struct reply *rp)
{
  const char *ext = request_param(rq, 0);
  struct payment_in in = {0};
  struct field_errors fe = {0};
  if (!ext || !*ext)
    return reply_not_found(rp, "payment", "");
  if (jspec_utf8_len(ext) > 200)
    field_error(&fe, "external_id", "must be at most 200 characters");
  payment_parse(rq->body, JSPEC_CREATE, &in, &fe);
  /* The path names the payment; a body may repeat it but not contradict it. */
  const json_t *body_ext = rq->body ? json_object_get(rq->body, "external_id") : NULL;
  if (json_is_null(body_ext) || (json_is_string(body_ext) && strcmp(json_string_value(body_ext), ext) != 0))
    field_error(&fe, "external_id", "must be the external id of the path, or left out");
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  struct write_ctx w = {.rq = rq, .id = ext, .body = request_body_text(rq)};
  return db_run_tx(rq->db, upsert_tx, &w, rp);
}
