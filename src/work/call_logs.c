/* /v1/call-logs: who was contacted, what was said, when, and how the
 * customer will pay (SPEC P4).  Append-only: only POST and GET (the router
 * answers 405 to the rest); a correction is a new entry.  This file checks
 * the request's shape and the pure rules (call_rules.c); the customer,
 * invoice and contact checks and the nested promise and dispute run in one
 * SQL function (arc_call_log_create, call_logs.sql). */
#include <stdio.h>
#include <string.h>

#include "arc/call_rules.h"
#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/promises.h"
#include "arc/resource.h"

static const char *const channels[] = {"phone", "email", "sms", "letter", "visit", "portal", NULL};
static const char *const directions[] = {"outbound", "inbound", NULL};
static const char *const outcomes[] = {"reached", "no_answer", "voicemail", "wrong_number",
                                       "sent",    "bounced",   "refused",   NULL};
static const char *const dispute_reasons[] = {"pricing",    "quantity",  "damaged", "not_received",
                                              "missing_po", "duplicate", "quality", "other",
                                              NULL};

/* The dispute raised in a call: the fields of POST /v1/disputes that a
 * call does not already give (customer, call log). */
static void check_dispute(const json_t *v, const char *field, struct field_errors *fe)
{
  if (!json_is_object(v)) {
    field_error(fe, field, "must be an object {\"invoice_id\", \"reason\", \"amount\", \"notes\"}");
    return;
  }
  struct jspec spec[] = {
      JSPEC_IDV("invoice_id", JSPEC_REQUIRED, NULL),
      JSPEC_ENUMV("reason", JSPEC_REQUIRED, NULL, dispute_reasons),
      JSPEC_MONEYV("amount", 0, NULL, 1, ARC_MONEY_MAX), /* absent: the open balance */
      JSPEC_TXT("notes", JSPEC_NULLABLE, NULL, 10000),
      JSPEC_ENDV,
  };
  jspec_parse(v, spec, JSPEC_CREATE, field, fe);
}

struct call_in {
  const char *customer_id, *channel, *direction, *outcome, *contact_id, *contact_name, *notes, *occurred_at,
      *logged_by;
  const json_t *invoice_ids, *promise, *dispute;
  int64_t satisfaction;
};

/* Given, and not null. */
static int given(const struct jspec *spec, const char *name)
{
  const struct jspec *s = jspec_find(spec, name);
  return s && s->present && !s->is_null;
}

static int call_parse(const json_t *body, struct call_in *in, struct field_errors *fe)
{
  struct jspec spec[] = {
      JSPEC_IDV("customer_id", JSPEC_REQUIRED, &in->customer_id),
      JSPEC_CUSTOMV("invoice_ids", 0, &in->invoice_ids, promises_check_invoice_ids),
      JSPEC_ENUMV("channel", JSPEC_REQUIRED, &in->channel, channels),
      JSPEC_ENUMV("direction", JSPEC_REQUIRED, &in->direction, directions),
      JSPEC_ENUMV("outcome", JSPEC_REQUIRED, &in->outcome, outcomes),
      JSPEC_IDV("contact_id", JSPEC_NULLABLE, &in->contact_id),
      JSPEC_STR("contact_name", JSPEC_NULLABLE, &in->contact_name, 200),
      JSPEC_TXT("notes", JSPEC_NULLABLE, &in->notes, 10000),
      JSPEC_INSTANTV("occurred_at", 0, &in->occurred_at),
      JSPEC_STR("logged_by", 0, &in->logged_by, 200),
      JSPEC_INTV("satisfaction", JSPEC_NULLABLE, &in->satisfaction, 1, 5),
      JSPEC_CUSTOMV("promise", JSPEC_NULLABLE, &in->promise, promises_check_nested),
      JSPEC_CUSTOMV("dispute", JSPEC_NULLABLE, &in->dispute, check_dispute),
      JSPEC_ENDV,
  };
  jspec_parse(body, spec, JSPEC_CREATE, "", fe);

  /* Until direction and outcome are known, count the contact as a conversation. */
  int successful = 1;
  if (in->channel && in->direction && in->outcome) {
    const char *problem = call_outcome_problem(in->channel, in->direction, in->outcome);
    if (problem)
      field_error(fe, "outcome", "%s", problem);
    /* A promise is a commitment someone made to us: only a successful
     * contact (reached, or any inbound contact) can carry one. */
    successful = strcmp(in->direction, "inbound") == 0 || strcmp(in->outcome, "reached") == 0;
    if (!successful && given(spec, "promise"))
      field_error(fe, "promise",
                  "can only be made in a successful contact (outcome reached, or an inbound contact)");
  }
  /* P4's "who" is about a conversation: an attempt that reached nobody (a
   * dialer's no_answer, a bounced e-mail) has nobody to name. */
  if (successful && !given(spec, "contact_id") && !given(spec, "contact_name"))
    field_error(fe, "contact_id",
                "give contact_id or contact_name: who was spoken to (a reached or inbound contact needs one)");
  return !field_errors_any(fe);
}

struct write_ctx {
  const struct request *rq;
};

static unsigned create_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct write_ctx *w = ctx;
  const char *params[] = {request_body_text(w->rq), w->rq->who.actor};
  PGresult *r;
  enum db_status st = db_exec_one(db, "call_logs_create", 2, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE) {
    PQclear(r);
    return reply_problem(rp, PROBLEM_INTERNAL, "the call log was not recorded");
  }
  reply_doc(rp, 201, r, 0, "/v1/call-logs/");
  PQclear(r);
  return 201;
}

unsigned call_logs_create(struct request *rq, struct reply *rp)
{
  struct call_in in = {0};
  struct field_errors fe = {0};
  if (!call_parse(rq->body, &in, &fe))
    return reply_validation(rp, &fe);
  struct write_ctx w = {.rq = rq};
  return db_run_tx(rq->db, create_tx, &w, rp);
}

unsigned call_logs_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit",   "cursor",        "customer_id", "invoice_id", "channel",
                                      "direction", "outcome",     "occurred_from", "occurred_to", "logged_by",
                                      NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *customer_id, *invoice_id, *channel, *direction, *outcome, *from, *to, *logged_by;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_id(rq, "customer_id", &customer_id, &fe);
  query_id(rq, "invoice_id", &invoice_id, &fe);
  query_enum(rq, "channel", channels, &channel, &fe);
  query_enum(rq, "direction", directions, &direction, &fe);
  query_enum(rq, "outcome", outcomes, &outcome, &fe);
  query_instant(rq, "occurred_from", &from, &fe);
  query_instant(rq, "occurred_to", &to, &fe);
  query_string(rq, "logged_by", &logged_by, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {pg.cursor, pg.limit_plus_one, customer_id, invoice_id, channel,
                          direction, outcome,           from,        to,         logged_by};
  /* The most selective filter given has a statement of its own. */
  const char *stmt = invoice_id  ? "call_logs_select_page_by_invoice"
                     : customer_id ? "call_logs_select_page_by_customer"
                     : logged_by   ? "call_logs_select_page_by_logged_by"
                     :               "call_logs_select_page";
  PGresult *r = db_exec(rq->db, stmt, 10, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned call_logs_get(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "call log");
  if (!id)
    return rp->status;
  const char *params[] = {id};
  return reply_read_one(rq, rp, "call_logs_select_by_id", 1, params, "call log", id);
}
