/* The import worker: runs the jobs POST /v1/imports queued, a batch of rows
 * at a time, in one transaction per job (imports.sql says
 * how a batch is checked and applied).  A second connection commits the
 * progress and the errors as they come, so GET shows them while the job
 * runs; the job's transaction commits the rows with the final status, or
 * rolls back when mode=all_or_nothing found an error.
 *
 * Any instance's worker takes any job (the job's advisory lock says who
 * runs it), so a job interrupted by a stop or a crash is run again, from
 * its first row, by the next worker to look; after three starts it fails. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arc/db.h"
#include "arc/imports.h"
#include "arc/statements.h"
#include "arc/log.h"

#define BATCH_ROWS 5000
#define MAX_ATTEMPTS 3

struct import_worker {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stopping;
  int woken;
  unsigned poll_s;
  struct db *side; /* progress and errors */
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct import_worker *g_worker;

static int simple(struct db *db, const char *sql)
{
  PGresult *r = PQexec(db->conn, sql);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!ok && PQstatus(db->conn) != CONNECTION_OK)
    db->healthy = 0;
  return ok;
}

/* Runs a statement that returns one row; its value (column COL) is copied
 * to OUT.  0 on success. */
static int one_value(struct db *db, const char *name, int n, const char *const *params, int col, char **out)
{
  PGresult *r;
  if (db_exec_one(db, name, n, params, &r) != DB_ONE)
    return -1;
  *out = PQgetisnull(r, 0, col) ? NULL : strdup(PQgetvalue(r, 0, col));
  PQclear(r);
  return 0;
}

static int run(struct db *db, const char *name, int n, const char *const *params)
{
  PGresult *r = db_exec(db, name, n, params);
  PQclear(r);
  return r ? 0 : -1;
}

static int stopping(struct import_worker *w)
{
  pthread_mutex_lock(&w->mu);
  int s = w->stopping;
  pthread_mutex_unlock(&w->mu);
  return s;
}

struct job {
  char id[24];
  char kind[16];
  char mode[16];
  long long total;
  int attempts;
};

/* Records ERRORS (a JSON array) through the side connection; 1 when there
 * were any, 0 when none, -1 on failure. */
static int add_errors(struct db *side, const struct job *j, const char *errors)
{
  if (!errors || strcmp(errors, "[]") == 0)
    return 0;
  const char *params[] = {j->id, errors};
  return run(side, "imports_errors_add", 2, params) == 0 ? 1 : -1;
}

static int progress(struct db *side, const struct job *j, long long done, long long applied)
{
  char d[24], a[24];
  snprintf(d, sizeof d, "%lld", done);
  snprintf(a, sizeof a, "%lld", applied);
  const char *params[] = {j->id, d, a};
  return run(side, "imports_progress", 3, params);
}

static int finish(struct db *db, const struct job *j, const char *status, long long done, long long applied,
                  const char *error)
{
  char d[24], a[24];
  snprintf(d, sizeof d, "%lld", done);
  snprintf(a, sizeof a, "%lld", applied);
  const char *params[] = {j->id, status, d, a, error};
  const char *id[] = {j->id};
  return run(db, "imports_finish", 5, params) || run(db, "imports_unstage", 1, id) ? -1 : 0;
}

/* The batches of a claimed job, in the open transaction on TX.  Returns 0
 * when the job ended (committed or rolled back, its status final), -1 when
 * it was abandoned (a stop, a lost connection): it stays running and is
 * taken again. */
static int process(struct import_worker *w, struct db *tx, struct job *j)
{
  struct db *side = w->side;
  int all = strcmp(j->mode, "all_or_nothing") == 0;
  int any_error = 0;
  long long done = 0, applied = 0;
  char *errs = NULL;
  const char *dup_params[] = {j->id, j->kind};
  if (one_value(tx, "imports_duplicates", 2, dup_params, 0, &errs) != 0)
    return -1;
  int added = add_errors(side, j, errs);
  free(errs);
  if (added < 0)
    return -1;
  any_error |= added;
  for (long long from = 1; from <= j->total; from += BATCH_ROWS) {
    if (stopping(w))
      return -1;
    long long to = from + BATCH_ROWS - 1 < j->total ? from + BATCH_ROWS - 1 : j->total;
    char f[24], t[24];
    snprintf(f, sizeof f, "%lld", from);
    snprintf(t, sizeof t, "%lld", to);
    const char *params[] = {j->id, f, t};
    if (one_value(tx, "imports_check", 3, params, 0, &errs) != 0)
      return -1;
    added = add_errors(side, j, errs);
    free(errs);
    if (added < 0)
      return -1;
    any_error |= added;
    /* all_or_nothing stops applying at the first error but goes on
     * checking, so the file's every error is reported at once. */
    if (!all || !any_error) {
      PGresult *r;
      if (db_exec_one(tx, "imports_apply", 3, params, &r) != DB_ONE)
        return -1;
      applied += atoll(PQgetvalue(r, 0, 0));
      added = add_errors(side, j, PQgetvalue(r, 0, 1));
      PQclear(r);
      if (added < 0)
        return -1;
      any_error |= added;
    }
    done = to;
    if (progress(side, j, done, all && any_error ? 0 : applied) != 0)
      return -1;
  }
  if (all && any_error) {
    /* The final status first (the job's lock still held), then undo. */
    if (finish(side, j, "failed", done, 0, NULL) != 0)
      return -1;
    simple(tx, "ROLLBACK");
    return 0;
  }
  const char *status = !any_error ? "succeeded" : applied > 0 ? "partially_applied" : "failed";
  if (finish(tx, j, status, done, applied, NULL) != 0 || !simple(tx, "COMMIT")) {
    simple(tx, "ROLLBACK");
    if (!tx->healthy)
      return -1;
    finish(side, j, "failed", done, 0, "the rows could not be committed; import the file again");
  }
  return 0;
}

/* Takes one job and runs it.  1 when there was a job, 0 when none. */
static int run_one(struct import_worker *w)
{
  struct db *tx = db_thread();
  if (!db_ready(tx))
    return 0;
  if (!w->side) {
    static const struct db_stmt *const lists[] = {imports_stmts, NULL};
    w->side = db_open(lists);
    if (!w->side)
      return 0;
  }
  tx->failed = 0;
  w->side->failed = 0;
  if (!simple(tx, "BEGIN"))
    return 0;
  struct job j = {0};
  char *id = NULL;
  if (one_value(tx, "imports_claim", 0, NULL, 0, &id) != 0 || !id) {
    free(id);
    simple(tx, "ROLLBACK");
    return 0;
  }
  snprintf(j.id, sizeof j.id, "%s", id);
  free(id);
  const char *params[] = {j.id};
  PGresult *r;
  if (run(w->side, "imports_errors_clear", 1, params) != 0 ||
      db_exec_one(w->side, "imports_start", 1, params, &r) != DB_ONE) {
    simple(tx, "ROLLBACK");
    db_close(w->side);
    w->side = NULL;
    return 0;
  }
  snprintf(j.kind, sizeof j.kind, "%s", PQgetvalue(r, 0, 0));
  snprintf(j.mode, sizeof j.mode, "%s", PQgetvalue(r, 0, 1));
  j.total = atoll(PQgetvalue(r, 0, 2));
  j.attempts = atoi(PQgetvalue(r, 0, 3));
  const char *context[] = {PQgetisnull(r, 0, 4) ? NULL : PQgetvalue(r, 0, 4),
                           PQgetisnull(r, 0, 5) ? NULL : PQgetvalue(r, 0, 5)};
  int ok = run(tx, "imports_context", 2, context) == 0;
  PQclear(r);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (j.attempts > MAX_ATTEMPTS) {
    simple(tx, "ROLLBACK");
    finish(w->side, &j, "failed", 0, 0, "the job was interrupted three times; import the file again");
    return 1;
  }
  int rc = ok ? process(w, tx, &j) : -1;
  if (rc != 0) {
    simple(tx, "ROLLBACK");
    if (!w->side->healthy) {
      db_close(w->side);
      w->side = NULL;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  log_json(rc == 0 ? "info" : "warn", rc == 0 ? "imports: job done" : "imports: job interrupted",
           json_pack("{s:s, s:s, s:s, s:I, s:f}", "import_id", j.id, "kind", j.kind, "mode", j.mode, "rows",
                     (json_int_t)j.total,
                     "seconds", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9));
  return 1;
}

static void *worker_main(void *arg)
{
  struct import_worker *w = arg;
  while (!stopping(w)) {
    if (run_one(w))
      continue;
    pthread_mutex_lock(&w->mu);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += w->poll_s;
    while (!w->stopping && !w->woken && pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT)
      ;
    w->woken = 0;
    pthread_mutex_unlock(&w->mu);
  }
  db_close(w->side);
  w->side = NULL;
  db_pool_shutdown(); /* this thread's connection */
  return NULL;
}

struct import_worker *import_worker_start(const struct config *cfg)
{
  if (cfg->import_poll_s == 0)
    return NULL;
  struct import_worker *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->poll_s = cfg->import_poll_s;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&w->mu, NULL);
  if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
    log_error("imports: cannot start the worker thread");
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return NULL;
  }
  pthread_mutex_lock(&g_mu);
  g_worker = w;
  pthread_mutex_unlock(&g_mu);
  return w;
}

void import_worker_wake(void)
{
  pthread_mutex_lock(&g_mu);
  struct import_worker *w = g_worker;
  if (w) {
    pthread_mutex_lock(&w->mu);
    w->woken = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
  }
  pthread_mutex_unlock(&g_mu);
}

void import_worker_stop(struct import_worker *w)
{
  if (!w)
    return;
  pthread_mutex_lock(&g_mu);
  if (g_worker == w)
    g_worker = NULL;
  pthread_mutex_unlock(&g_mu);
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
}
