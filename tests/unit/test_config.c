/* Configuration from the environment: defaults, overrides, and refusals.
 * Runs single-threaded, so setenv/unsetenv are safe here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "arc/config.h"

/* Every variable config.c reads. */
static const char *const vars[] = {
    "DATABASE_URL",       "ARC_BIND",           "ARC_PORT",
    "ARC_THREADS",        "ARC_SCHEDULER_INTERVAL_S", "ARC_TIMEZONE",
    "ARC_MIGRATIONS_DIR", "ARC_MAX_BODY",       "ARC_CONN_TIMEOUT_S",
    "ARC_CONN_LIMIT",     "ARC_PER_IP_LIMIT",   "ARC_STATEMENT_TIMEOUT_MS", "ARC_HEADER_TIMEOUT_S", "ARC_WEBHOOK_ALLOW_PRIVATE",
    "ARC_SHUTDOWN_GRACE_S", "ARC_POLL",         "ARC_CADENCE_DAYS",
    "ARC_PROMISE_GRACE_DAYS", "ARC_CONFIRM_RECEIPT_DAYS", "ARC_BUSINESS_HOURS_START", "ARC_BUSINESS_HOURS_END",
};

/* A clean environment with only DATABASE_URL set. */
static int clean_env(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    unsetenv(vars[i]);
  setenv("DATABASE_URL", "host=127.0.0.1 dbname=x", 1);
  return 0;
}

static void defaults(void **state)
{
  (void)state;
  struct config c;
  assert_int_equal(config_load(&c), 0);
  assert_string_equal(c.database_url, "host=127.0.0.1 dbname=x");
  assert_string_equal(c.bind, "127.0.0.1");
  assert_int_equal(c.port, 8080);
  assert_true(c.threads >= 1); /* 0 means one per CPU */
  assert_int_equal(c.scheduler_interval_s, 300);
  assert_string_equal(c.timezone, "UTC");
  assert_non_null(c.migrations_dir);
  assert_true(c.migrations_dir[0] != '\0');
  assert_int_equal(c.max_body, 1048576);
  assert_int_equal(c.conn_timeout_s, 30);
  assert_int_equal(c.conn_limit, 10000);
  assert_int_equal(c.header_timeout_s, 10);
  assert_int_equal(c.per_ip_limit, 256);
  assert_int_equal(c.statement_timeout_ms, 10000);
  assert_int_equal(c.shutdown_grace_s, 10);
  assert_string_equal(c.poll_mode, "epoll");
  assert_int_equal(c.cadence_days, 3);
  assert_int_equal(c.promise_grace_days, 1);
  assert_int_equal(c.confirm_receipt_days, 2);
  config_free(&c);
  assert_null(c.database_url);
  assert_null(c.bind);
  config_free(&c); /* twice is harmless */
}

static void overrides(void **state)
{
  (void)state;
  setenv("ARC_BIND", "::1", 1);
  setenv("ARC_PORT", "0", 1);
  setenv("ARC_THREADS", "7", 1);
  setenv("ARC_SCHEDULER_INTERVAL_S", "0", 1);
  setenv("ARC_TIMEZONE", "America/New_York", 1);
  setenv("ARC_MIGRATIONS_DIR", "/tmp/m", 1);
  setenv("ARC_MAX_BODY", "1024", 1);
  setenv("ARC_CONN_TIMEOUT_S", "3600", 1);
  setenv("ARC_CONN_LIMIT", "1000000", 1);
  setenv("ARC_HEADER_TIMEOUT_S", "3600", 1);
  setenv("ARC_PER_IP_LIMIT", "0", 1);
  setenv("ARC_STATEMENT_TIMEOUT_MS", "100", 1);
  setenv("ARC_SHUTDOWN_GRACE_S", "600", 1);
  setenv("ARC_POLL", "poll", 1);
  setenv("ARC_CADENCE_DAYS", "365", 1);
  setenv("ARC_PROMISE_GRACE_DAYS", "0", 1);
  setenv("ARC_CONFIRM_RECEIPT_DAYS", "60", 1);
  struct config c;
  assert_int_equal(config_load(&c), 0);
  assert_string_equal(c.bind, "::1");
  assert_int_equal(c.port, 0);
  assert_int_equal(c.threads, 7);
  assert_int_equal(c.scheduler_interval_s, 0);
  assert_string_equal(c.timezone, "America/New_York");
  assert_string_equal(c.migrations_dir, "/tmp/m");
  assert_int_equal(c.max_body, 1024);
  assert_int_equal(c.conn_timeout_s, 3600);
  assert_int_equal(c.conn_limit, 1000000);
  assert_int_equal(c.header_timeout_s, 3600);
  assert_int_equal(c.per_ip_limit, 0);
  assert_int_equal(c.statement_timeout_ms, 100);
  assert_int_equal(c.shutdown_grace_s, 600);
  assert_string_equal(c.poll_mode, "poll");
  assert_int_equal(c.cadence_days, 365);
  assert_int_equal(c.promise_grace_days, 0);
  assert_int_equal(c.confirm_receipt_days, 60);
  config_free(&c);
  /* The largest body allowed is 64 MiB. */
  setenv("ARC_MAX_BODY", "67108864", 1);
  assert_int_equal(config_load(&c), 0);
  assert_int_equal(c.max_body, 67108864);
  config_free(&c);
}

static void empty_means_default(void **state)
{
  (void)state;
  setenv("ARC_PORT", "", 1);
  setenv("ARC_POLL", "", 1);
  struct config c;
  assert_int_equal(config_load(&c), 0);
  assert_int_equal(c.port, 8080);
  assert_string_equal(c.poll_mode, "epoll");
  config_free(&c);
}

/* Loading with VAR=VALUE must fail (with -1 and nothing to free). */
static void refused(const char *var, const char *value)
{
  setenv(var, value, 1);
  struct config c;
  memset(&c, 0x33, sizeof c);
  if (config_load(&c) != -1)
    fail_msg("%s=%s was accepted", var, value);
  /* Failure frees what it allocated; the strings are NULL. */
  assert_null(c.database_url);
  assert_null(c.bind);
  assert_null(c.poll_mode);
  unsetenv(var);
}

static void bad_numbers(void **state)
{
  (void)state;
  static const struct {
    const char *var, *value;
  } cases[] = {
      {"ARC_PORT", "65536"},
      {"ARC_PORT", "-1"},
      {"ARC_PORT", "80x"},
      {"ARC_PORT", "http"},
      {"ARC_PORT", "8080.0"},
      {"ARC_PORT", "99999999999999999999999"}, /* overflows unsigned long long */
      {"ARC_PORT", "4294967376"},              /* would wrap to 80 as an unsigned */
      {"ARC_THREADS", "257"},
      {"ARC_SCHEDULER_INTERVAL_S", "86401"},
      {"ARC_MAX_BODY", "1023"},
      {"ARC_MAX_BODY", "67108865"},
      {"ARC_CONN_TIMEOUT_S", "0"},
      {"ARC_CONN_TIMEOUT_S", "3601"},
      {"ARC_CONN_LIMIT", "0"},
      {"ARC_CONN_LIMIT", "1000001"},
      {"ARC_HEADER_TIMEOUT_S", "0"},
      {"ARC_HEADER_TIMEOUT_S", "3601"},
      {"ARC_PER_IP_LIMIT", "100001"},
      {"ARC_STATEMENT_TIMEOUT_MS", "99"},
      {"ARC_STATEMENT_TIMEOUT_MS", "3600001"},
      {"ARC_SHUTDOWN_GRACE_S", "601"},
      {"ARC_CADENCE_DAYS", "0"},
      {"ARC_CADENCE_DAYS", "366"},
      {"ARC_PROMISE_GRACE_DAYS", "61"},
      {"ARC_CONFIRM_RECEIPT_DAYS", "-0"},
      {"ARC_CONFIRM_RECEIPT_DAYS", "1e1"},
      {"ARC_BUSINESS_HOURS_START", "24"},
      {"ARC_BUSINESS_HOURS_END", "0"},
      {"ARC_BUSINESS_HOURS_END", "25"},
      {"ARC_BUSINESS_HOURS_END", "8"}, /* not after the default start */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    refused(cases[i].var, cases[i].value);
  /* Business hours: defaults 8 to 18; a day of its own is fine. */
  struct config c;
  setenv("ARC_BUSINESS_HOURS_START", "0", 1);
  setenv("ARC_BUSINESS_HOURS_END", "24", 1);
  assert_int_equal(config_load(&c), 0);
  assert_int_equal(c.business_hours_start, 0);
  assert_int_equal(c.business_hours_end, 24);
  config_free(&c);
  unsetenv("ARC_BUSINESS_HOURS_START");
  unsetenv("ARC_BUSINESS_HOURS_END");
  assert_int_equal(config_load(&c), 0);
  assert_int_equal(c.business_hours_start, 8);
  assert_int_equal(c.business_hours_end, 18);
  config_free(&c);
}

static void database_url_required(void **state)
{
  (void)state;
  unsetenv("DATABASE_URL");
  struct config c;
  assert_int_equal(config_load(&c), -1);
  setenv("DATABASE_URL", "", 1); /* empty is missing too */
  assert_int_equal(config_load(&c), -1);
  assert_null(c.bind);
}

static void poll_mode(void **state)
{
  (void)state;
  struct config c;
  setenv("ARC_POLL", "epoll", 1);
  assert_int_equal(config_load(&c), 0);
  assert_string_equal(c.poll_mode, "epoll");
  config_free(&c);
  setenv("ARC_POLL", "poll", 1);
  assert_int_equal(config_load(&c), 0);
  assert_string_equal(c.poll_mode, "poll");
  config_free(&c);
  refused("ARC_POLL", "select");
  refused("ARC_POLL", "EPOLL");
  refused("ARC_POLL", "epoll ");
  refused("ARC_POLL", "pol");
}

static void every_error_reported_at_once(void **state)
{
  (void)state;
  /* Two bad variables and a missing one: one load reports all three. */
  unsetenv("DATABASE_URL");
  setenv("ARC_PORT", "x", 1);
  setenv("ARC_POLL", "kqueue", 1);
  /* Capture fd 2, where config_load explains itself. */
  FILE *cap = tmpfile();
  assert_non_null(cap);
  fflush(stderr);
  int saved = dup(2);
  dup2(fileno(cap), 2);
  struct config c;
  int rc = config_load(&c);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  assert_int_equal(rc, -1);
  char buf[4096];
  rewind(cap);
  size_t n = fread(buf, 1, sizeof buf - 1, cap);
  buf[n] = '\0';
  fclose(cap);
  assert_non_null(strstr(buf, "DATABASE_URL"));
  assert_non_null(strstr(buf, "ARC_PORT"));
  assert_non_null(strstr(buf, "ARC_POLL"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(defaults, clean_env),
      cmocka_unit_test_setup(overrides, clean_env),
      cmocka_unit_test_setup(empty_means_default, clean_env),
      cmocka_unit_test_setup(bad_numbers, clean_env),
      cmocka_unit_test_setup(database_url_required, clean_env),
      cmocka_unit_test_setup(poll_mode, clean_env),
      cmocka_unit_test_setup(every_error_reported_at_once, clean_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
