/* PostgreSQL goes away under a running server and comes back: meanwhile
 * requests that need it answer 503 problem+json with Retry-After (liveness
 * stays 200); afterwards the same server serves again without a restart.
 *
 * Needs ARC_TEST_PG_STOP and ARC_TEST_PG_START, shell commands that stop and
 * start the cluster behind ARC_TEST_DATABASE_URL; skipped without them.
 * Runs alone (is_parallel: false): every other test would see the outage. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECOVERY_DEADLINE_S 30
/* Fresh connections land on different pool threads: each has its own
 * database connection that must notice the outage and recover. */
#define ROUNDS 12

static const char *const fresh[] = {"Connection: close", NULL};
static int pg_down;
static int skipped;

/* Runs a cluster control command through /bin/sh; 1 on exit status 0. */
static int run_shell(const char *what, const char *cmd)
{
  int rc = system(cmd);
  if (rc != 0)
    fprintf(stderr, "db_restart: %s (%s) exited with %d\n", what, cmd, rc);
  return rc == 0;
}

static const char *env_cmd(const char *name)
{
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

static void assert_unavailable(const struct http_resp *r)
{
  assert_problem(r, 503, "unavailable", NULL);
  if (!r->retry_after[0])
    fail_msg("503 without Retry-After: %s", r->body ? r->body : "");
  char *end;
  long secs = strtol(r->retry_after, &end, 10);
  if (*end || secs < 1 || secs > 120)
    fail_msg("Retry-After '%s' is not a small number of seconds", r->retry_after);
  /* No database wording leaks to the client. */
  if (r->body && (strstr(r->body, "PQ") || strstr(r->body, "server closed") || strstr(r->body, "FATAL")))
    fail_msg("503 body leaks database details: %s", r->body);
}

static void outage_and_recovery(void **state)
{
  (void)state;
  const char *stop = env_cmd("ARC_TEST_PG_STOP"), *start = env_cmd("ARC_TEST_PG_START");
  if (!stop || !start) {
    fprintf(stderr, "db_restart: ARC_TEST_PG_STOP / ARC_TEST_PG_START not set; skipping\n");
    skipped = 1;
    skip();
  }
  struct http_resp r = {0};

  /* Up: every pool thread gets a live connection before the outage. */
  for (int i = 0; i < ROUNDS; i++) {
    http(&r, "GET", "/readyz", NO_KEY, NULL, fresh);
    assert_status(&r, 200);
    http(&r, "GET", "/v1/api-keys", ROLE_ADMIN, NULL, fresh);
    assert_status(&r, 200);
  }

  pg_down = 1;
  if (!run_shell("ARC_TEST_PG_STOP", stop))
    fail_msg("cannot stop PostgreSQL");

  /* Down: whatever needs the database is 503 + Retry-After; liveness is not. */
  for (int i = 0; i < ROUNDS; i++) {
    http(&r, "GET", "/v1/api-keys", ROLE_ADMIN, NULL, fresh);
    assert_unavailable(&r);
    http(&r, "GET", "/readyz", NO_KEY, NULL, fresh);
    assert_unavailable(&r);
    http(&r, "GET", "/healthz", NO_KEY, NULL, fresh);
    assert_status(&r, 200);
    http(&r, "POST", "/v1/api-keys", ROLE_ADMIN, "{\"role\": \"viewer\", \"name\": \"during outage\"}", fresh);
    assert_unavailable(&r);
    http(&r, "GET", "/v1/customers/1", ROLE_VIEWER, NULL, fresh);
    assert_unavailable(&r);
  }
  /* Keep-alive connections see the same answers. */
  http(&r, "GET", "/v1/api-keys", ROLE_ADMIN, NULL, NULL);
  assert_unavailable(&r);
  http(&r, "GET", "/healthz", NO_KEY, NULL, NULL);
  assert_status(&r, 200);

  if (!run_shell("ARC_TEST_PG_START", start))
    fail_msg("cannot start PostgreSQL");
  pg_down = 0;

  /* Back: the same server recovers by itself within the deadline. */
  double deadline = now_s() + RECOVERY_DEADLINE_S;
  int ready = 0, keys = 0;
  while (!(ready && keys) && now_s() < deadline) {
    ready = http(&r, "GET", "/readyz", NO_KEY, NULL, fresh) == 200;
    keys = http(&r, "GET", "/v1/api-keys", ROLE_ADMIN, NULL, fresh) == 200;
    if (!(ready && keys)) {
      if (r.status != 200 && r.status != 503)
        fail_msg("while recovering: expected 200 or 503, got %ld: %s", r.status, r.body ? r.body : "");
      sleep_ms(100);
    }
  }
  if (!(ready && keys))
    fail_msg("not recovered within %d s: /readyz %s, /v1/api-keys %s", RECOVERY_DEADLINE_S,
             ready ? "200" : "not 200", keys ? "200" : "not 200");

  /* Every pool thread recovers: a run of successes on fresh connections. */
  int streak = 0;
  while (streak < 3 * ROUNDS && now_s() < deadline) {
    long st = http(&r, "GET", "/v1/api-keys", ROLE_ADMIN, NULL, fresh);
    if (st == 200) {
      streak++;
    } else {
      if (st != 503)
        fail_msg("while recovering: expected 200 or 503, got %ld: %s", st, r.body ? r.body : "");
      streak = 0;
      sleep_ms(100);
    }
  }
  if (streak < 3 * ROUNDS)
    fail_msg("some pool threads still answer 503 %d s after PostgreSQL came back", RECOVERY_DEADLINE_S);

  /* Writes work again (statements re-prepared on the new connections). */
  http(&r, "POST", "/v1/api-keys", ROLE_ADMIN, "{\"role\": \"viewer\", \"name\": \"after outage\"}", fresh);
  assert_status(&r, 201);
  http(&r, "GET", "/v1/api-keys?role=viewer&active=true", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  json_t *data = json_object_get(r.json, "data");
  size_t i;
  json_t *k;
  int after = 0, during = 0;
  json_array_foreach(data, i, k) {
    const char *name = jstr(k, "name");
    after += name && strcmp(name, "after outage") == 0;
    during += name && strcmp(name, "during outage") == 0;
  }
  assert_int_equal(after, 1);
  assert_int_equal(during, 0); /* refused writes left nothing behind */
  http_resp_clear(&r);
}

/* If the test failed while PostgreSQL was down, bring it back so the
 * harness can drop its database and later tests find a cluster. */
static int teardown(void **state)
{
  const char *start = env_cmd("ARC_TEST_PG_START");
  if (pg_down && start)
    run_shell("ARC_TEST_PG_START", start);
  pg_down = 0;
  return harness_teardown(state);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(outage_and_recovery),
  };
  int failed = cmocka_run_group_tests(tests, harness_setup, teardown);
  return failed ? failed : skipped ? 77 : 0; /* 77: meson reports SKIP */
}
