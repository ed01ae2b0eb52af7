/* The binary's own subcommands: migrate is safe to run again, and
 * create-api-key prints the key alone on stdout, and the key works. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void migrate_twice_is_safe(void **state)
{
  (void)state;
  char out[256];
  long long before = harness_sql_int("SELECT count(*) FROM schema_migrations");
  assert_true(before >= 10);
  assert_int_equal(harness_run_binary(NULL, "migrate", out, sizeof out), 0);
  assert_int_equal(harness_run_binary(NULL, "migrate", out, sizeof out), 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM schema_migrations"), before);
  /* Each file is recorded with its checksum. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM schema_migrations WHERE length(sha256) = 64"), before);
}

static void create_api_key_prints_the_key_alone(void **state)
{
  (void)state;
  char out[256];
  assert_int_equal(harness_run_binary(NULL, "create-api-key --role viewer --name 'ops dashboard' --actor ops@example.com",
                                      out, sizeof out),
                   0);
  /* One line, the key and nothing else, so scripts can capture it. */
  size_t len = strlen(out);
  assert_true(len > 1 && out[len - 1] == '\n');
  out[len - 1] = '\0';
  assert_null(strchr(out, '\n'));
  assert_int_equal(strncmp(out, "arc_", 4), 0);
  assert_int_equal(strlen(out), 4 + 16 + 1 + 43);

  char auth[320];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", out);
  const char *const with_key[] = {auth, NULL};
  struct http_resp r = {0};
  http(&r, "GET", "/v1/customers", NO_KEY, NULL, with_key);
  assert_status(&r, 200);
  http(&r, "POST", "/v1/customers", NO_KEY, "{\"name\": \"x\"}", with_key);
  assert_problem(&r, 403, "forbidden", NULL);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM api_keys WHERE name = 'ops dashboard' AND role = 'viewer' "
                                   "AND actor = 'ops@example.com' AND created_by = 'cli'"),
                   1);
  http_resp_clear(&r);
}

static void bad_arguments_are_refused(void **state)
{
  (void)state;
  char out[256];
  long long keys = harness_sql_int("SELECT count(*) FROM api_keys");
  assert_int_equal(harness_run_binary(NULL, "create-api-key --role root", out, sizeof out), 2);
  assert_string_equal(out, "");
  assert_int_equal(harness_run_binary(NULL, "create-api-key", out, sizeof out), 2);
  assert_int_equal(harness_run_binary(NULL, "create-api-key --role admin --colour red", out, sizeof out), 2);
  assert_int_equal(harness_run_binary(NULL, "frobnicate", out, sizeof out), 2);
  assert_int_equal(harness_run_binary(NULL, "", out, sizeof out), 2);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM api_keys"), keys);
  /* A bad setting is named and stops the binary before it does anything. */
  assert_int_equal(harness_run_binary(NULL, "migrate", out, sizeof out), 0);
  setenv("ARC_PORT", "99999", 1);
  assert_int_equal(harness_run_binary(NULL, "migrate", out, sizeof out), 2);
  unsetenv("ARC_PORT");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(migrate_twice_is_safe),
      cmocka_unit_test(create_api_key_prints_the_key_alone),
      cmocka_unit_test(bad_arguments_are_refused),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
