/* arcollectd migrate: the schema, then the code.
 *
 * Schema: numbered files of migrations/ (tables, indexes, types, backfills),
 * each applied once, in order, in its own transaction, and recorded with its
 * checksum.  An applied file never changes: an edited one, or one the
 * database knows and this build lacks, stops migrate with a message.
 *
 * Code: every *.sql file under the code folder (src/, beside the C modules
 * that call it) holds functions and the triggers that run them.  When any
 * file's checksum differs from what the database last loaded, all code is
 * replaced in one transaction: every trigger, function and view of the
 * schema is dropped and the files are run in path order.  So the database
 * holds exactly what the files say, and editing a function is editing its
 * file.  Both steps run under one advisory lock, so concurrent migrates
 * (several instances starting at once) take turns. */
#include <dirent.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/currencies.h"
#include "arc/db.h"

#define MIGRATE_LOCK "SELECT pg_advisory_xact_lock(7250001)"

/* A list of file names (relative to their folder), sorted, with contents. */
struct sql_files {
  char **names;
  char **texts;
  char (*sums)[65];
  size_t n;
};

static void files_free(struct sql_files *f)
{
  for (size_t i = 0; i < f->n; i++) {
    free(f->names[i]);
    free(f->texts[i]);
  }
  free(f->names);
  free(f->texts);
  free(f->sums);
  memset(f, 0, sizeof *f);
}

static int ends_with_sql(const char *name)
{
  size_t n = strlen(name);
  return n > 4 && strcmp(name + n - 4, ".sql") == 0;
}

static int is_migration(const char *name)
{
  size_t n = strlen(name);
  if (n < 9 || !ends_with_sql(name))
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

/* Sorts the names, then reads every file of DIR/name with its checksum. */
static int files_load(struct sql_files *f, const char *dir)
{
  qsort(f->names, f->n, sizeof *f->names, cmp_names);
  f->texts = calloc(f->n ? f->n : 1, sizeof *f->texts);
  f->sums = calloc(f->n ? f->n : 1, sizeof *f->sums);
  for (size_t i = 0; i < f->n; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, f->names[i]);
    f->texts[i] = read_file(path);
    if (!f->texts[i]) {
      fprintf(stderr, "arcollectd migrate: cannot read %s\n", path);
      return -1;
    }
    sha256_hex(f->texts[i], f->sums[i]);
  }
  return 0;
}

static void files_add(struct sql_files *f, const char *name)
{
  f->names = realloc(f->names, (f->n + 1) * sizeof *f->names);
  f->names[f->n++] = strdup(name);
}

static int list_migrations(const char *dir, struct sql_files *f)
{
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "arcollectd migrate: cannot open %s\n", dir);
    return -1;
  }
  struct dirent *e;
  while ((e = readdir(d)))
    if (is_migration(e->d_name))
      files_add(f, e->d_name);
  closedir(d);
  return files_load(f, dir);
}

/* nftw has no user pointer: the walk in progress, one at a time. */
static struct sql_files *walk_files;
static size_t walk_root_len;

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  (void)st;
  (void)ftw;
  if (type == FTW_F && ends_with_sql(path))
    files_add(walk_files, path + walk_root_len + 1);
  return 0;
}

static int list_code(const char *dir, struct sql_files *f)
{
  walk_files = f;
  walk_root_len = strlen(dir);
  while (walk_root_len > 1 && dir[walk_root_len - 1] == '/')
    walk_root_len--;
  if (nftw(dir, walk_one, 16, FTW_PHYS) != 0) {
    fprintf(stderr, "arcollectd migrate: cannot read the code folder %s\n", dir);
    return -1;
  }
  if (f->n == 0) {
    fprintf(stderr, "arcollectd migrate: no *.sql files under %s (ARC_CODE_DIR)\n", dir);
    return -1;
  }
  return files_load(f, dir);
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

/* Runs SQL with PARAMS and returns its result, or NULL with a message. */
static PGresult *query(PGconn *c, const char *sql, int n, const char *const *params)
{
  PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    fprintf(stderr, "arcollectd migrate: %s", PQresultErrorMessage(r));
    PQclear(r);
    return NULL;
  }
  return r;
}

static int begin_locked(PGconn *c)
{
  return run(c, "BEGIN", "begin") && run(c, MIGRATE_LOCK, "lock") &&
         run(c,
             "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, sha256 text NOT NULL, "
             "applied_at timestamptz NOT NULL DEFAULT now())",
             "schema_migrations") &&
         run(c,
             "CREATE TABLE IF NOT EXISTS schema_code (path text PRIMARY KEY, sha256 text NOT NULL, "
             "loaded_at timestamptz NOT NULL DEFAULT now())",
             "schema_code");
}

static void rollback(PGconn *c)
{
  if (PQtransactionStatus(c) != PQTRANS_IDLE)
    PQclear(PQexec(c, "ROLLBACK"));
}

/* The functions of the public schema, as regprocedure text: what a
 * migration must not add. */
#define FUNCTIONS_SQL                                                                              \
  "SELECT coalesce(array_agg(p.oid::regprocedure::text ORDER BY 1), '{}') FROM pg_proc p "        \
  "WHERE p.pronamespace = 'public'::regnamespace AND NOT EXISTS (SELECT 1 FROM pg_depend d "      \
  "WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')"

/* Every recorded migration must be one of ours, unchanged. */
static int check_history(PGconn *c, const struct sql_files *m)
{
  PGresult *r = query(c, "SELECT name, sha256 FROM schema_migrations ORDER BY name", 0, NULL);
  if (!r)
    return -1;
  int rc = 0;
  for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
    const char *name = PQgetvalue(r, i, 0), *sum = PQgetvalue(r, i, 1);
    const char *const *hit = bsearch(&name, m->names, m->n, sizeof *m->names, cmp_names);
    if (!hit) {
      fprintf(stderr,
              "arcollectd migrate: the database has migration %s applied, which is not in this "
              "build's migrations/: it was migrated by another version of arcollect (databases made "
              "before the December 2026 baseline must be recreated)\n",
              name);
      rc = -1;
    } else if (strcmp(m->sums[hit - (const char *const *)m->names], sum) != 0) {
      fprintf(stderr,
              "arcollectd migrate: migrations/%s was changed after it was applied to this database; "
              "an applied migration never changes: undo the edit and put the change in a new "
              "migration (functions and triggers belong in the code files, which are reloaded)\n",
              name);
      rc = -1;
    }
  }
  PQclear(r);
  return rc;
}

/* Applies migration I unless recorded: 1 applied, 0 already there, -1 error. */
static int apply_one(PGconn *c, const struct sql_files *m, size_t i, int verbose)
{
  const char *params[2] = {m->names[i], m->sums[i]};
  int result = -1;
  PGresult *r = NULL, *before = NULL, *added = NULL;
  if (!begin_locked(c))
    goto out;
  r = query(c, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, params);
  if (!r)
    goto out;
  if (PQntuples(r) == 1) {
    result = 0;
    goto out;
  }
  before = query(c, FUNCTIONS_SQL, 0, NULL);
  if (!before || !run(c, m->texts[i], m->names[i]))
    goto out;
  const char *was[] = {PQgetvalue(before, 0, 0)};
  added = query(c,
                "SELECT string_agg(f, ', ') FROM unnest((" FUNCTIONS_SQL ")) f WHERE f <> ALL($1::text[])",
                1, was);
  if (!added)
    goto out;
  if (!PQgetisnull(added, 0, 0)) {
    fprintf(stderr,
            "arcollectd migrate: migrations/%s creates %s: functions live in the code files (*.sql "
            "under src/), which migrate loads after the migrations\n",
            m->names[i], PQgetvalue(added, 0, 0));
    goto out;
  }
  PQclear(r);
  r = query(c, "INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)", 2, params);
  if (r && run(c, "COMMIT", "commit")) {
    if (verbose)
      fprintf(stderr, "arcollectd migrate: applied %s\n", m->names[i]);
    result = 1;
  }
out:
  PQclear(r);
  PQclear(before);
  PQclear(added);
  if (result == 0)
    run(c, "COMMIT", "commit");
  else
    rollback(c);
  return result;
}

/* Whether the loaded code is exactly F: same paths, same checksums. */
static int code_unchanged(PGconn *c, const struct sql_files *f)
{
  PGresult *r = query(c, "SELECT path, sha256 FROM schema_code ORDER BY path COLLATE \"C\"", 0, NULL);
  if (!r)
    return -1;
  int same = (size_t)PQntuples(r) == f->n;
  for (size_t i = 0; same && i < f->n; i++)
    same = strcmp(PQgetvalue(r, (int)i, 0), f->names[i]) == 0 &&
           strcmp(PQgetvalue(r, (int)i, 1), f->sums[i]) == 0;
  PQclear(r);
  return same;
}

/* Drops every trigger, view and function of the public schema that no
 * extension owns.  No CASCADE: a table default or index that needs a
 * function stops the reload instead of losing the column's default. */
static const char drop_code_sql[] =
    "DO $drop$ DECLARE r record; BEGIN "
    "FOR r IN SELECT t.tgname, t.tgrelid::regclass AS tbl FROM pg_trigger t JOIN pg_class k ON k.oid = t.tgrelid "
    "  WHERE k.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal LOOP "
    "  EXECUTE format('DROP TRIGGER %I ON %s', r.tgname, r.tbl); END LOOP; "
    "FOR r IN SELECT k.oid::regclass AS v FROM pg_class k "
    "  WHERE k.relnamespace = 'public'::regnamespace AND k.relkind = 'v' LOOP "
    "  EXECUTE format('DROP VIEW IF EXISTS %s CASCADE', r.v); END LOOP; "
    "FOR r IN SELECT p.oid::regprocedure AS fn, p.prokind FROM pg_proc p "
    "  WHERE p.pronamespace = 'public'::regnamespace AND NOT EXISTS (SELECT 1 FROM pg_depend d "
    "    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') LOOP "
    "  EXECUTE format('DROP %s %s', CASE r.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' "
    "    ELSE 'FUNCTION' END, r.fn); END LOOP; "
    "END $drop$";

/* Bodies were not checked while the files ran (a function may call one
 * defined in a later file); now that all exist, each language's validator
 * checks every body: a SQL function's query is parsed and analysed, a
 * PL/pgSQL one compiled. */
static const char validate_code_sql[] =
    "DO $check$ DECLARE r record; BEGIN "
    "FOR r IN SELECT p.oid, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
    "  WHERE p.pronamespace = 'public'::regnamespace AND l.lanname IN ('sql', 'plpgsql') ORDER BY p.oid LOOP "
    "  IF r.lanname = 'sql' THEN PERFORM fmgr_sql_validator(r.oid); "
    "  ELSE PERFORM plpgsql_validator(r.oid); END IF; END LOOP; "
    "END $check$";

/* Loads the code files when they differ from what the database has:
 * 1 loaded, 0 unchanged, -1 error (nothing changed). */
static int load_code(PGconn *c, const struct sql_files *f, int verbose)
{
  int result = -1;
  if (!begin_locked(c))
    goto out;
  int same = code_unchanged(c, f);
  if (same < 0)
    goto out;
  if (same) {
    result = 0;
    goto out;
  }
  if (!run(c, drop_code_sql, "dropping the loaded code") ||
      !run(c, "SET LOCAL check_function_bodies = off", "check_function_bodies") ||
      !run(c, "DELETE FROM schema_code", "schema_code"))
    goto out;
  for (size_t i = 0; i < f->n; i++) {
    char what[4200];
    snprintf(what, sizeof what, "%s (ARC_CODE_DIR)", f->names[i]);
    if (!run(c, f->texts[i], what))
      goto out;
    const char *params[2] = {f->names[i], f->sums[i]};
    PGresult *r = query(c, "INSERT INTO schema_code (path, sha256) VALUES ($1, $2)", 2, params);
    if (!r)
      goto out;
    PQclear(r);
  }
  if (!run(c, "SET LOCAL check_function_bodies = on", "check_function_bodies") ||
      !run(c, validate_code_sql, "checking the function bodies") || !run(c, "COMMIT", "commit"))
    goto out;
  if (verbose)
    fprintf(stderr, "arcollectd migrate: loaded %zu code files\n", f->n);
  result = 1;
out:
  if (result == 0)
    run(c, "COMMIT", "commit");
  else if (result < 0)
    rollback(c);
  return result;
}

int db_migrate(PGconn *c, const char *migrations_dir, const char *code_dir, int verbose)
{
  struct sql_files m = {0}, code = {0};
  int rc = -1, applied = 0, loaded = 0;
  if (list_migrations(migrations_dir, &m) != 0 || list_code(code_dir, &code) != 0)
    goto out;
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  /* The history first, once: nothing is applied to a database whose
   * recorded migrations this build does not match. */
  int history_ok = begin_locked(c) && check_history(c, &m) == 0;
  if (history_ok)
    history_ok = run(c, "COMMIT", "commit");
  else
    rollback(c);
  if (!history_ok)
    goto out;
  for (size_t i = 0; i < m.n; i++) {
    int r = apply_one(c, &m, i, verbose);
    if (r < 0)
      goto out;
    applied += r;
  }
  loaded = load_code(c, &code, verbose);
  if (loaded < 0 || currencies_store(c) != 0)
    goto out;
  rc = 0;
  if (verbose)
    fprintf(stderr, "arcollectd migrate: %d applied, %zu known; code %s (%zu files)\n", applied, m.n,
            loaded ? "loaded" : "unchanged", code.n);
out:
  files_free(&m);
  files_free(&code);
  return rc;
}
