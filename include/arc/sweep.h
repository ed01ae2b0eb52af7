/* The scheduler's sweep: every rule of the playbook, evaluated for one
 * instant (as_of) with set-based SQL, in one transaction. */
#ifndef ARC_SWEEP_H
#define ARC_SWEEP_H

#include <jansson.h>

#include "arc/db.h"

struct config;
struct reply;

/* One rule: a statement taking ($1 as_of timestamptz, $2 run id) and
 * returning rows (reason text, created integer, closed integer). */
struct sweep_rule {
  const char *name;      /* for logs and tests */
  const char *statement; /* name of a prepared statement in sweep_stmts */
};

/* The rules, in the order the sweep runs them: the one list is in
 * src/schedule/rules.c, each rule's SQL in src/schedule/rules/<name>.sql. */
extern const struct sweep_rule sweep_rules[];

enum sweep_wait { SWEEP_SKIP_IF_BUSY, SWEEP_WAIT };

/* Runs a sweep for AS_OF (RFC 3339; NULL = now) under the cluster-wide
 * sweep lock, in one transaction (db_tx).  When nothing the rules read
 * changed since the last sweep of the same business day, no rule runs
 * (the run's kind is "unchanged"; src/schedule/sweep_changes.sql); when
 * something did, they revisit only the customers it touched ("incremental";
 * src/schedule/sweep_scope.sql).  TRIGGER is "scheduler" or "api".
 * Returns DB_ONE with the run's row (id, version, doc) in *RUN, for the
 * caller to clear; DB_ROLLBACK, changing nothing, when another instance
 * holds the lock and WAIT is SWEEP_SKIP_IF_BUSY; < 0 when it failed
 * (db->err says why). */
int sweep_execute(struct db *db, const char *as_of, const char *trigger, enum sweep_wait wait, PGresult **run);

/* The same sweep as a request's unit of work (db_run_tx: a POST's
 * Idempotency-Key): fills RP with 201 and the run's document, 409 when
 * busy and not waiting, or the problem.  FULL: every rule, even when
 * nothing changed. */
unsigned sweep_run(struct db *db, const char *as_of, const char *trigger, enum sweep_wait wait, int full,
                   struct reply *rp);

/* A preview: the sweep for AS_OF (NULL = now) run and rolled back, under
 * the same lock, so that it writes nothing (not even a run).  Fills RP
 * with 200 and what it would have done: counts by reason of what it
 * would create, close and move, escalation proposals by level, and the
 * first LIMIT follow-ups it would create, in worklist order. */
unsigned sweep_preview(struct db *db, const char *as_of, int limit, struct reply *rp);

/* Whether a sweep for another instant than now may write (ARC_TIME_TRAVEL:
 * test and demo databases), from CFG; read by POST /v1/scheduler/runs. */
void sweep_configure(const struct config *cfg);
int sweep_time_travel(void);
void sweep_set_time_travel(int on); /* tests */

/* The scheduler thread: sweeps every interval with as_of = now. */
struct scheduler;
struct scheduler *scheduler_start(const struct config *cfg);
/* Stops after the sweep in progress, if any, has finished. */
void scheduler_stop(struct scheduler *s);

#endif
