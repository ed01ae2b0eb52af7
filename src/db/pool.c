/* One PGconn per worker thread, created lazily, every statement prepared on
 * connect, reconnected with backoff after the server goes away. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arc/config.h"
#include "arc/db.h"
#include "arc/log.h"
#include "arc/metrics.h"
#include "arc/statements.h"

#define RECONNECT_BACKOFF_MS 500

static char *g_conninfo;
static char g_options[1024];
static pthread_key_t g_key;
static int g_key_made;

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void db_free(void *p)
{
  struct db *db = p;
  if (!db)
    return;
  metrics_db_thread_state(-1);
  if (db->conn)
    PQfinish(db->conn);
  free(db);
}

static int timezone_name_ok(const char *tz)
{
  if (!*tz || strlen(tz) > 64)
    return 0;
  for (const char *p = tz; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
      return 0;
  return 1;
}

int db_pool_init(const struct config *cfg)
{
  if (!timezone_name_ok(cfg->timezone)) {
    log_error("ARC_TIMEZONE=%s is not an IANA time zone name", cfg->timezone);
    return -1;
  }
  free(g_conninfo);
  g_conninfo = strdup(cfg->database_url);
  unsigned st = cfg->statement_timeout_ms;
  /* Session settings live in the startup packet, so they survive reconnects. */
  snprintf(g_options, sizeof g_options,
           "-c statement_timeout=%u -c lock_timeout=%u -c idle_in_transaction_session_timeout=%u "
           "-c TimeZone=%s -c arc.cadence_days=%u -c arc.promise_grace_days=%u "
           "-c arc.confirm_receipt_days=%u -c arc.plan_grace_days=%u -c arc.plan_max_missed=%u "
           "-c arc.escalate_sales_attempts=%u -c arc.escalate_management_days=%u "
           "-c arc.escalate_legal_days=%u -c arc.management_assignee=%s "
           "-c arc.consumer_max_attempts=%u -c arc.consumer_window_days=%u -c arc.consumer_quiet_days=%u "
           "-c arc.receivables_goal_pct=%u -c arc.business_hours_start=%u -c arc.business_hours_end=%u",
           st, st / 2, st * 2, cfg->timezone, cfg->cadence_days, cfg->promise_grace_days,
           cfg->confirm_receipt_days, cfg->plan_grace_days, cfg->plan_max_missed,
           cfg->escalate_sales_attempts, cfg->escalate_management_days, cfg->escalate_legal_days,
           cfg->management_assignee ? cfg->management_assignee : "", cfg->consumer_max_attempts,
           cfg->consumer_window_days, cfg->consumer_quiet_days, cfg->receivables_goal_pct, cfg->business_hours_start,
           cfg->business_hours_end);
  if (!g_key_made) {
    if (pthread_key_create(&g_key, db_free) != 0)
      return -1;
    g_key_made = 1;
  }
  return 0;
}

void db_pool_shutdown(void)
{
  if (!g_key_made)
    return;
  db_free(pthread_getspecific(g_key));
  pthread_setspecific(g_key, NULL);
}

/* Set on a thread that serves requests (db_thread_requests). */
static _Thread_local int t_serves_requests;

static PGconn *connect_with_options(const char *conninfo)
{
  /* A request's statements are written for generic plans (docs/
   * conventions.md, "list statement"; tests/http/test_list_plans.c checks
   * them).  Left to choose, PostgreSQL keeps planning a list for its
   * parameters on every request (0.25 ms of a page's 0.45), as a plan that
   * knows the LIMIT always looks cheaper than one that does not.  The
   * sweep sets plan_cache_mode back to auto for its transaction. */
  char options[sizeof g_options + 64];
  snprintf(options, sizeof options, "%s%s", g_options,
           t_serves_requests ? " -c plan_cache_mode=force_generic_plan" : "");
  const char *keys[] = {"dbname", "options", "connect_timeout", "keepalives", "keepalives_idle",
                        "application_name", NULL};
  const char *vals[] = {conninfo, options, "3", "1", "30", "arcollectd", NULL};
  return PQconnectdbParams(keys, vals, 1);
}

PGconn *db_connect_raw(const char *conninfo)
{
  PGconn *c = g_options[0] ? connect_with_options(conninfo) : PQconnectdb(conninfo);
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "arcollectd: cannot connect to the database: %s", PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  return c;
}

static int prepare_all(PGconn *conn, const struct db_stmt *const *lists)
{
  for (size_t l = 0; lists[l]; l++)
    for (const struct db_stmt *s = lists[l]; s->name; s++) {
      PGresult *r = PQprepare(conn, s->name, s->sql, 0, NULL);
      int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      if (!ok)
        log_json("error", "cannot prepare statement",
                 json_pack("{s:s, s:s}", "statement", s->name, "error", PQresultErrorMessage(r)));
      PQclear(r);
      if (!ok)
        return -1;
    }
  return 0;
}

static void try_connect(struct db *db)
{
  long long now = now_ms();
  if (now < db->retry_at_ms)
    return;
  if (db->conn)
    PQfinish(db->conn);
  db->conn = connect_with_options(g_conninfo);
  if (PQstatus(db->conn) == CONNECTION_OK && prepare_all(db->conn, db_statement_lists) == 0) {
    db->healthy = 1;
    metrics_db_connect(1);
    return;
  }
  metrics_db_connect(0);
  if (PQstatus(db->conn) != CONNECTION_OK)
    log_json("warn", "database unreachable",
             json_pack("{s:s}", "error", PQerrorMessage(db->conn)));
  db->healthy = 0;
  db->retry_at_ms = now + RECONNECT_BACKOFF_MS;
}

struct db *db_open(const struct db_stmt *const *lists)
{
  struct db *db = calloc(1, sizeof *db);
  if (!db)
    return NULL;
  db->conn = connect_with_options(g_conninfo);
  if (PQstatus(db->conn) != CONNECTION_OK) {
    log_json("warn", "cannot open a connection", json_pack("{s:s}", "error", PQerrorMessage(db->conn)));
    db_close(db);
    return NULL;
  }
  if (prepare_all(db->conn, lists) != 0) {
    db_close(db);
    return NULL;
  }
  db->healthy = 1;
  return db;
}

void db_close(struct db *db)
{
  if (!db)
    return;
  PQfinish(db->conn);
  free(db);
}

struct db *db_thread(void)
{
  struct db *db = pthread_getspecific(g_key);
  if (!db) {
    db = calloc(1, sizeof *db);
    pthread_setspecific(g_key, db);
  }
  if (!db->healthy)
    try_connect(db);
  metrics_db_thread_state(db->healthy);
  return db;
}

struct db *db_thread_existing(void) { return g_key_made ? pthread_getspecific(g_key) : NULL; }

struct db *db_thread_requests(void)
{
  t_serves_requests = 1;
  return db_thread();
}

int db_ready(struct db *db) { return db && db->healthy; }

static void copy_field(char *dst, size_t size, const PGresult *r, int field)
{
  const char *v = r ? PQresultErrorField(r, field) : NULL;
  snprintf(dst, size, "%s", v ? v : "");
}

PGresult *db_exec(struct db *db, const char *name, int nparams, const char *const *params)
{
  db_batch_wait(db);
  memset(&db->err, 0, sizeof db->err);
  if (!db->healthy) {
    strcpy(db->err.sqlstate, "08006");
    db->failed = 1;
    return NULL;
  }
  PGresult *r = PQexecPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
    return r;
  db_error_from(db, &db->err, r, name);
  PQclear(r);
  db->failed = 1;
  return NULL;
}

void db_error_from(struct db *db, struct db_error *e, const PGresult *r, const char *name)
{
  memset(e, 0, sizeof *e);
  copy_field(e->sqlstate, sizeof e->sqlstate, r, PG_DIAG_SQLSTATE);
  copy_field(e->constraint, sizeof e->constraint, r, PG_DIAG_CONSTRAINT_NAME);
  copy_field(e->table, sizeof e->table, r, PG_DIAG_TABLE_NAME);
  copy_field(e->column, sizeof e->column, r, PG_DIAG_COLUMN_NAME);
  copy_field(e->message, sizeof e->message, r, PG_DIAG_MESSAGE_PRIMARY);
  if (PQstatus(db->conn) != CONNECTION_OK || !e->sqlstate[0]) {
    db->healthy = 0;
    if (!e->sqlstate[0])
      strcpy(e->sqlstate, "08006");
  }
  /* Our own errors (class AR) are expected answers, not incidents. */
  if (strncmp(e->sqlstate, "AR", 2) != 0 && strncmp(e->sqlstate, "23", 2) != 0)
    log_json("error", "statement failed",
             json_pack("{s:s, s:s, s:s}", "statement", name, "sqlstate", e->sqlstate, "error",
                       r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn)));
}

enum db_status db_exec_one(struct db *db, const char *name, int nparams, const char *const *params,
                           PGresult **out)
{
  *out = NULL;
  PGresult *r = db_exec(db, name, nparams, params);
  if (!r)
    return strncmp(db->err.sqlstate, "40", 2) == 0 ? DB_SOFT : DB_HARD;
  int n = PQntuples(r);
  if (n == 0) {
    PQclear(r);
    return DB_NONE;
  }
  *out = r;
  return DB_ONE;
}
