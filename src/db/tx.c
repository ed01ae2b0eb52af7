/* The transaction runners: db_tx for any unit of work (the background
 * threads), db_run_tx for a request's (a reply, the Idempotency-Key) built
 * on it.  Both retry serialization failures and deadlocks and roll back on
 * any error. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "arc/db.h"
#include "arc/http.h"
#include "arc/idempotency.h"
#include "arc/log.h"
#include "arc/problem.h"
#include "arc/statements.h"

#define TX_ATTEMPTS 3

/* A statement of the transaction failed: its SQLSTATE (R's, or "08006"
 * when there is no result to tell), and the connection marked for a
 * reconnect when it went. */
static void record_failure(struct db *db, const PGresult *r)
{
  const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  memset(&db->err, 0, sizeof db->err);
  snprintf(db->err.sqlstate, sizeof db->err.sqlstate, "%s", st ? st : "08006");
  if (PQstatus(db->conn) != CONNECTION_OK)
    db->healthy = 0;
  db->failed = 1;
}

static int simple(struct db *db, const char *sql)
{
  PGresult *r = PQexec(db->conn, sql);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok)
    record_failure(db, r);
  PQclear(r);
  return ok;
}

static int retryable(const struct db *db)
{
  return strcmp(db->err.sqlstate, "40001") == 0 || strcmp(db->err.sqlstate, "40P01") == 0;
}

/* A failure's status: DB_SOFT for a conflict worth trying again later. */
static int failure(const struct db *db)
{
  return strncmp(db->err.sqlstate, "40", 2) == 0 ? DB_SOFT : DB_HARD;
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

/* BEGIN and the transaction's context (tx_set_context) in one round trip:
 * both sent at once in libpq's pipeline mode, then both answers read.  A
 * write paid a round trip for each before (four in all with its statement
 * and COMMIT). */
static int begin(struct db *db)
{
  db_batch_wait(db);
  PGconn *c = db->conn;
  const char *context[] = {db->actor, db->request_id};
  if (!PQenterPipelineMode(c) || !PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) ||
      !PQsendQueryPrepared(c, "tx_set_context", 2, context, NULL, NULL, 0) || !PQpipelineSync(c)) {
    record_failure(db, NULL);
  } else {
    /* Each query's results end with a NULL; the sync's marker ends all. */
    for (int ends = 0;;) {
      PGresult *r = PQgetResult(c);
      if (!r) {
        if (++ends > 2 || PQstatus(c) != CONNECTION_OK) {
          if (!db->failed)
            record_failure(db, NULL);
          break;
        }
        continue;
      }
      ExecStatusType st = PQresultStatus(r);
      if (st == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        break;
      }
      /* The first failure is the one to report (the second query is only
       * aborted after it). */
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !db->failed)
        record_failure(db, r);
      PQclear(r);
    }
  }
  if (!PQexitPipelineMode(c) || PQstatus(c) != CONNECTION_OK) {
    if (!db->failed)
      record_failure(db, NULL);
    db->healthy = 0;
  }
  return !db->failed;
}

static atomic_int lose_next_commit;

void db_fault_lose_next_commit(void) { atomic_store(&lose_next_commit, 1); }

/* COMMIT, or with the fault armed, COMMIT sent and the connection cut
 * before the answer comes (the server still receives and runs it). */
static int commit(struct db *db)
{
  if (atomic_exchange(&lose_next_commit, 0) && PQsendQuery(db->conn, "COMMIT") && PQflush(db->conn) == 0) {
    shutdown(PQsocket(db->conn), SHUT_RDWR);
    PGresult *r;
    while ((r = PQgetResult(db->conn)))
      PQclear(r);
    record_failure(db, NULL);
    db->healthy = 0;
    return 0;
  }
  return simple(db, "COMMIT");
}

int db_tx(struct db *db, db_unit_fn fn, void *ctx)
{
  for (int attempt = 0;; attempt++) {
    if (!db_ready(db))
      return DB_HARD;
    db->failed = 0;
    db->commit_unknown = 0;
    if (!begin(db)) {
      /* A BEGIN that went through is rolled back (as after any failure). */
      if (db->healthy)
        simple(db, "ROLLBACK");
      return failure(db);
    }
    int rc = fn(db, ctx);
    if (db->failed || rc < 0) {
      int failed = db->failed;
      struct db_error saved = db->err;
      if (db->healthy)
        simple(db, "ROLLBACK");
      db->err = saved;
      if (!failed)
        return rc;
      if (retryable(db) && attempt + 1 < TX_ATTEMPTS) {
        backoff(attempt);
        continue;
      }
      return failure(db);
    }
    if (!commit(db)) {
      /* A COMMIT that failed on a live connection was rolled back; a lost
       * connection leaves the outcome unknown, so it is never retried. */
      if (db->healthy && retryable(db) && attempt + 1 < TX_ATTEMPTS) {
        backoff(attempt);
        continue;
      }
      db->commit_unknown = !db->healthy;
      return failure(db);
    }
    return rc;
  }
}

/* db_run_tx's unit of work around the handler's: the Idempotency-Key's
 * claim and store, and the reply of the attempt. */
struct reply_unit {
  db_tx_fn fn;
  void *ctx;
  struct reply *rp;
  int attempts;
  unsigned status;
  int replayed;
  int answered; /* a failed statement that the unit answered with its own problem */
};

static int reply_unit_run(struct db *db, void *vu)
{
  struct reply_unit *u = vu;
  if (u->attempts++ > 0)
    reply_clear(u->rp); /* a retry answers afresh */
  u->replayed = 0;
  /* A POST's Idempotency-Key is claimed first: a repeat is answered with
   * the stored response and does no work; the response is stored with
   * the work, in this transaction. */
  unsigned status = idempotency_tx_claim(db, u->rp, &u->replayed);
  if (u->replayed) {
    u->status = status;
    return DB_ROLLBACK;
  }
  if (status == 0 && !db->failed)
    status = u->fn(db, u->ctx, u->rp);
  if (!db->failed)
    idempotency_tx_store(db, status, u->rp);
  u->status = status;
  u->answered = db->failed && u->rp->is_problem && status >= 400 && !retryable(db);
  return status >= 400 ? DB_ROLLBACK : DB_ONE;
}

unsigned db_run_tx(struct db *db, db_tx_fn fn, void *ctx, struct reply *rp)
{
  struct reply_unit u = {.fn = fn, .ctx = ctx, .rp = rp};
  int rc = db_tx(db, reply_unit_run, &u);
  if (rc == DB_ROLLBACK)
    return u.status; /* a replay, or the unit's own refusal */
  if (rc < 0) {
    /* The unit of work may already have answered a specific problem. */
    if (u.answered && db->healthy)
      return u.status;
    if (db->commit_unknown) {
      /* Its answer, built for a commit, is not the one to send. */
      reply_clear(rp);
      reply_problem(rp, PROBLEM_OUTCOME_UNKNOWN,
                    db->idem ? "the database connection was lost while the write was committed: it may or may not "
                               "have been recorded. Send the same request with the same Idempotency-Key: it is "
                               "answered as recorded, or done once"
                             : "the database connection was lost while the write was committed: it may or may not "
                               "have been recorded, and without an Idempotency-Key sending it again may record it "
                               "twice: look for it first (send an Idempotency-Key with every POST)");
      reply_header(rp, "Retry-After", "2");
      return rp->status;
    }
    return db_error_reply(db, rp);
  }
  idempotency_tx_committed(db);
  return u.status;
}
