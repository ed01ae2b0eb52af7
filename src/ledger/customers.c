/* /v1/customers: the accounts a collections team works.  Balances in the
 * doc are read-only sums of the ledger, computed by arc_customer_json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/resource.h"

static const char *const kinds[] = {"commercial", "consumer", NULL};
static const char *const weekdays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};

/* Every writable field.  POST, PATCH and PUT validate with this one list;
 * only the mode (and for PUT the external_id rule) differs. */
static const struct jspec customer_fields[] = {
    JSPEC_STR("external_id", JSPEC_NULLABLE, NULL, 200),
    JSPEC_STR("name", JSPEC_REQUIRED, NULL, 200),
    JSPEC_ENUMV("kind", 0, NULL, kinds),
    JSPEC_EMAILV("email", JSPEC_NULLABLE, NULL),
    JSPEC_STR("phone", JSPEC_NULLABLE, NULL, 40),
    JSPEC_STR("timezone", 0, NULL, 64),
    JSPEC_SETV("preferred_contact_days", JSPEC_NULLABLE, NULL, weekdays),
    JSPEC_INTV("cadence_days", JSPEC_NULLABLE, NULL, 1, 365),
    JSPEC_INTV("check_in_days", JSPEC_NULLABLE, NULL, 1, 3650),
    JSPEC_STR("collector", JSPEC_NULLABLE, NULL, 200),
    JSPEC_STR("salesperson", JSPEC_NULLABLE, NULL, 200),
    JSPEC_BOOLV("cease_communication", 0, NULL),
    JSPEC_TXT("notes", JSPEC_NULLABLE, NULL, 10000),
    JSPEC_ENDV,
};

#define CUSTOMER_FIELDS (sizeof customer_fields / sizeof customer_fields[0])
#define EXTERNAL_ID_MAX 200

static int has_error(const struct field_errors *fe, const char *field)
{
  size_t i;
  const json_t *e;
  json_array_foreach(fe->list, i, e) {
    if (strcmp(json_string_value(json_object_get(e, "field")), field) == 0)
      return 1;
  }
  return 0;
}

/* Validates a customer body in MODE, collecting every bad field in FE; the
 * time zone is looked up in the database's zone list so that it is named
 * along with the rest.  Returns 0, or a reply status when the lookup failed. */
static unsigned customer_validate(struct request *rq, enum jspec_mode mode, struct field_errors *fe,
                                  struct reply *rp)
{
  struct jspec spec[CUSTOMER_FIELDS];
  memcpy(spec, customer_fields, sizeof spec);
  jspec_parse(rq->body, spec, mode, "", fe);
  const json_t *days = json_object_get(rq->body, "preferred_contact_days");
  if (json_is_array(days) && json_array_size(days) == 0)
    field_error(fe, "preferred_contact_days", "must name at least one day; null means the default for the kind");
  const char *tz = json_string_value(json_object_get(rq->body, "timezone"));
  if (tz && !has_error(fe, "timezone")) {
    const char *params[] = {tz};
    PGresult *r = db_exec(rq->db, "customers_timezone_known", 1, params);
    if (!r)
      return db_error_reply(rq->db, rp);
    if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
      field_error(fe, "timezone", "must be an IANA time zone name such as America/New_York or UTC");
    PQclear(r);
  }
  return 0;
}

static unsigned reply_external_id_taken(struct reply *rp)
{
  reply_problem(rp, PROBLEM_DUPLICATE, "another customer already has this external_id");
  json_object_set_new(rp->json, "errors",
                      json_pack("[{s:s, s:s}]", "field", "external_id", "message", "is already taken"));
  return rp->status;
}

/* One write: the request and, for PATCH and PUT, the customer it names. */
struct customer_write {
  struct request *rq;
  const char *id;          /* PATCH */
  const char *external_id; /* POST (from the body, may be NULL) and PUT (from the path) */
};

/* Inserts the customer: 201 with its doc, 0 when the external_id is
 * already taken (nothing inserted), or an error status. */
static unsigned insert_new(struct db *db, const struct customer_write *w, struct reply *rp)
{
  const char *params[] = {request_body_text(w->rq), w->external_id};
  PGresult *r;
  enum db_status st = db_exec_one(db, "customers_insert", 2, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE)
    return 0;
  reply_doc(rp, 201, r, 0, "/v1/customers/");
  PQclear(r);
  return 201;
}

/* Updates the locked row LOCKED (id, version) when If-Match allows. */
static unsigned update_locked(struct db *db, struct request *rq, PGresult *locked, struct reply *rp)
{
  char id[32];
  snprintf(id, sizeof id, "%s", PQgetvalue(locked, 0, 0));
  long long version = atoll(PQgetvalue(locked, 0, 1));
  PQclear(locked);
  if (!request_if_match_ok(rq, version))
    return reply_stale(rp, "customer", version);
  const char *params[] = {id, request_body_text(rq)};
  PGresult *r;
  enum db_status st = db_exec_one(db, "customers_update", 2, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE)
    return reply_not_found(rp, "customer", id);
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

static unsigned create_tx(struct db *db, void *ctx, struct reply *rp)
{
  unsigned status = insert_new(db, ctx, rp);
  return status ? status : reply_external_id_taken(rp);
}

unsigned customers_create(struct request *rq, struct reply *rp)
{
  struct field_errors fe = {0};
  unsigned status = customer_validate(rq, JSPEC_CREATE, &fe, rp);
  if (status) {
    field_errors_clear(&fe);
    return status;
  }
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  struct customer_write w = {
      .rq = rq, .external_id = json_string_value(json_object_get(rq->body, "external_id"))};
  return db_run_tx(rq->db, create_tx, &w, rp);
}

unsigned customers_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit",       "cursor", "external_id",   "kind",          "collector",
                                      "salesperson", "q",      "overdue_as_of", "updated_since", NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *external_id, *kind, *collector, *salesperson, *q, *overdue_as_of, *updated_since;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_string(rq, "external_id", &external_id, &fe);
  query_enum(rq, "kind", kinds, &kind, &fe);
  query_string(rq, "collector", &collector, &fe);
  query_string(rq, "salesperson", &salesperson, &fe);
  query_string(rq, "q", &q, &fe);
  query_date(rq, "overdue_as_of", &overdue_as_of, &fe);
  query_instant(rq, "updated_since", &updated_since, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {pg.cursor, pg.limit_plus_one, external_id, kind, collector,
                          salesperson, q, overdue_as_of, updated_since};
  /* The most selective filter given has a statement of its own. */
  const char *stmt = external_id ? "customers_select_page_by_external_id"
                     : collector   ? "customers_select_page_by_collector"
                     : salesperson ? "customers_select_page_by_salesperson"
                     :               "customers_select_page";
  PGresult *r = db_exec(rq->db, stmt, 9, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned customers_get(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "customer");
  if (!id)
    return rp->status;
  const char *params[] = {id};
  return reply_read_one(rq, rp, "customers_select_by_id", 1, params, "customer", id);
}

static unsigned update_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct customer_write *w = ctx;
  const char *params[] = {w->id};
  PGresult *r;
  enum db_status st = db_exec_one(db, "customers_lock", 1, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE)
    return reply_not_found(rp, "customer", w->id);
  return update_locked(db, w->rq, r, rp);
}

unsigned customers_update(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "customer");
  if (!id)
    return rp->status;
  struct field_errors fe = {0};
  unsigned status = customer_validate(rq, JSPEC_PATCH, &fe, rp);
  if (status) {
    field_errors_clear(&fe);
    return status;
  }
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  struct customer_write w = {.rq = rq, .id = id};
  return db_run_tx(rq->db, update_tx, &w, rp);
}

/* Finds the customer by external_id and updates it, or creates it.  A
 * concurrent upsert may create it between the lookup and the insert; the
 * insert then adds nothing and the second lookup finds that row. */
static unsigned upsert_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct customer_write *w = ctx;
  for (int attempt = 0; attempt < 2; attempt++) {
    const char *params[] = {w->external_id};
    PGresult *r;
    enum db_status st = db_exec_one(db, "customers_lock_by_external_id", 1, params, &r);
    if (st < 0)
      return db_error_reply(db, rp);
    if (st == DB_ONE)
      return update_locked(db, w->rq, r, rp);
    /* If-Match names a current representation, and there is none. */
    if (w->rq->if_match)
      return reply_problem(rp, PROBLEM_PRECONDITION_FAILED, "no customer has this external_id yet");
    unsigned status = insert_new(db, w, rp);
    if (status)
      return status;
  }
  return reply_problem(rp, PROBLEM_CONFLICT, "the customer is being changed concurrently; retry");
}

unsigned customers_upsert(struct request *rq, struct reply *rp)
{
  const char *ext = request_param(rq, 0);
  struct field_errors fe = {0};
  const char *p = ext;
  while (p && (*p == ' ' || *p == '\t'))
    p++;
  /* The router has checked it is UTF-8. */
  if (!ext || !*p || jspec_utf8_len(ext) > EXTERNAL_ID_MAX)
    field_error(&fe, "external_id", "the path must end in an external_id of 1 to %d characters",
                EXTERNAL_ID_MAX);
  unsigned status = customer_validate(rq, JSPEC_CREATE, &fe, rp);
  if (status) {
    field_errors_clear(&fe);
    return status;
  }
  /* The path names the customer; a body may repeat it but not change it. */
  const json_t *body_ext = json_object_get(rq->body, "external_id");
  if (body_ext && !has_error(&fe, "external_id") &&
      (!json_is_string(body_ext) || strcmp(json_string_value(body_ext), ext) != 0))
    field_error(&fe, "external_id", "must equal the external_id in the path, or be left out");
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  struct customer_write w = {.rq = rq, .external_id = ext};
  return db_run_tx(rq->db, upsert_tx, &w, rp);
}
