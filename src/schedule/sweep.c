/* The sweep: every rule of sweep_rules[] for one as_of, in one transaction,
 * under a cluster-wide advisory lock so that of several instances exactly
 * one sweeps at a time.  The rules are set-based statements (listed in
 * rules.c, each in rules/<name>.sql, what they share in sweep.sql); this
 * file only runs them in order and counts what they did.  A preview is the
 * same transaction rolled back, having read what it did: the rules are the
 * one definition of what a sweep does, so a preview cannot disagree with
 * the sweep.  When nothing the rules read changed since the last sweep of
 * the day (sweep_changes.sql), no rule runs; when something did, the rules
 * revisit only the customers it happened to (sweep_scope.sql). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/config.h"
#include "arc/db.h"
#include "arc/http.h"
#include "arc/metrics.h"
#include "arc/problem.h"
#include "arc/resource.h"
#include "arc/sweep.h"

static atomic_int time_travel;

void sweep_configure(const struct config *cfg) { atomic_store(&time_travel, cfg->time_travel != 0); }
int sweep_time_travel(void) { return atomic_load(&time_travel); }
void sweep_set_time_travel(int on) { atomic_store(&time_travel, on != 0); }

struct sweep_ctx {
  const char *as_of; /* NULL = now */
  const char *trigger;
  enum sweep_wait wait;
  int full;      /* every rule even when nothing changed since the last sweep */
  int preview;   /* roll back, and keep what it would have done in run */
  const char *limit; /* a preview's follow-ups shown */
  PGresult *run; /* the finished run: id, version, doc; a preview's doc */
};

/* Adds N to OBJ[REASON]; reasons with nothing to count are left out, so
 * a sweep that changed nothing shows {}. */
static void count_add(json_t *obj, const char *reason, const char *n_text)
{
  long long n = strtoll(n_text, NULL, 10);
  if (n == 0)
    return;
  json_t *was = json_object_get(obj, reason);
  json_object_set_new(obj, reason, json_integer(json_integer_value(was) + n));
}

/* Takes the sweep lock: 1, or 0 when busy and not waiting, or -1 (a
 * lock_timeout while waiting, which db_error_reply maps to 503). */
static int lock_sweep(struct db *db, enum sweep_wait wait)
{
  PGresult *r = db_exec(db, wait == SWEEP_WAIT ? "scheduler_runs_lock" : "scheduler_runs_try_lock", 0, NULL);
  if (!r)
    return -1;
  int got = wait == SWEEP_WAIT || strcmp(PQgetvalue(r, 0, 0), "t") == 0;
  PQclear(r);
  return got;
}

/* The sweep's unit of work: DB_ONE with the run in ctx->run, DB_ROLLBACK
 * when another instance sweeps, DB_HARD when a statement failed. */
static int sweep_tx(struct db *db, void *vctx)
{
  struct sweep_ctx *ctx = vctx;
  int got = lock_sweep(db, ctx->wait);
  if (got <= 0)
    return got < 0 ? DB_HARD : DB_ROLLBACK;
  PQclear(db_exec(db, "scheduler_runs_sweep_settings", 0, NULL));
  if (db->failed)
    return DB_HARD;

  const char *run_params[] = {ctx->as_of, ctx->trigger, db->actor, ctx->full || ctx->preview ? "t" : "f"};
  PGresult *run = db_exec(db, "scheduler_runs_insert", 4, run_params);
  if (!run)
    return DB_HARD;
  /* Nothing the rules read changed since the last sweep of this day
   * (arc_sweep_kind): they would leave everything as it is. */
  int unchanged = strcmp(PQgetvalue(run, 0, 2), "unchanged") == 0;
  /* Something changed for some customers only: which ones, for the rules
   * to read back (arc_sweep_scope, sweep_scope.sql). */
  if (strcmp(PQgetvalue(run, 0, 2), "incremental") == 0) {
    const char *scope_params[] = {PQgetvalue(run, 0, 0)};
    PQclear(db_exec(db, "scheduler_runs_scope", 1, scope_params));
    if (db->failed) {
      PQclear(run);
      return DB_HARD;
    }
  }
  if (ctx->preview)
    PQclear(db_exec(db, "scheduler_runs_preview_begin", 0, NULL));
  /* Every rule reads the same instant and records the same run. */
  const char *rule_params[] = {PQgetvalue(run, 0, 1), PQgetvalue(run, 0, 0)};
  json_t *created = json_object(), *closed = json_object();
  for (const struct sweep_rule *rule = sweep_rules; !unchanged && rule->statement; rule++) {
    PGresult *r = db_exec(db, rule->statement, 2, rule_params);
    if (!r)
      break;
    for (int i = 0; i < PQntuples(r); i++) {
      if (PQgetisnull(r, i, 0))
        continue;
      count_add(created, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
      count_add(closed, PQgetvalue(r, i, 0), PQgetvalue(r, i, 2));
    }
    PQclear(r);
  }
  if (db->failed) {
    json_decref(created);
    json_decref(closed);
    PQclear(run);
    return DB_HARD;
  }
  char *created_text = json_dumps(created, JSON_COMPACT | JSON_SORT_KEYS);
  char *closed_text = json_dumps(closed, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(created);
  json_decref(closed);
  const char *finish_params[] = {PQgetvalue(run, 0, 0), created_text, closed_text, ctx->limit};
  PGresult *done = ctx->preview ? db_exec(db, "scheduler_runs_preview", 4, finish_params)
                                : db_exec(db, "scheduler_runs_finish", 3, finish_params);
  free(created_text);
  free(closed_text);
  PQclear(run);
  if (!done)
    return DB_HARD;
  PQclear(ctx->run); /* a retried transaction's */
  ctx->run = done;
  return ctx->preview ? DB_ROLLBACK : DB_ONE;
}

static enum metrics_sweep_outcome outcome_of(int rc)
{
  return rc >= 0 ? METRICS_SWEEP_OK : rc == DB_ROLLBACK ? METRICS_SWEEP_SKIPPED : METRICS_SWEEP_FAILED;
}

int sweep_execute(struct db *db, const char *as_of, const char *trigger, enum sweep_wait wait, PGresult **run)
{
  struct sweep_ctx ctx = {.as_of = as_of, .trigger = trigger, .wait = wait};
  long long t0 = metrics_clock_us();
  int rc = db_tx(db, sweep_tx, &ctx);
  metrics_sweep_run(trigger, outcome_of(rc), metrics_clock_us() - t0);
  if (rc < 0)
    PQclear(ctx.run);
  *run = rc < 0 ? NULL : ctx.run;
  return rc;
}

/* The sweep as a request's unit of work: 201 and the run, or the problem. */
static unsigned sweep_reply_tx(struct db *db, void *vctx, struct reply *rp)
{
  struct sweep_ctx *ctx = vctx;
  int rc = sweep_tx(db, ctx);
  if (rc == DB_ROLLBACK)
    return reply_problem(rp, PROBLEM_CONFLICT, "another sweep is running");
  if (rc < 0)
    return db_error_reply(db, rp);
  reply_doc(rp, 201, ctx->run, 0, "/v1/scheduler/runs/");
  PQclear(ctx->run);
  ctx->run = NULL;
  return 201;
}

unsigned sweep_run(struct db *db, const char *as_of, const char *trigger, enum sweep_wait wait, int full,
                   struct reply *rp)
{
  struct sweep_ctx ctx = {.as_of = as_of, .trigger = trigger, .wait = wait, .full = full};
  long long t0 = metrics_clock_us();
  unsigned status = db_run_tx(db, sweep_reply_tx, &ctx, rp);
  metrics_sweep_run(trigger, status == 201 ? METRICS_SWEEP_OK : status == 409 ? METRICS_SWEEP_SKIPPED : METRICS_SWEEP_FAILED,
                    metrics_clock_us() - t0);
  return status;
}

/* Not db_run_tx: it commits what answers 2xx, and a preview stores nothing
 * (an Idempotency-Key is not kept either: a preview may be repeated). */
unsigned sweep_preview(struct db *db, const char *as_of, int limit, struct reply *rp)
{
  char limit_text[16];
  snprintf(limit_text, sizeof limit_text, "%d", limit);
  struct sweep_ctx ctx = {.as_of = as_of, .trigger = "api", .wait = SWEEP_WAIT, .preview = 1, .limit = limit_text};
  int rc = db_tx(db, sweep_tx, &ctx);
  if (rc != DB_ROLLBACK || !ctx.run) {
    PQclear(ctx.run);
    return db_error_reply(db, rp);
  }
  reply_text(rp, 200, strdup(PQgetvalue(ctx.run, 0, 0)));
  PQclear(ctx.run);
  return 200;
}
