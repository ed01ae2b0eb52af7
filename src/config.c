/* Configuration: one declarative table of environment variables. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arc/config.h"
#include "arc/cors.h"

#ifndef ARC_MIGRATIONS_DIR
#define ARC_MIGRATIONS_DIR "migrations"
#endif
#ifndef ARC_CODE_DIR
#define ARC_CODE_DIR "src"
#endif

enum cfg_type { CFG_STR, CFG_UINT, CFG_SIZE };

static const struct cfg_entry {
  const char *env;
  enum cfg_type type;
  size_t offset;
  const char *def; /* NULL: required */
  unsigned long long min, max;
  const char *help;
} entries[] = {
    {"DATABASE_URL", CFG_STR, offsetof(struct config, database_url), NULL, 0, 0,
     "libpq conninfo or URI of the PostgreSQL database"},
    {"ARC_BIND", CFG_STR, offsetof(struct config, bind), "127.0.0.1", 0, 0, "address to listen on"},
    {"ARC_PORT", CFG_UINT, offsetof(struct config, port), "8080", 0, 65535, "TCP port (0 = any free port)"},
    {"ARC_THREADS", CFG_UINT, offsetof(struct config, threads), "0", 0, 256,
     "HTTP worker threads, each with one database connection (0 = one per CPU)"},
    {"ARC_SCHEDULER_INTERVAL_S", CFG_UINT, offsetof(struct config, scheduler_interval_s), "300", 0,
     86400, "seconds between scheduler sweeps (0 = no scheduler thread)"},
    {"ARC_TIME_TRAVEL", CFG_UINT, offsetof(struct config, time_travel), "0", 0, 1,
     "1 lets POST /v1/scheduler/runs with as_of write (test and demo databases only); "
     "0: a sweep for another instant is a preview that writes nothing"},
    {"ARC_TIMEZONE", CFG_STR, offsetof(struct config, timezone), "UTC", 0, 0,
     "IANA time zone whose midnight starts the business day"},
    {"ARC_MIGRATIONS_DIR", CFG_STR, offsetof(struct config, migrations_dir), ARC_MIGRATIONS_DIR, 0, 0,
     "folder of numbered *.sql migrations (schema, applied once each)"},
    {"ARC_CODE_DIR", CFG_STR, offsetof(struct config, code_dir), ARC_CODE_DIR, 0, 0,
     "folder whose *.sql files (at any depth) hold the SQL functions and triggers"},
    {"ARC_MAX_BODY", CFG_SIZE, offsetof(struct config, max_body), "1048576", 1024, 64u << 20,
     "largest request body in bytes (413 above)"},
    {"ARC_CONN_TIMEOUT_S", CFG_UINT, offsetof(struct config, conn_timeout_s), "30", 1, 3600,
     "idle connection timeout in seconds"},
    {"ARC_CONN_LIMIT", CFG_UINT, offsetof(struct config, conn_limit), "10000", 1, 1000000,
     "concurrent connections; when full, the one waiting longest for a request is closed for a new one"},
    {"ARC_HEADER_TIMEOUT_S", CFG_UINT, offsetof(struct config, header_timeout_s), "10", 1, 3600,
     "seconds a connection has for a request's headers, from its opening or its previous answer"},
    {"ARC_PER_IP_LIMIT", CFG_UINT, offsetof(struct config, per_ip_limit), "256", 0, 100000,
     "concurrent connections per client address (0 = no limit)"},
    {"ARC_STATEMENT_TIMEOUT_MS", CFG_UINT, offsetof(struct config, statement_timeout_ms), "10000", 100,
     3600000, "PostgreSQL statement_timeout for requests"},
    {"ARC_AUTH_CACHE_MS", CFG_UINT, offsetof(struct config, auth_cache_ms), "500", 0, 1000,
     "how long a verified API key is trusted without asking the database; a revoked key stops "
     "working on every instance within it (0 = ask every time)"},
    {"ARC_SHUTDOWN_GRACE_S", CFG_UINT, offsetof(struct config, shutdown_grace_s), "10", 0, 600,
     "seconds SIGTERM waits for in-flight requests"},
    {"ARC_CORS_ORIGINS", CFG_STR, offsetof(struct config, cors_origins), "", 0, 0,
     "comma-separated origins (https://app.example.com) whose web pages may call the API (CORS); "
     "empty: none"},
    {"ARC_POLL", CFG_STR, offsetof(struct config, poll_mode), "epoll", 0, 0,
     "each worker thread's event loop: epoll (run by our own thread), or poll (libmicrohttpd's own thread)"},
    {"ARC_CADENCE_DAYS", CFG_UINT, offsetof(struct config, cadence_days), "3", 1, 365,
     "days between follow-up attempts until contact succeeds (P3)"},
    {"ARC_PROMISE_GRACE_DAYS", CFG_UINT, offsetof(struct config, promise_grace_days), "1", 0, 60,
     "days after promised_on before a promise is broken (P5)"},
    {"ARC_CONFIRM_RECEIPT_DAYS", CFG_UINT, offsetof(struct config, confirm_receipt_days), "2", 0, 60,
     "days after issued_on to confirm receipt (P1)"},
    {"ARC_PLAN_GRACE_DAYS", CFG_UINT, offsetof(struct config, plan_grace_days), "3", 0, 60,
     "days after an installment's due date before it is missed (P7)"},
    {"ARC_PLAN_MAX_MISSED", CFG_UINT, offsetof(struct config, plan_max_missed), "2", 1, 100,
     "missed installments that default a payment plan (P7)"},
    {"ARC_ESCALATE_SALES_ATTEMPTS", CFG_UINT, offsetof(struct config, escalate_sales_attempts), "5", 1,
     1000, "unsuccessful attempts since the last success before escalating to sales (P8)"},
    {"ARC_ESCALATE_MANAGEMENT_DAYS", CFG_UINT, offsetof(struct config, escalate_management_days), "45",
     1, 3650, "days overdue before escalating to management (P8)"},
    {"ARC_ESCALATE_LEGAL_DAYS", CFG_UINT, offsetof(struct config, escalate_legal_days), "90", 1, 3650,
     "days overdue before proposing a legal letter (P8)"},
    {"ARC_MANAGEMENT_ASSIGNEE", CFG_STR, offsetof(struct config, management_assignee), "", 0, 0,
     "handle that management escalations are assigned to (P8; empty = unassigned)"},
    {"ARC_CONSUMER_MAX_ATTEMPTS", CFG_UINT, offsetof(struct config, consumer_max_attempts), "7", 1, 100,
     "call attempts allowed per consumer account within ARC_CONSUMER_WINDOW_DAYS (P15)"},
    {"ARC_CONSUMER_WINDOW_DAYS", CFG_UINT, offsetof(struct config, consumer_window_days), "7", 1, 60,
     "days over which consumer call attempts are counted (P15)"},
    {"ARC_CONSUMER_QUIET_DAYS", CFG_UINT, offsetof(struct config, consumer_quiet_days), "7", 0, 60,
     "days without calls after a telephone conversation with a consumer (P15)"},
    {"ARC_BUSINESS_HOURS_START", CFG_UINT, offsetof(struct config, business_hours_start), "8", 0, 23,
     "hour, in a business customer's time zone, from which it may be called on weekdays"},
    {"ARC_BUSINESS_HOURS_END", CFG_UINT, offsetof(struct config, business_hours_end), "18", 1, 24,
     "hour, in a business customer's time zone, until which it may be called on weekdays"},
    {"ARC_RECEIVABLES_GOAL_PCT", CFG_UINT, offsetof(struct config, receivables_goal_pct), "70", 1, 100,
     "goal: percent of receivables collected within 30 days (P13)"},
    {"ARC_WEBHOOK_ALLOW_PRIVATE", CFG_UINT, offsetof(struct config, webhook_allow_private), "0", 0, 1,
     "1: webhooks may reach loopback, private and link-local addresses (receivers inside the network; tests)"},
    {"ARC_WEBHOOK_INTERVAL_MS", CFG_UINT, offsetof(struct config, webhook_interval_ms), "1000", 0, 3600000,
     "milliseconds between webhook delivery rounds when idle (0 = no delivery thread)"},
    {"ARC_WEBHOOK_TIMEOUT_MS", CFG_UINT, offsetof(struct config, webhook_timeout_ms), "10000", 100, 60000,
     "time limit of one webhook POST, connecting included"},
    {"ARC_WEBHOOK_RETRY_BASE_MS", CFG_UINT, offsetof(struct config, webhook_retry_base_ms), "5000", 1, 3600000,
     "first webhook retry delay; later ones are 60, 360, 1440, 3600, 7200 times it (5 s: 5 min, 30 min, 2 h, 5 h, 10 h)"},
    {"ARC_WEBHOOK_RETRY_WINDOW_S", CFG_UINT, offsetof(struct config, webhook_retry_window_s), "86400", 1, 604800,
     "seconds a webhook delivery is retried before it is given up; a subscription failing that long is disabled"},
    {"ARC_IMPORT_MAX_BYTES", CFG_SIZE, offsetof(struct config, import_max_bytes), "268435456", 1024,
     (unsigned long long)1 << 36, "largest CSV file POST /v1/imports takes, in bytes (413 above)"},
    {"ARC_IMPORT_MAX_UPLOADS", CFG_UINT, offsetof(struct config, import_max_uploads), "4", 1, 64,
     "CSV uploads at once, each with a database connection of its own (503 above)"},
    {"ARC_IMPORT_POLL_S", CFG_UINT, offsetof(struct config, import_poll_s), "5", 0, 3600,
     "seconds between the import worker's looks for jobs queued by other instances (0 = no import worker)"},
};

#define N_ENTRIES (sizeof entries / sizeof entries[0])

int config_load(struct config *cfg)
{
  int bad = 0;
  memset(cfg, 0, sizeof *cfg);
  for (size_t i = 0; i < N_ENTRIES; i++) {
    const struct cfg_entry *e = &entries[i];
    const char *v = getenv(e->env);
    if (!v || !*v)
      v = e->def;
    if (!v) {
      fprintf(stderr, "arcollectd: %s is required (%s)\n", e->env, e->help);
      bad = 1;
      continue;
    }
    char *target = (char *)cfg + e->offset;
    if (e->type == CFG_STR) {
      *(char **)target = strdup(v);
      continue;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || v[0] == '-' || n < e->min || n > e->max) {
      fprintf(stderr, "arcollectd: %s=%s must be an integer from %llu to %llu\n", e->env, v, e->min,
              e->max);
      bad = 1;
      continue;
    }
    if (e->type == CFG_UINT)
      *(unsigned *)target = (unsigned)n;
    else
      *(size_t *)target = (size_t)n;
  }
  struct cors cors;
  char why[300];
  if (cors_parse(cfg->cors_origins, &cors, why, sizeof why) != 0) {
    fprintf(stderr, "arcollectd: ARC_CORS_ORIGINS: %s\n", why);
    bad = 1;
  }
  cors_free(&cors);
  if (cfg->poll_mode && strcmp(cfg->poll_mode, "epoll") != 0 && strcmp(cfg->poll_mode, "poll") != 0) {
    fprintf(stderr, "arcollectd: ARC_POLL must be epoll or poll\n");
    bad = 1;
  }
  /* Handles travel in the libpq startup options, where blanks and
   * backslashes would need escaping; handles never contain them. */
  if (cfg->management_assignee && (strlen(cfg->management_assignee) > 200 ||
                                   strpbrk(cfg->management_assignee, " \t\n\r\\'\""))) {
    fprintf(stderr, "arcollectd: ARC_MANAGEMENT_ASSIGNEE must be a handle of at most 200 characters "
                    "without blanks, quotes or backslashes\n");
    bad = 1;
  }
  if (cfg->business_hours_start >= cfg->business_hours_end) {
    fprintf(stderr, "arcollectd: ARC_BUSINESS_HOURS_START must be before ARC_BUSINESS_HOURS_END\n");
    bad = 1;
  }
  if (cfg->threads == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = n > 0 ? (unsigned)n : 2;
  }
  if (bad) {
    config_free(cfg);
    return -1;
  }
  return 0;
}

void config_free(struct config *cfg)
{
  for (size_t i = 0; i < N_ENTRIES; i++)
    if (entries[i].type == CFG_STR) {
      char **p = (char **)((char *)cfg + entries[i].offset);
      free(*p);
      *p = NULL;
    }
}

void config_usage(void)
{
  fprintf(stderr, "Environment:\n");
  for (size_t i = 0; i < N_ENTRIES; i++)
    fprintf(stderr, "  %-26s %s%s%s%s\n", entries[i].env, entries[i].help,
            entries[i].def ? " [" : " [required", entries[i].def ? entries[i].def : "", "]");
}
