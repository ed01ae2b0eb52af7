/* Migrations: numbered SQL files applied in order, each in its own
 * transaction under an advisory lock, and recorded with a checksum so an
 * edited, already-applied file is noticed. */
#include <dirent.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/db.h"

#define MIGRATE_LOCK "SELECT pg_advisory_xact_lock(7250001)"

static int is_migration(const char *name)
{
  size_t n = strlen(name);
  if (n < 9 || strcmp(name + n - 4, ".sql") != 0)
    return 0;
  for (int i = 0; i < 4; i++)
    if (name[i] < '0' || name[i] > '9')
      return 0;
  return name[4] == '_';
}

static int cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *read_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  if (buf)
    buf[n] = '\0';
  fclose(f);
  return buf;
}

static void sha256_hex(const char *data, char out[65])
{
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(data, strlen(data), md, &len, EVP_sha256(), NULL);
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int run(PGconn *c, const char *sql, const char *what)
{
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(r);
  int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (!ok)
    fprintf(stderr, "arcollectd migrate: %s: %s", what, PQresultErrorMessage(r));
  PQclear(r);
  return ok;
}

/* Applies one file unless recorded; returns 1 applied, 0 skipped, -1 error. */
static int apply_one(PGconn *c, const char *dir, const char *name, int verbose)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char *sql = read_file(path);
  if (!sql) {
    fprintf(stderr, "arcollectd migrate: cannot read %s\n", path);
    return -1;
  }
  char sum[65];
  sha256_hex(sql, sum);
  int result = -1;
  if (!run(c, "BEGIN", "begin") || !run(c, MIGRATE_LOCK, "lock") ||
      !run(c,
           "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, sha256 text NOT NULL, "
           "applied_at timestamptz NOT NULL DEFAULT now())",
           "schema_migrations"))
    goto out;
  const char *params[2] = {name, sum};
  PGresult *r = PQexecParams(c, "SELECT sha256 FROM schema_migrations WHERE name = $1", 1, NULL,
                             params, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    fprintf(stderr, "arcollectd migrate: %s", PQresultErrorMessage(r));
    PQclear(r);
    goto out;
  }
  if (PQntuples(r) == 1) {
    if (strcmp(PQgetvalue(r, 0, 0), sum) != 0)
      fprintf(stderr, "arcollectd migrate: warning: %s changed after it was applied\n", name);
    PQclear(r);
    result = 0;
    goto out;
  }
  PQclear(r);
  if (!run(c, sql, name))
    goto out;
  r = PQexecParams(c, "INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)", 2, NULL, params,
                   NULL, NULL, 0);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (ok && run(c, "COMMIT", "commit")) {
    if (verbose)
      fprintf(stderr, "arcollectd migrate: applied %s\n", name);
    free(sql);
    return 1;
  }
out:
  if (result < 0 || PQtransactionStatus(c) != PQTRANS_IDLE)
    PQclear(PQexec(c, result < 0 ? "ROLLBACK" : "COMMIT"));
  free(sql);
  return result;
}

int db_migrate(PGconn *c, const char *dir, int verbose)
{
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "arcollectd migrate: cannot open %s\n", dir);
    return -1;
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (is_migration(e->d_name)) {
      names = realloc(names, (n + 1) * sizeof *names);
      names[n++] = strdup(e->d_name);
    }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_names);
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  int rc = 0, applied = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    int r = apply_one(c, dir, names[i], verbose);
    if (r < 0)
      rc = -1;
    applied += r > 0;
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  if (verbose && rc == 0)
    fprintf(stderr, "arcollectd migrate: %d applied, %zu known\n", applied, n);
  return rc;
}
