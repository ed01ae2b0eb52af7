/* The scheduler thread of arcollectd serve: a sweep at start, then one
 * every ARC_SCHEDULER_INTERVAL_S, each for as_of = now.  Several instances
 * may run against one database; the sweep's try-lock makes all but one
 * skip a tick, so the thread never waits on another instance. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arc/config.h"
#include "arc/db.h"
#include "arc/log.h"
#include "arc/sweep.h"

struct scheduler {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* on CLOCK_MONOTONIC: wall-clock jumps do not skew the interval */
  int stopping;
  unsigned interval_s;
};

static double elapsed_s(const struct timespec *from)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - from->tv_sec) + (double)(now.tv_nsec - from->tv_nsec) / 1e9;
}

/* One sweep and its log line: the run on success, a skip when another
 * instance holds the lock, the failure otherwise. */
static void sweep_once(void)
{
  struct db *db = db_thread();
  if (!db_ready(db)) {
    log_json("warn", "scheduler: database unreachable; sweep skipped", NULL);
    return;
  }
  db->actor = "scheduler";
  db->request_id = NULL;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  PGresult *run;
  int rc = sweep_execute(db, NULL, "scheduler", SWEEP_SKIP_IF_BUSY, &run);
  double secs = elapsed_s(&t0);
  if (rc >= 0) {
    json_t *doc = json_loads(PQgetvalue(run, 0, 2), 0, NULL);
    log_json("info", "scheduler: sweep done",
             json_pack("{s:O?, s:O?, s:O?, s:O?, s:f}", "run_id", json_object_get(doc, "id"), "as_of",
                       json_object_get(doc, "as_of"), "created", json_object_get(doc, "created"), "closed",
                       json_object_get(doc, "closed"), "seconds", secs));
    json_decref(doc);
    PQclear(run);
  } else if (rc == DB_ROLLBACK) {
    log_json("info", "scheduler: another instance is sweeping; skipped", json_pack("{s:f}", "seconds", secs));
  } else {
    log_json("error", "scheduler: sweep failed",
             json_pack("{s:s, s:s, s:f}", "sqlstate", db->err.sqlstate, "error", db->err.message, "seconds", secs));
  }
}

static void *scheduler_main(void *arg)
{
  struct scheduler *s = arg;
  pthread_mutex_lock(&s->mu);
  while (!s->stopping) {
    pthread_mutex_unlock(&s->mu);
    sweep_once();
    pthread_mutex_lock(&s->mu);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += s->interval_s;
    while (!s->stopping && pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT)
      ;
  }
  pthread_mutex_unlock(&s->mu);
  db_pool_shutdown(); /* this thread's connection */
  return NULL;
}

struct scheduler *scheduler_start(const struct config *cfg)
{
  if (cfg->scheduler_interval_s == 0)
    return NULL;
  struct scheduler *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->interval_s = cfg->scheduler_interval_s;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&s->mu, NULL);
  if (pthread_create(&s->thread, NULL, scheduler_main, s) != 0) {
    log_error("scheduler: cannot start its thread");
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
  }
  log_json("info", "scheduler started", json_pack("{s:i}", "interval_s", (int)s->interval_s));
  return s;
}

void scheduler_stop(struct scheduler *s)
{
  if (!s)
    return;
  pthread_mutex_lock(&s->mu);
  s->stopping = 1;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
  log_info("scheduler stopped");
}
