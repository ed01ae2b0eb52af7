/* /v1/escalations: the ladder sales → management → legal → agency (SPEC
 * P8).  A manager opens one at any level, accepts or cancels what the
 * sweep's policy proposes, climbs, declines a proposed climb, resolves.
 * What depends on the escalation's state (which change is allowed now,
 * one escalation per customer, default assignees, history) lives in
 * escalations.sql; this file checks shapes and which
 * fields fit together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/promises.h"
#include "arc/resource.h"

static const char *const levels[] = {"sales", "management", "legal", "agency", NULL};
static const char *const statuses[] = {"proposed", "open", "resolved", "cancelled", NULL};
/* What a PATCH may set: accept (open), or close; proposed is the policy's. */
static const char *const settable_statuses[] = {"open", "resolved", "cancelled", NULL};
static const char *const outcomes[] = {"paid",         "plan_agreed", "letter_sent", "sent_to_agency",
                                       "legal_action", "written_off", "other",       NULL};

#define TEXT_MAX 10000
#define HANDLE_MAX 200

static unsigned create_tx(struct db *db, void *ctx, struct reply *rp)
{
  const struct request *rq = ctx;
  const char *params[] = {request_body_text(rq), rq->who.actor};
  PGresult *r;
  if (db_exec_one(db, "escalations_insert", 2, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  reply_doc(rp, 201, r, 0, "/v1/escalations/");
  PQclear(r);
  return 201;
}

unsigned escalations_create(struct request *rq, struct reply *rp)
{
  struct jspec spec[] = {
      JSPEC_IDV("customer_id", JSPEC_REQUIRED, NULL),
      JSPEC_ENUMV("level", JSPEC_REQUIRED, NULL, levels),
      JSPEC_STR("reason", JSPEC_REQUIRED, NULL, TEXT_MAX),
      JSPEC_CUSTOMV("invoice_ids", 0, NULL, promises_check_invoice_ids),
      JSPEC_STR("assignee", JSPEC_NULLABLE, NULL, HANDLE_MAX),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  if (!jspec_parse(rq->body, spec, JSPEC_CREATE, "", &fe))
    return reply_validation(rp, &fe);
  return db_run_tx(rq->db, create_tx, rq, rp);
}

unsigned escalations_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit", "cursor", "customer_id", "status", "level", "assignee", NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *customer_id, *status, *level, *assignee;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_id(rq, "customer_id", &customer_id, &fe);
  query_enum(rq, "status", statuses, &status, &fe);
  query_enum(rq, "level", levels, &level, &fe);
  query_string(rq, "assignee", &assignee, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {pg.cursor, pg.limit_plus_one, customer_id, status, level, assignee};
  /* The most selective filter given has a statement of its own. */
  const char *stmt = customer_id ? "escalations_select_page_by_customer"
                     : assignee    ? "escalations_select_page_by_assignee"
                     : status      ? "escalations_select_page_by_status"
                     :               "escalations_select_page";
  PGresult *r = db_exec(rq->db, stmt, 6, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned escalations_get(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "escalation");
  if (!id)
    return rp->status;
  const char *params[] = {id};
  return reply_read_one(rq, rp, "escalations_select_by_id", 1, params, "escalation", id);
}

/* The PATCH fields, in the order of the spec below. */
enum { P_STATUS, P_LEVEL, P_PROPOSED_LEVEL, P_ASSIGNEE, P_OUTCOME, P_OUTCOME_NOTES };

/* Which fields fit the change asked for, whatever the escalation's state:
 * an outcome only (and always) with resolved, notes only when closing,
 * no level or assignee on a closing escalation, proposed_level only null
 * and only as a change of its own.  Only fields that were themselves valid
 * reach the checks that need their values. */
static void check_fit(const struct jspec *spec, const char *status, struct field_errors *fe)
{
  if (spec[P_PROPOSED_LEVEL].present && !spec[P_PROPOSED_LEVEL].is_null)
    field_error(fe, "proposed_level",
                "only null is accepted: it declines the proposed climb (to climb, send level)");
  else if (spec[P_PROPOSED_LEVEL].present && (spec[P_STATUS].present || spec[P_LEVEL].present))
    field_error(fe, "proposed_level", "declining a proposed climb is a change of its own: send it without "
                                      "status and level");
  if (spec[P_STATUS].present && !status)
    return; /* already reported; the rest would only echo it */
  int resolved = status && strcmp(status, "resolved") == 0;
  int closing = resolved || (status && strcmp(status, "cancelled") == 0);
  if (resolved && !spec[P_OUTCOME].present)
    field_error(fe, "outcome", "is required when status is resolved");
  if (!resolved && spec[P_OUTCOME].present)
    field_error(fe, "outcome", "only fits status resolved");
  if (!closing && spec[P_OUTCOME_NOTES].present)
    field_error(fe, "outcome_notes", "is written when the escalation is resolved or cancelled: send it with status");
  if (closing && spec[P_LEVEL].present)
    field_error(fe, "level", "does not fit status %s: an escalation closes at its level", status);
  if (closing && spec[P_ASSIGNEE].present)
    field_error(fe, "assignee", "does not fit status %s: a closed escalation is nobody's work", status);
}

struct escalation_patch {
  const struct request *rq;
  const char *id;
};

static unsigned update_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct escalation_patch *pt = ctx;
  const char *lock_params[] = {pt->id};
  PGresult *r;
  enum db_status st = db_exec_one(db, "escalations_lock", 1, lock_params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE) {
    PQclear(r);
    return reply_not_found(rp, "escalation", pt->id);
  }
  long long version = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  if (!request_if_match_ok(pt->rq, version))
    return reply_stale(rp, "escalation", version);
  const char *params[] = {pt->id, request_body_text(pt->rq), pt->rq->who.actor};
  if (db_exec_one(db, "escalations_update", 3, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

unsigned escalations_update(struct request *rq, struct reply *rp)
{
  struct escalation_patch pt = {.rq = rq, .id = path_id(rq, rp, 0, "escalation")};
  if (!pt.id)
    return rp->status;
  const char *status = NULL;
  struct jspec spec[] = {
      [P_STATUS] = JSPEC_ENUMV("status", 0, &status, settable_statuses),
      [P_LEVEL] = JSPEC_ENUMV("level", 0, NULL, levels),
      [P_PROPOSED_LEVEL] = JSPEC_ENUMV("proposed_level", JSPEC_NULLABLE, NULL, levels),
      [P_ASSIGNEE] = JSPEC_STR("assignee", JSPEC_NULLABLE, NULL, HANDLE_MAX),
      [P_OUTCOME] = JSPEC_ENUMV("outcome", 0, NULL, outcomes),
      [P_OUTCOME_NOTES] = JSPEC_TXT("outcome_notes", JSPEC_NULLABLE, NULL, TEXT_MAX),
      /* Whose account and why are fixed once it is opened. */
      JSPEC_IDV("customer_id", JSPEC_CREATE_ONLY, NULL),
      JSPEC_STR("reason", JSPEC_CREATE_ONLY, NULL, TEXT_MAX),
      JSPEC_CUSTOMV("invoice_ids", JSPEC_CREATE_ONLY, NULL, promises_check_invoice_ids),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  jspec_parse(rq->body, spec, JSPEC_PATCH, "", &fe);
  if (!rq->body || json_is_object(rq->body))
    check_fit(spec, status, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  return db_run_tx(rq->db, update_tx, &pt, rp);
}
