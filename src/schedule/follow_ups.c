/* /v1/follow-ups: the morning worklist (SPEC P9) and what a collector does
 * with one follow-up — done, snoozed, dismissed.  The sweep makes them
 * (src/schedule/rules.c); the document, the order and the events are in
 * follow_ups.sql. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "arc/dates.h"
#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/resource.h"

static const char *const reasons[] = {"confirm_receipt", "overdue", "retry", "promise_broken", "installment_missed",
                                      "resolve_dispute", "escalation", "thank_you", "check_in", NULL};
static const char *const statuses[] = {"open", "done", "snoozed", "dismissed", NULL};
/* A PATCH acts on a follow-up; only the sweep opens one again. */
static const char *const actions[] = {"done", "snoozed", "dismissed", NULL};

#define NOTE_MAX 10000

/* The worklist cursor is the sort key of the last row shown,
 * "<amount>.<0|1>.<priority 1-9>.<YYYY-MM-DD>.<id>" (arc_worklist_cursor).
 * Clients treat it as opaque; it is checked here so that SQL never casts a
 * malformed part. */
static int digits(const char *s, size_t len, size_t max)
{
  if (len == 0 || len > max)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!isdigit((unsigned char)s[i]))
      return 0;
  return 1;
}

static int worklist_cursor_valid(const char *s)
{
  const char *part[5];
  size_t len[5];
  const char *p = s;
  for (int i = 0; i < 5; i++) {
    const char *dot = strchr(p, '.');
    if ((i < 4) != (dot != NULL))
      return 0;
    part[i] = p;
    len[i] = dot ? (size_t)(dot - p) : strlen(p);
    p = dot ? dot + 1 : p;
  }
  /* Amounts are at most 2^53 - 1; a sign is tolerated so any stored row can be paged past. */
  const char *amount = part[0];
  size_t amount_len = len[0];
  if (amount_len && *amount == '-') {
    amount++;
    amount_len--;
  }
  if (!digits(amount, amount_len, 18))
    return 0;
  if (len[1] != 1 || (part[1][0] != '0' && part[1][0] != '1'))
    return 0;
  if (len[2] != 1 || part[2][0] < '1' || part[2][0] > '9')
    return 0;
  char date[11];
  if (len[3] != 10)
    return 0;
  memcpy(date, part[3], 10);
  date[10] = '\0';
  if (!date_is_valid(date))
    return 0;
  return jspec_is_id(part[4]);
}

unsigned follow_ups_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit", "cursor", "due_on", "assignee", "reason", "customer_id", "status",
                                      NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *due_on, *assignee, *reason, *customer_id, *status;
  query_known(rq, known, &fe);
  query_limit(rq, &pg, &fe);
  const char *cursor = request_query(rq, "cursor");
  if (cursor && !worklist_cursor_valid(cursor)) {
    field_error(&fe, "cursor", "must be a next_cursor value from a previous page");
    cursor = NULL;
  }
  query_date(rq, "due_on", &due_on, &fe);
  query_string(rq, "assignee", &assignee, &fe);
  /* assignee=me: a collector's own worklist, by the key's actor. */
  if (assignee && strcmp(assignee, "me") == 0) {
    if (principal_has_actor(&rq->who))
      assignee = rq->who.actor;
    else
      field_error(&fe, "assignee",
                  "is me, and this API key has no actor to stand for: name the assignee, or use a key made "
                  "with the collector's handle as its actor");
  }
  query_enum(rq, "reason", reasons, &reason, &fe);
  query_id(rq, "customer_id", &customer_id, &fe);
  query_enum(rq, "status", statuses, &status, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {cursor, pg.limit_plus_one, due_on, assignee, reason, customer_id, status};
  PGresult *r = NULL;
  /* Open follow-ups of everyone, a collector or a reason: the order kept on
   * the rows (follow_ups_repo.c), when it is kept for the day listed. */
  if (!customer_id && (!status || strcmp(status, "open") == 0)) {
    const char *stored[] = {cursor, pg.limit_plus_one, due_on, assignee ? assignee : reason, reason};
    r = assignee  ? db_exec(rq->db, "follow_ups_select_worklist_assignee", 5, stored)
        : reason  ? db_exec(rq->db, "follow_ups_select_worklist_reason", 4, stored)
                  : db_exec(rq->db, "follow_ups_select_worklist", 3, stored);
    if (!r)
      return db_error_reply(rq->db, rp);
    /* One row of NULLs: not kept for that day. */
    if (PQntuples(r) == 1 && PQgetisnull(r, 0, 0)) {
      PQclear(r);
      r = NULL;
    }
  }
  if (!r)
    r = db_exec(rq->db, customer_id ? "follow_ups_select_page_customer" : "follow_ups_select_page", 7, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned follow_ups_get(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "follow-up");
  if (!id)
    return rp->status;
  const char *params[] = {id};
  return reply_read_one(rq, rp, "follow_ups_select_by_id", 1, params, "follow-up", id);
}

struct follow_up_patch {
  const struct request *rq;
  const char *id;
};

static unsigned update_tx(struct db *db, void *ctx, struct reply *rp)
{
  struct follow_up_patch *pt = ctx;
  const char *lock_params[] = {pt->id};
  PGresult *r;
  enum db_status st = db_exec_one(db, "follow_ups_lock", 1, lock_params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  if (st == DB_NONE) {
    PQclear(r);
    return reply_not_found(rp, "follow-up", pt->id);
  }
  long long version = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  if (!request_if_match_ok(pt->rq, version))
    return reply_stale(rp, "follow-up", version);
  const char *params[] = {pt->id, request_body_text(pt->rq), pt->rq->who.actor};
  if (db_exec_one(db, "follow_ups_update", 3, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  reply_doc(rp, 200, r, 0, NULL);
  PQclear(r);
  return 200;
}

enum { P_STATUS, P_SNOOZED_UNTIL, P_NOTE };

/* Which fields fit the action: snoozed_until exactly with snoozed, a note
 * (why) with every dismissal.  Only a valid status gets here. */
static void check_fit(const struct jspec *spec, const char *status, struct field_errors *fe)
{
  int snoozed = strcmp(status, "snoozed") == 0;
  if (snoozed && !spec[P_SNOOZED_UNTIL].present)
    field_error(fe, "snoozed_until", "is required when status is snoozed");
  if (!snoozed && spec[P_SNOOZED_UNTIL].present)
    field_error(fe, "snoozed_until", "only fits status snoozed");
  if (strcmp(status, "dismissed") == 0 && !spec[P_NOTE].present)
    field_error(fe, "note", "is required when status is dismissed: say why the follow-up is not needed");
}

unsigned follow_ups_update(struct request *rq, struct reply *rp)
{
  struct follow_up_patch pt = {.rq = rq, .id = path_id(rq, rp, 0, "follow-up")};
  if (!pt.id)
    return rp->status;
  const char *status = NULL;
  struct jspec spec[] = {
      [P_STATUS] = JSPEC_ENUMV("status", JSPEC_REQUIRED, &status, actions),
      [P_SNOOZED_UNTIL] = JSPEC_DATEV("snoozed_until", 0, NULL),
      [P_NOTE] = JSPEC_STR("note", 0, NULL, NOTE_MAX),
      JSPEC_ENDV,
  };
  struct field_errors fe = {0};
  /* Every PATCH is an action, so status is required as on a create. */
  jspec_parse(rq->body, spec, JSPEC_CREATE, "", &fe);
  if (status)
    check_fit(spec, status, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  return db_run_tx(rq->db, update_tx, &pt, rp);
}
