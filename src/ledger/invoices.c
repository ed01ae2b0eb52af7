/* /v1/invoices: create, list, read, change (including void and write-off)
 * and the idempotent upsert by external_id.  The amount only changes
 * through adjustments (adjustments.c), so it is create-only here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/resource.h"

static const char *const statuses[] = {"open", "paid", "void", "written_off", NULL};
/* The only statuses a client sets; open and paid follow the balance. */
static const char *const settable_statuses[] = {"void", "written_off", NULL};

struct invoice_in {
  const char *customer_id, *number, *currency, *issued_on, *due_on, *po_number, *description,
      *external_id, *status;
  int64_t amount;
  int factored;
};

#define INVOICE_SPEC_LEN 12

/* The fields of an invoice body; the status entry is only there for PATCH. */
static void invoice_spec(struct jspec spec[INVOICE_SPEC_LEN], struct invoice_in *in, int with_status)
{
  struct jspec fields[] = {
      JSPEC_IDV("customer_id", JSPEC_REQUIRED | JSPEC_CREATE_ONLY, &in->customer_id),
      JSPEC_STR("number", JSPEC_REQUIRED, &in->number, 64),
      JSPEC_CURRENCYV("currency", JSPEC_REQUIRED | JSPEC_CREATE_ONLY, &in->currency),
      JSPEC_MONEYV("amount", JSPEC_REQUIRED | JSPEC_CREATE_ONLY, &in->amount, 1, ARC_MONEY_MAX),
      JSPEC_DATEV("issued_on", JSPEC_REQUIRED, &in->issued_on),
      JSPEC_DATEV("due_on", JSPEC_REQUIRED, &in->due_on),
      JSPEC_STR("po_number", JSPEC_NULLABLE, &in->po_number, 100),
      JSPEC_TXT("description", JSPEC_NULLABLE, &in->description, 2000),
      JSPEC_BOOLV("factored", 0, &in->factored),
      JSPEC_STR("external_id", JSPEC_NULLABLE, &in->external_id, 200),
      JSPEC_ENUMV("status", 0, &in->status, settable_statuses),
      JSPEC_ENDV,
  };
  _Static_assert(sizeof fields / sizeof fields[0] == INVOICE_SPEC_LEN, "invoice_spec size");
  memcpy(spec, fields, sizeof fields);
  if (!with_status)
    spec[INVOICE_SPEC_LEN - 2] = (struct jspec)JSPEC_ENDV;
}

/* Both dates given (and valid): the due date may not precede the issue
 * date.  With only one given, the database compares with the stored one. */
static void check_dates(const struct invoice_in *in, struct field_errors *fe)
{
  if (in->issued_on && in->due_on && strcmp(in->due_on, in->issued_on) < 0)
    field_error(fe, "due_on", "must be on or after issued_on (%s)", in->issued_on);
}

/* An external_id from the path (the router has decoded it and checked it
 * is UTF-8): not blank, at most 200 characters, as in a body. */
static int external_id_ok(const char *s)
{
  return s[strspn(s, " \t\r\n")] != '\0' && jspec_utf8_len(s) <= 200;
}

static unsigned create_tx(struct db *db, void *ctx, struct reply *rp)
{
  const char *params[] = {ctx};
  PGresult *r;
  if (db_exec_one(db, "invoices_insert", 1, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  reply_doc(rp, 201, r, 0, "/v1/invoices/");
  PQclear(r);
  return 201;
}

unsigned invoices_create(struct request *rq, struct reply *rp)
{
  struct invoice_in in = {0};
  struct jspec spec[INVOICE_SPEC_LEN];
  struct field_errors fe = {0};
  invoice_spec(spec, &in, 0);
  jspec_parse(rq->body, spec, JSPEC_CREATE, "", &fe);
  check_dates(&in, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  return db_run_tx(rq->db, create_tx, (void *)request_body_text(rq), rp);
}

static void query_currency(const struct request *rq, const char **out, struct field_errors *fe)
{
  *out = request_query(rq, "currency");
  if (*out && !jspec_is_currency(*out)) {
    field_error(fe, "currency", "must be an ISO 4217 currency code such as USD");
    *out = NULL;
  }
}

unsigned invoices_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit", "cursor", "customer_id", "status", "number", "external_id",
                                      "currency", "overdue_as_of", "updated_since", NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *customer_id, *status, *number, *external_id, *currency, *overdue_as_of, *updated_since;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_id(rq, "customer_id", &customer_id, &fe);
  query_enum(rq, "status", statuses, &status, &fe);
  query_string(rq, "number", &number, &fe);
  query_string(rq, "external_id", &external_id, &fe);
  query_currency(rq, &currency, &fe);
  query_date(rq, "overdue_as_of", &overdue_as_of, &fe);
  query_instant(rq, "updated_since", &updated_since, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {pg.cursor, pg.limit_plus_one, customer_id, status, number,
                          external_id, currency, overdue_as_of, updated_since};
  /* The most selective filter given has a statement of its own. */
  const char *stmt = number        ? "invoices_select_page_by_number"
                     : external_id ? "invoices_select_page_by_external_id"
                     : customer_id ? "invoices_select_page_by_customer"
                     : status      ? "invoices_select_page_by_status"
                                   : "invoices_select_page";
  PGresult *r = db_exec(rq->db, stmt, 9, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned invoices_get(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "invoice");
  if (!id)
    return rp->status;
  const char *params[] = {id};
  return reply_read_one(rq, rp, "invoices_select_by_id", 1, params, "invoice", id);
}

struct invoice_patch {
  const struct request *rq;
  const char *id;
};

static unsigned update_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct invoice_patch *pt = ctx;
  const char *lock_params[] = {pt->id};
  PGresult *r;
  enum db_status st = db_exec_one(db, "invoices_lock", 1, lock_params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE)
    return reply_not_found(rp, "invoice", pt->id);
  long long version = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  if (!request_if_match_ok(pt->rq, version))
    return reply_stale(rp, "invoice", version);
  const char *params[] = {pt->id, request_body_text(pt->rq)};
  if (db_exec_one(db, "invoices_update", 2, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

/* "amount cannot be changed" says what to do instead. */
static void hint_adjustments(struct field_errors *fe)
{
  size_t i;
  json_t *e;
  json_array_foreach(fe->list, i, e) {
    const char *field = json_string_value(json_object_get(e, "field"));
    if (field && strcmp(field, "amount") == 0)
      json_object_set_new(e, "message",
                          json_string("cannot be changed; record a credit, debit or correction with "
                                      "POST /v1/invoices/{id}/adjustments"));
  }
}

unsigned invoices_update(struct request *rq, struct reply *rp)
{
  struct invoice_patch pt = {.rq = rq, .id = path_id(rq, rp, 0, "invoice")};
  if (!pt.id)
    return rp->status;
  struct invoice_in in = {0};
  struct jspec spec[INVOICE_SPEC_LEN];
  struct field_errors fe = {0};
  invoice_spec(spec, &in, 1);
  jspec_parse(rq->body, spec, JSPEC_PATCH, "", &fe);
  hint_adjustments(&fe);
  check_dates(&in, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  return db_run_tx(rq->db, update_tx, &pt, rp);
}

struct invoice_upsert {
  const char *external_id, *body, *actor;
};

static unsigned upsert_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct invoice_upsert *up = ctx;
  const char *params[] = {up->external_id, up->body, up->actor};
  PGresult *r;
  if (db_exec_one(db, "invoices_upsert", 3, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  unsigned status = strcmp(PQgetvalue(r, 0, 3), "t") == 0 ? 201 : 200;
  reply_doc(rp, status, r, 0, "/v1/invoices/");
  PQclear(r);
  return status;
}

unsigned invoices_upsert(struct request *rq, struct reply *rp)
{
  const char *ext = request_param(rq, 0);
  if (!ext || !external_id_ok(ext))
    return reply_field_error(rp, "external_id", "must be 1 to 200 characters, not all blank");
  struct invoice_in in = {0};
  struct jspec spec[INVOICE_SPEC_LEN];
  struct field_errors fe = {0};
  invoice_spec(spec, &in, 0);
  /* The path names the invoice; a body may repeat its external_id. */
  for (struct jspec *s = spec; s->name; s++)
    if (strcmp(s->name, "external_id") == 0)
      s->flags = 0;
  jspec_parse(rq->body, spec, JSPEC_CREATE, "", &fe);
  check_dates(&in, &fe);
  if (in.external_id && strcmp(in.external_id, ext) != 0)
    field_error(&fe, "external_id", "must match the external_id in the path");
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  struct invoice_upsert up = {ext, request_body_text(rq), rq->who.actor};
  return db_run_tx(rq->db, upsert_tx, &up, rp);
}
