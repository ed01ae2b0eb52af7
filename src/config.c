/* Configuration: one declarative table of environment variables. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arc/config.h"

#ifndef ARC_MIGRATIONS_DIR
#define ARC_MIGRATIONS_DIR "migrations"
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
    {"ARC_TIMEZONE", CFG_STR, offsetof(struct config, timezone), "UTC", 0, 0,
     "IANA time zone whose midnight starts the business day"},
    {"ARC_MIGRATIONS_DIR", CFG_STR, offsetof(struct config, migrations_dir), ARC_MIGRATIONS_DIR, 0, 0,
     "folder of numbered *.sql migrations"},
    {"ARC_MAX_BODY", CFG_SIZE, offsetof(struct config, max_body), "1048576", 1024, 64u << 20,
     "largest request body in bytes (413 above)"},
    {"ARC_CONN_TIMEOUT_S", CFG_UINT, offsetof(struct config, conn_timeout_s), "30", 1, 3600,
     "idle connection timeout in seconds"},
    {"ARC_CONN_LIMIT", CFG_UINT, offsetof(struct config, conn_limit), "1000", 1, 100000,
     "concurrent connections"},
    {"ARC_PER_IP_LIMIT", CFG_UINT, offsetof(struct config, per_ip_limit), "256", 0, 100000,
     "concurrent connections per client address (0 = no limit)"},
    {"ARC_STATEMENT_TIMEOUT_MS", CFG_UINT, offsetof(struct config, statement_timeout_ms), "10000", 100,
     3600000, "PostgreSQL statement_timeout for requests"},
    {"ARC_SHUTDOWN_GRACE_S", CFG_UINT, offsetof(struct config, shutdown_grace_s), "10", 0, 600,
     "seconds SIGTERM waits for in-flight requests"},
    {"ARC_POLL", CFG_STR, offsetof(struct config, poll_mode), "epoll", 0, 0,
     "libmicrohttpd event loop of each pool thread: epoll or poll"},
    {"ARC_CADENCE_DAYS", CFG_UINT, offsetof(struct config, cadence_days), "3", 1, 365,
     "days between follow-up attempts until contact succeeds (P3)"},
    {"ARC_PROMISE_GRACE_DAYS", CFG_UINT, offsetof(struct config, promise_grace_days), "1", 0, 60,
     "days after promised_on before a promise is broken (P5)"},
    {"ARC_CONFIRM_RECEIPT_DAYS", CFG_UINT, offsetof(struct config, confirm_receipt_days), "2", 0, 60,
     "days after issued_on to confirm receipt (P1)"},
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
  if (cfg->poll_mode && strcmp(cfg->poll_mode, "epoll") != 0 && strcmp(cfg->poll_mode, "poll") != 0) {
    fprintf(stderr, "arcollectd: ARC_POLL must be epoll or poll\n");
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
