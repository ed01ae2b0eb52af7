/* Database access: one libpq connection per worker thread, every statement
 * prepared when the connection opens, and a transaction runner. */
#ifndef ARC_DB_H
#define ARC_DB_H

#include <libpq-fe.h>

struct reply;
struct idempotency;

/* Database call outcome: failure kind, or how many rows.  DB_ROLLBACK is a
 * unit of work's own answer to db_tx: undo, although nothing failed. */
enum db_status { DB_ROLLBACK = -3, DB_HARD = -2, DB_SOFT = -1, DB_NONE = 0, DB_ONE = 1 };

/* A named statement; each repository file lists its own, ending with {NULL}. */
struct db_stmt {
  const char *name;
  const char *sql;
};

/* The last error seen on a connection, kept for mapping to a reply. */
struct db_error {
  char sqlstate[6];
  char constraint[64];
  char table[64];
  char column[64];
  char message[4096]; /* only forwarded for our own ARxxx errors (arc_raise_fields: a JSON list) */
};

/* A read sent in a batch (db_batch_send) and not yet answered. */
#define DB_READ_MAX_PARAMS 4
struct db_read {
  struct db_read *next;
  const char *name; /* the prepared statement */
  int nparams;
  char *params[DB_READ_MAX_PARAMS]; /* copies, to run it again after an abort */
  void (*done)(struct db_read *rd); /* called once it is answered (in the thread of its connection) */
  void *cls;
  PGresult *result;  /* PGRES_TUPLES_OK or PGRES_COMMAND_OK; NULL when it failed or was aborted */
  struct db_error err; /* why it failed, as db_exec keeps it ("08006": the connection was lost) */
  int aborted;       /* an earlier read of its batch failed, so it did not run */
  int answered;
};

struct db {
  PGconn *conn;
  int healthy;          /* connected and every statement prepared */
  long long retry_at_ms; /* earliest next reconnect attempt */
  int failed;           /* a statement failed in this transaction */
  int commit_unknown;   /* the connection was lost during COMMIT: it may have happened */
  const char *actor;    /* who writes: recorded on events (arc.actor) */
  const char *request_id;
  struct idempotency *idem; /* the running POST's Idempotency-Key (idempotency.h), or NULL */
  struct db_error err;
  /* Reads in flight in libpq's pipeline mode (src/db/batch.c), oldest first. */
  struct db_read *batch_head, *batch_tail;
  int batch_unsynced; /* reads sent since the last Sync */
  int batch_syncs;    /* Syncs sent and not yet answered */
};

struct config;

/* For tests: the next COMMIT of this process is sent and the connection
 * then cut before its answer is read, as a network fault would do: the
 * write may be recorded, and the caller cannot know (db_run_tx answers
 * outcome-unknown). */
void db_fault_lose_next_commit(void);

/* Session settings and statements every connection gets.  Called once
 * before any worker starts.  Sessions get TimeZone = ARC_TIMEZONE (the
 * business's day boundary), the timeouts, and the playbook defaults as
 * arc.* settings that the SQL rules read. */
int db_pool_init(const struct config *cfg);
void db_pool_shutdown(void);

/* This thread's connection, connected and prepared if possible.  Never NULL;
 * check db_ready() before use. */
struct db *db_thread(void);
/* The same for a thread that serves HTTP requests: its session keeps one
 * generic plan per statement (pool.c says why). */
struct db *db_thread_requests(void);
int db_ready(struct db *db);

/* Opens a separate connection (migrations, tools).  NULL on failure, with a
 * message on stderr. */
PGconn *db_connect_raw(const char *conninfo);

/* A connection of its own beside the thread's (an upload's COPY, the import
 * worker's progress), with the session settings of the pool's and the
 * statements of LISTS (NULL-terminated) prepared.  NULL on failure
 * (logged).  db_close closes it, rolling back what was not committed. */
struct db *db_open(const struct db_stmt *const *lists);
void db_close(struct db *db);

/* Fills E from failed result R of statement NAME (R NULL: the connection
 * failed), marks DB for a reconnect when its connection went, and logs
 * what is not an expected answer (our AR errors, constraint violations). */
void db_error_from(struct db *db, struct db_error *e, const PGresult *r, const char *name);
/* Runs prepared statement NAME with text parameters (NULL = SQL NULL).
 * Returns the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK) or NULL on
 * failure, with db->err set and db->failed raised.  Caller clears it. */
PGresult *db_exec(struct db *db, const char *name, int nparams, const char *const *params);

/* Like db_exec, for statements that return at most one row: returns the
 * row count as an enum db_status and the result in *OUT (cleared by caller
 * when not NULL). */
enum db_status db_exec_one(struct db *db, const char *name, int nparams, const char *const *params,
                           PGresult **out);

/* A unit of work for db_tx: returns >= 0 to commit, < 0 (DB_ROLLBACK when
 * nothing failed) to roll back; any failed statement rolls back too. */
typedef int (*db_unit_fn)(struct db *db, void *ctx);

/* BEGIN; the transaction's context (db->actor, db->request_id); fn; COMMIT
 * — all again, up to three times, on serialization failure or deadlock.
 * Returns fn's value once committed, or once rolled back at fn's asking;
 * DB_SOFT (a conflict still there after the retries) or DB_HARD, with
 * db->err set, when a statement, BEGIN or COMMIT failed. */
int db_tx(struct db *db, db_unit_fn fn, void *ctx);

/* A request's unit of work in one transaction.  It fills RP and returns its
 * status; a status >= 400, or any failed statement, rolls back. */
typedef unsigned (*db_tx_fn)(struct db *db, void *ctx, struct reply *rp);

/* db_tx for a request: also claims and stores a POST's Idempotency-Key
 * (idempotency.h); database errors become problem replies. */
unsigned db_run_tx(struct db *db, db_tx_fn fn, void *ctx, struct reply *rp);

/* Batched reads (src/db/batch.c).  A worker that has several requests
 * ready sends their reads together, in libpq's pipeline mode, and reads
 * the answers together: one wake-up of the database and of the worker for
 * the lot instead of one each.  db_batch_send queues read RD of statement
 * NAME (at most DB_READ_MAX_PARAMS parameters) on DB's connection, outside
 * any transaction; 0, or -1 when it cannot (run it with db_exec).
 * db_batch_flush sends what was queued; db_batch_socket is the descriptor
 * to wait on while answers are due (-1: none); db_batch_receive hands out
 * the answers that have come (RD->done for each), and with WAIT all that
 * are due.  Every other use of the connection waits for the batch first
 * (db_batch_wait; db_exec and db_tx do).  db_read_clear frees RD's
 * result and copies. */
int db_batch_send(struct db *db, struct db_read *rd, const char *name, int nparams, const char *const *params);
void db_batch_flush(struct db *db);
int db_batch_socket(const struct db *db);
/* Whether answers are due that libpq has already read (the socket may not
 * show them): db_batch_receive hands them out without waiting. */
int db_batch_buffered(const struct db *db);
void db_batch_receive(struct db *db, int wait);
void db_batch_wait(struct db *db);
void db_read_clear(struct db_read *rd);
/* This thread's connection if it has one, without connecting; NULL otherwise. */
struct db *db_thread_existing(void);
/* Maps db->err to a problem reply (409 duplicate, 422 field, 503 ...). */
unsigned db_error_reply(struct db *db, struct reply *rp);

/* Applies the migrations of MIGRATIONS_DIR in order, each once and in its
 * own transaction, then (re)loads the code files (*.sql under CODE_DIR) if
 * any changed (src/db/migrate.c).  Safe to run concurrently and twice.
 * 0 on success; -1 with a message on stderr. */
int db_migrate(PGconn *conn, const char *migrations_dir, const char *code_dir, int verbose);

#endif
