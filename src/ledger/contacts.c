/* /v1/customers/{id}/contacts: the people a collector talks to.  At most
 * one contact of a customer is primary; naming a new one moves the flag. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/resource.h"

static const char *const contact_roles[] = {"accounts_payable", "billing", "owner", "purchasing", "other", NULL};

/* Every writable field; POST and PATCH differ only in the mode. */
static const struct jspec contact_fields[] = {
    JSPEC_STR("name", JSPEC_REQUIRED, NULL, 200),
    JSPEC_ENUMV("role", 0, NULL, contact_roles),
    JSPEC_EMAILV("email", JSPEC_NULLABLE, NULL),
    JSPEC_STR("phone", JSPEC_NULLABLE, NULL, 40),
    JSPEC_BOOLV("is_primary", 0, NULL),
    JSPEC_ENDV,
};

#define CONTACT_FIELDS (sizeof contact_fields / sizeof contact_fields[0])

static int contact_valid(const struct request *rq, enum jspec_mode mode, struct field_errors *fe)
{
  struct jspec spec[CONTACT_FIELDS];
  memcpy(spec, contact_fields, sizeof spec);
  return jspec_parse(rq->body, spec, mode, "", fe);
}

struct contact_write {
  struct request *rq;
  const char *customer_id;
  const char *id; /* PATCH */
};

/* Locks the customer row: contact writes of one customer take turns, and a
 * missing customer is a 404.  Returns 0 when locked, else the reply status. */
static unsigned lock_customer(struct db *db, const char *customer_id, struct reply *rp)
{
  const char *params[] = {customer_id};
  PGresult *r;
  enum db_status st = db_exec_one(db, "contacts_lock_customer", 1, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE)
    return reply_not_found(rp, "customer", customer_id);
  PQclear(r);
  return 0;
}

static unsigned create_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct contact_write *w = ctx;
  unsigned status = lock_customer(db, w->customer_id, rp);
  if (status)
    return status;
  const char *params[] = {w->customer_id, request_body_text(w->rq)};
  PGresult *r;
  enum db_status st = db_exec_one(db, "contacts_insert", 2, params, &r);
  if (st != DB_ONE)
    return db_error_reply(db, rp);
  char location[96];
  snprintf(location, sizeof location, "/v1/customers/%s/contacts/", w->customer_id);
  reply_doc(rp, 201, r, 0, location);
  PQclear(r);
  return 201;
}

unsigned contacts_create(struct request *rq, struct reply *rp)
{
  const char *customer_id = path_id(rq, rp, 0, "customer");
  if (!customer_id)
    return rp->status;
  struct field_errors fe = {0};
  if (!contact_valid(rq, JSPEC_CREATE, &fe))
    return reply_validation(rp, &fe);
  struct contact_write w = {.rq = rq, .customer_id = customer_id};
  return db_run_tx(rq->db, create_tx, &w, rp);
}

unsigned contacts_list(struct request *rq, struct reply *rp)
{
  const char *customer_id = path_id(rq, rp, 0, "customer");
  if (!customer_id)
    return rp->status;
  static const char *const known[] = {"limit", "cursor", NULL};
  struct field_errors fe = {0};
  struct page pg;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {customer_id, pg.cursor, pg.limit_plus_one};
  PGresult *r = db_exec(rq->db, "contacts_select_page", 3, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  if (PQntuples(r) == 0) {
    /* An empty page, or no such customer? */
    PGresult *c;
    enum db_status st = db_exec_one(rq->db, "contacts_customer_exists", 1, params, &c);
    if (st != DB_ONE) {
      PQclear(r);
      return st < 0 ? db_error_reply(rq->db, rp) : reply_not_found(rp, "customer", customer_id);
    }
    PQclear(c);
  }
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned contacts_get(struct request *rq, struct reply *rp)
{
  const char *customer_id = path_id(rq, rp, 0, "customer");
  if (!customer_id)
    return rp->status;
  const char *id = path_id(rq, rp, 1, "contact");
  if (!id)
    return rp->status;
  const char *params[] = {customer_id, id};
  PGresult *r;
  enum db_status st = db_exec_one(rq->db, "contacts_select_by_id", 2, params, &r);
  if (st < 0)
    return db_error_reply(rq->db, rp);
  if (st == DB_NONE)
    return reply_problemf(rp, PROBLEM_NOT_FOUND, "customer %s has no contact with id %s", customer_id, id);
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

static unsigned update_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct contact_write *w = ctx;
  unsigned status = lock_customer(db, w->customer_id, rp);
  if (status)
    return status;
  const char *params[] = {w->customer_id, w->id, request_body_text(w->rq)};
  PGresult *r;
  enum db_status st = db_exec_one(db, "contacts_lock", 2, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE)
    return reply_problemf(rp, PROBLEM_NOT_FOUND, "customer %s has no contact with id %s", w->customer_id, w->id);
  long long version = atoll(PQgetvalue(r, 0, 1));
  PQclear(r);
  if (!request_if_match_ok(w->rq, version))
    return reply_stale(rp, "contact", version);
  st = db_exec_one(db, "contacts_update", 3, params, &r);
  if (st != DB_ONE)
    return db_error_reply(db, rp);
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

unsigned contacts_update(struct request *rq, struct reply *rp)
{
  const char *customer_id = path_id(rq, rp, 0, "customer");
  if (!customer_id)
    return rp->status;
  const char *id = path_id(rq, rp, 1, "contact");
  if (!id)
    return rp->status;
  struct field_errors fe = {0};
  if (!contact_valid(rq, JSPEC_PATCH, &fe))
    return reply_validation(rp, &fe);
  struct contact_write w = {.rq = rq, .customer_id = customer_id, .id = id};
  return db_run_tx(rq->db, update_tx, &w, rp);
}
