/* The transaction runner: one transaction per request, retried on
 * serialization failures and deadlocks, rolled back on any error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "arc/db.h"
#include "arc/http.h"
#include "arc/idempotency.h"
#include "arc/log.h"
#include "arc/problem.h"

#define TX_ATTEMPTS 3

static int simple(struct db *db, const char *sql)
{
  PGresult *r = PQexec(db->conn, sql);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) {
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    memset(&db->err, 0, sizeof db->err);
    snprintf(db->err.sqlstate, sizeof db->err.sqlstate, "%s", st ? st : "08006");
    if (PQstatus(db->conn) != CONNECTION_OK)
      db->healthy = 0;
    db->failed = 1;
  }
  PQclear(r);
  return ok;
}

static int retryable(const struct db *db)
{
  return strcmp(db->err.sqlstate, "40001") == 0 || strcmp(db->err.sqlstate, "40P01") == 0;
}

static void backoff(int attempt)
{
  unsigned short r = 0;
  if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
    r = 0;
  long ms = 5L * (1L << attempt) + r % 20;
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

const struct db_stmt db_tx_stmts[] = {
    /* Transaction-local: events written in this transaction name the actor. */
    {"tx_set_context",
     "SELECT set_config('arc.actor', coalesce($1, ''), true), set_config('arc.request_id', coalesce($2, ''), true)"},
    {NULL, NULL},
};

unsigned db_run_tx(struct db *db, db_tx_fn fn, void *ctx, struct reply *rp)
{
  for (int attempt = 0;; attempt++) {
    if (!db_ready(db))
      return db_error_reply(db, rp);
    db->failed = 0;
    if (!simple(db, "BEGIN"))
      return db_error_reply(db, rp);
    const char *context[] = {db->actor, db->request_id};
    PGresult *r = db_exec(db, "tx_set_context", 2, context);
    int context_set = r != NULL;
    PQclear(r);
    /* A POST's Idempotency-Key is claimed first: a repeat is answered with
     * the stored response and does no work; the response is stored with
     * the work, in this transaction. */
    int replayed = 0;
    unsigned status = context_set ? idempotency_tx_claim(db, rp, &replayed) : 0;
    if (replayed) {
      simple(db, "ROLLBACK");
      return status;
    }
    if (context_set && status == 0 && !db->failed)
      status = fn(db, ctx, rp);
    if (!db->failed)
      idempotency_tx_store(db, status, rp);
    if (db->failed || status >= 400) {
      int failed = db->failed;
      struct db_error saved = db->err;
      if (db->healthy)
        simple(db, "ROLLBACK");
      db->err = saved;
      if (!failed)
        return status;
      if (retryable(db) && attempt + 1 < TX_ATTEMPTS) {
        reply_clear(rp);
        backoff(attempt);
        continue;
      }
      /* The unit of work may already have answered a specific problem. */
      if (rp->is_problem && status >= 400 && !retryable(db) && db->healthy)
        return status;
      return db_error_reply(db, rp);
    }
    if (!simple(db, "COMMIT")) {
      /* A COMMIT that failed on a live connection was rolled back; a lost
       * connection leaves the outcome unknown, so it is never retried. */
      if (db->healthy && retryable(db) && attempt + 1 < TX_ATTEMPTS) {
        reply_clear(rp);
        backoff(attempt);
        continue;
      }
      return db_error_reply(db, rp);
    }
    idempotency_tx_committed(db);
    return status;
  }
}
