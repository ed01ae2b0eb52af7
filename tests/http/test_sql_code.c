/* SQL as code (src/db/migrate.c): migrations hold the schema and are
 * applied once; every function and trigger lives in exactly one *.sql file
 * under ARC_CODE_DIR, which `arcollectd migrate` reloads when a file
 * changes.  These guard rails run the real binary against the test
 * database, with copies of the folders where a test edits them. */
#include "harness.h"

#include <ftw.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/sweep.h"

/* ---- reading the source folders ---- */

static char *slurp(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot read %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* The text without -- comments, so prose about functions does not count. */
static void strip_comments(char *s)
{
  for (char *p = s; (p = strstr(p, "--"));) {
    char *end = strchr(p, '\n');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    memset(p, ' ', n);
    p += n;
  }
}

/* Every definition found: function name and the file that defines it. */
struct definitions {
  char name[512][64];
  char file[512][256];
  int n;
};

static struct definitions *defs;
static size_t defs_root;

static void find_definitions(const char *path, const char *text)
{
  regex_t re;
  assert_int_equal(regcomp(&re, "create[[:space:]]+(or[[:space:]]+replace[[:space:]]+)?(function|procedure)[[:space:]]+"
                                "(public\\.)?([a-z_0-9]+)",
                           REG_EXTENDED | REG_ICASE),
                   0);
  regmatch_t m[5];
  for (const char *p = text; regexec(&re, p, 5, m, 0) == 0; p += m[0].rm_eo) {
    assert_true(defs->n < 512);
    snprintf(defs->name[defs->n], sizeof defs->name[0], "%.*s", (int)(m[4].rm_eo - m[4].rm_so), p + m[4].rm_so);
    snprintf(defs->file[defs->n], sizeof defs->file[0], "%s", path + defs_root);
    defs->n++;
  }
  regfree(&re);
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  (void)st;
  (void)ftw;
  size_t n = strlen(path);
  if (type == FTW_F && n > 4 && strcmp(path + n - 4, ".sql") == 0) {
    char *text = slurp(path);
    strip_comments(text);
    find_definitions(path, text);
    free(text);
  }
  return 0;
}

static void scan(const char *dir, struct definitions *out)
{
  memset(out, 0, sizeof *out);
  defs = out;
  defs_root = strlen(dir) + 1;
  assert_int_equal(nftw(dir, visit, 16, FTW_PHYS), 0);
}

static const char *code_dir(void)
{
  const char *d = getenv("ARC_CODE_DIR");
  if (!d || !*d)
    fail_msg("ARC_CODE_DIR is not set (tests/meson.build sets it to src/)");
  return d;
}

static const char *migrations_dir(void)
{
  const char *d = getenv("ARC_MIGRATIONS_DIR");
  if (!d || !*d)
    fail_msg("ARC_MIGRATIONS_DIR is not set (tests/meson.build sets it)");
  return d;
}

/* ---- running the binary ---- */

/* Runs `arcollectd migrate` with the given folders (NULL = the real ones);
 * returns its exit status, its stdout and stderr in OUT. */
static int migrate_with(const char *migrations, const char *code, char *out, size_t size)
{
  char env[2048];
  snprintf(env, sizeof env, "ARC_MIGRATIONS_DIR='%s' ARC_CODE_DIR='%s'", migrations ? migrations : migrations_dir(),
           code ? code : code_dir());
  return harness_run_binary_all(env, "migrate", out, size);
}

/* A scratch copy of DIR; the caller removes it with rm_tree. */
static void copy_tree(const char *dir, char *copy, size_t size)
{
  snprintf(copy, size, "/tmp/arc_sql_code_XXXXXX");
  assert_non_null(mkdtemp(copy));
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "cp -R '%s'/. '%s'/", dir, copy);
  assert_int_equal(system(cmd), 0);
}

static void rm_tree(const char *dir)
{
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static void append_to(const char *path, const char *text)
{
  FILE *f = fopen(path, "a");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* What migrate could change: every function (oid and body), trigger,
 * migration and loaded code file.  Equal fingerprints = nothing changed. */
static char *catalog_fingerprint(void)
{
  return harness_sql(
      "SELECT md5(concat_ws('|', "
      " (SELECT string_agg(p.oid::text || ':' || p.oid::regprocedure::text || ':' || md5(p.prosrc), ',' ORDER BY p.oid) "
      "    FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace), "
      " (SELECT string_agg(t.oid::text || ':' || t.tgname, ',' ORDER BY t.oid) FROM pg_trigger t WHERE NOT t.tgisinternal), "
      " (SELECT string_agg(name || sha256 || applied_at::text, ',' ORDER BY name) FROM schema_migrations), "
      " (SELECT string_agg(path || sha256 || loaded_at::text, ',' ORDER BY path) FROM schema_code)))");
}

/* ---- the guard rails ---- */

static void every_function_is_defined_once(void **state)
{
  (void)state;
  struct definitions *code = calloc(1, sizeof *code);
  scan(code_dir(), code);
  assert_true(code->n > 100);
  /* One definition per name in all the code files. */
  for (int i = 0; i < code->n; i++)
    for (int j = i + 1; j < code->n; j++)
      if (strcmp(code->name[i], code->name[j]) == 0)
        fail_msg("%s is defined twice: in %s and in %s", code->name[i], code->file[i], code->file[j]);
  /* Each exists after migrate... */
  for (int i = 0; i < code->n; i++) {
    if (harness_sql_int("SELECT count(*) FROM pg_proc WHERE proname = '%s' AND pronamespace = 'public'::regnamespace",
                        code->name[i]) != 1)
      fail_msg("%s (defined in %s) is not in the migrated database", code->name[i], code->file[i]);
  }
  /* ...and the database has no function the files do not define. */
  char *all = harness_sql("SELECT string_agg(proname, ' ' ORDER BY proname) FROM pg_proc "
                          "WHERE pronamespace = 'public'::regnamespace");
  assert_non_null(all);
  for (char *name = strtok(all, " "); name; name = strtok(NULL, " ")) {
    int found = 0;
    for (int i = 0; i < code->n && !found; i++)
      found = strcmp(code->name[i], name) == 0;
    if (!found)
      fail_msg("the database has %s, which no code file defines", name);
  }
  free(all);
  free(code);
}

static void no_migration_creates_a_function(void **state)
{
  (void)state;
  struct definitions *m = calloc(1, sizeof *m);
  scan(migrations_dir(), m);
  if (m->n > 0)
    fail_msg("%s creates %s: functions belong in the code files (src/**/*.sql)", m->file[0], m->name[0]);
  free(m);

  /* And migrate refuses one that does, applying nothing of it. */
  char dir[64], path[256], out[4096];
  copy_tree(migrations_dir(), dir, sizeof dir);
  snprintf(path, sizeof path, "%s/9001_sneaky.sql", dir);
  append_to(path, "CREATE TABLE sneaky (id int);\n"
                  "CREATE FUNCTION arc_sneaky() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n");
  assert_int_equal(migrate_with(dir, NULL, out, sizeof out), 1);
  rm_tree(dir);
  if (!strstr(out, "9001_sneaky.sql creates arc_sneaky()"))
    fail_msg("unexpected message: %s", out);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM pg_class WHERE relname = 'sneaky'"), 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM schema_migrations WHERE name = '9001_sneaky.sql'"), 0);
}

static void migrate_twice_changes_nothing(void **state)
{
  (void)state;
  char out[4096];
  char *before = catalog_fingerprint();
  assert_int_equal(migrate_with(NULL, NULL, out, sizeof out), 0);
  assert_non_null(strstr(out, "0 applied"));
  assert_non_null(strstr(out, "code unchanged"));
  assert_int_equal(migrate_with(NULL, NULL, out, sizeof out), 0);
  char *after = catalog_fingerprint();
  assert_string_equal(before, after);
  free(before);
  free(after);
}

static void a_changed_function_file_is_picked_up(void **state)
{
  (void)state;
  char dir[64], path[256], out[4096];
  /* Data written before the reload stays. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE name = 'Reload Ltd'"), 0);
  char *made = harness_sql("INSERT INTO customers (name, kind) VALUES ('Reload Ltd', 'commercial') RETURNING id");
  free(made);
  copy_tree(code_dir(), dir, sizeof dir);
  /* An edited body, and a function a file adds. */
  snprintf(path, sizeof path, "%s/util/dates.sql", dir);
  char *text = slurp(path);
  const char *was = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'";
  char *at = strstr(text, was);
  assert_non_null(at);
  FILE *f = fopen(path, "w");
  fprintf(f, "%.*s'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'%s", (int)(at - text), text, at + strlen(was));
  fclose(f);
  free(text);
  append_to(path, "\nCREATE FUNCTION arc_reload_probe() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 42 $$;\n");
  assert_int_equal(migrate_with(NULL, dir, out, sizeof out), 0);
  if (!strstr(out, "code loaded"))
    fail_msg("unexpected output: %s", out);
  assert_int_equal(harness_sql_int("SELECT arc_reload_probe()"), 42);
  char *ts = harness_sql("SELECT arc_ts('2026-03-02 07:00:00.5+00')");
  assert_string_equal(ts, "2026-03-02T07:00:00Z");
  free(ts);

  /* A file with an error changes nothing: the old code stays whole. */
  append_to(path, "\nCREATE FUNCTION arc_reload_broken() RETURNS int LANGUAGE sql AS $$ SELECT no_such_column $$;\n");
  assert_int_equal(migrate_with(NULL, dir, out, sizeof out), 1);
  if (!strstr(out, "no_such_column"))
    fail_msg("the error does not say what is wrong: %s", out);
  assert_int_equal(harness_sql_int("SELECT arc_reload_probe()"), 42);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM pg_proc WHERE proname = 'arc_reload_broken'"), 0);
  rm_tree(dir);

  /* The real files again: the probe is gone, the body is back, the data stayed. */
  assert_int_equal(migrate_with(NULL, NULL, out, sizeof out), 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM pg_proc WHERE proname = 'arc_reload_probe'"), 0);
  ts = harness_sql("SELECT arc_ts('2026-03-02 07:00:00.5+00')");
  assert_string_equal(ts, "2026-03-02T07:00:00.500000Z");
  free(ts);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE name = 'Reload Ltd'"), 1);
  /* Triggers came back with their functions: an update still bumps the version. */
  assert_int_equal(harness_sql_int("WITH u AS (UPDATE customers SET name = 'Reload Two' WHERE name = 'Reload Ltd' "
                                   "RETURNING version) SELECT version FROM u"),
                   2);
}

static void an_applied_migration_never_changes(void **state)
{
  (void)state;
  char dir[64], path[256], out[4096];
  char *before = catalog_fingerprint();
  copy_tree(migrations_dir(), dir, sizeof dir);
  snprintf(path, sizeof path, "%s/0001_core.sql", dir);
  append_to(path, "\nCREATE INDEX api_keys_name_idx ON api_keys (name);\n");
  assert_int_equal(migrate_with(dir, NULL, out, sizeof out), 1);
  if (!strstr(out, "migrations/0001_core.sql was changed after it was applied"))
    fail_msg("unexpected message: %s", out);
  /* A migration the database has and this build lacks. */
  snprintf(path, sizeof path, "%s/0001_core.sql", dir);
  remove(path);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cp '%s/0001_core.sql' '%s/'", migrations_dir(), dir);
  assert_int_equal(system(cmd), 0);
  snprintf(path, sizeof path, "%s/0010_imports.sql", dir);
  char renamed[256];
  snprintf(renamed, sizeof renamed, "%s/0010_imports_renamed.sql", dir);
  assert_int_equal(rename(path, renamed), 0);
  assert_int_equal(migrate_with(dir, NULL, out, sizeof out), 1);
  if (!strstr(out, "has migration 0010_imports.sql applied, which is not in this build"))
    fail_msg("unexpected message: %s", out);
  rm_tree(dir);
  char *after = catalog_fingerprint();
  assert_string_equal(before, after);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM pg_class WHERE relname = 'api_keys_name_idx'"), 0);
  free(before);
  free(after);
}

/* The sweep's one list of rules (src/schedule/rules.c) is every rule
 * function there is, each in src/schedule/rules/<name>.sql. */
static void one_list_of_sweep_rules(void **state)
{
  (void)state;
  struct definitions *code = calloc(1, sizeof *code);
  scan(code_dir(), code);
  int listed = 0;
  for (const struct sweep_rule *rule = sweep_rules; rule->name; rule++, listed++) {
    char fn[128], file[160], stmt[128];
    snprintf(fn, sizeof fn, "arc_rule_%s", rule->name);
    snprintf(file, sizeof file, "schedule/rules/%s.sql", rule->name);
    snprintf(stmt, sizeof stmt, "sweep_%s", rule->name);
    assert_string_equal(rule->statement, stmt);
    int found = 0;
    for (int i = 0; i < code->n; i++)
      if (strcmp(code->name[i], fn) == 0) {
        found = 1;
        if (strcmp(code->file[i], file) != 0)
          fail_msg("%s is in %s, not %s", fn, code->file[i], file);
      }
    if (!found)
      fail_msg("the sweep runs %s, which no code file defines", fn);
  }
  int functions = 0;
  for (int i = 0; i < code->n; i++)
    functions += strncmp(code->name[i], "arc_rule_", 9) == 0;
  assert_int_equal(listed, functions);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM pg_proc WHERE proname LIKE 'arc\\_rule\\_%%'"), listed);
  free(code);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_function_is_defined_once),
      cmocka_unit_test(no_migration_creates_a_function),
      cmocka_unit_test(migrate_twice_changes_nothing),
      cmocka_unit_test(a_changed_function_file_is_picked_up),
      cmocka_unit_test(an_applied_migration_never_changes),
      cmocka_unit_test(one_list_of_sweep_rules),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
