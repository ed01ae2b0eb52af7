/* Verified API keys are remembered briefly (ARC_AUTH_CACHE_MS), so a
 * request in the steady state makes one database round trip.  Two
 * instances over one database: the harness's server is instance A, the
 * real binary started as a child is instance B.  A key revoked anywhere
 * stops working on every instance within a second, and a remembered key
 * never lets another secret through. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static pid_t child = -1;
static char base_b[64];

/* Instance B, trusting a verified key for the longest time allowed. */
static int start_b(void **state)
{
  (void)state;
  const char *binary = getenv("ARC_TEST_BINARY");
  if (!binary || !*binary)
    fail_msg("ARC_TEST_BINARY is not set (tests/meson.build sets it to the arcollectd executable)");
  unsigned port = free_port();
  char port_var[32], url[128];
  snprintf(port_var, sizeof port_var, "ARC_PORT=%u", port);
  snprintf(base_b, sizeof base_b, "http://127.0.0.1:%u", port);
  const char *const extra[] = {port_var,           "ARC_BIND=127.0.0.1",        "ARC_SCHEDULER_INTERVAL_S=0",
                               "ARC_THREADS=1",     "ARC_WEBHOOK_INTERVAL_MS=0", "ARC_IMPORT_POLL_S=0",
                               "ARC_AUTH_CACHE_MS=1000", NULL};
  child = harness_spawn_server(binary, extra, NULL);
  snprintf(url, sizeof url, "%s/healthz", base_b);
  double deadline = now_s() + 20;
  while (harness_get_status(url) != 200) {
    int status;
    if (waitpid(child, &status, WNOHANG) == child) {
      child = -1;
      fail_msg("instance B exited before serving (status %d)", status);
    }
    if (now_s() > deadline)
      fail_msg("instance B did not answer /healthz within 20 s");
    sleep_ms(50);
  }
  return 0;
}

static int setup(void **state)
{
  int rc = harness_setup(state);
  return rc ? rc : start_b(state);
}

static int stop_b(void **state)
{
  (void)state;
  if (child > 0) {
    kill(child, SIGTERM);
    int status;
    if (harness_wait_exit(child, 15, &status) != 0) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
    }
    child = -1;
  }
  return 0;
}

static int teardown(void **state)
{
  stop_b(state);
  return harness_teardown(state);
}

/* A new viewer key, made through instance A: its token and key id. */
static void new_key(char token[128], char key_id[32])
{
  struct http_resp r = {0};
  http(&r, "POST", "/v1/api-keys", ROLE_ADMIN, "{\"role\": \"viewer\", \"name\": \"cached\"}", NULL);
  assert_status(&r, 201);
  json_t *k = json_object_get(r.json, "key");
  assert_true(json_is_string(k));
  snprintf(token, 128, "%s", json_string_value(k));
  snprintf(key_id, 32, "%s", json_string_value(json_object_get(r.json, "id")));
  http_resp_clear(&r);
}

static long get_on(const char *base, const char *token)
{
  char url[160], auth[192];
  snprintf(url, sizeof url, "%s/v1/customers?limit=1", base);
  snprintf(auth, sizeof auth, "Bearer %s", token);
  return harness_get_status_as(url, auth);
}

static void revoked_key_stops_everywhere_within_a_second(void **state)
{
  (void)state;
  char token[128], key_id[32];
  new_key(token, key_id);
  assert_int_equal(get_on(base_b, token), 200);
  assert_int_equal(get_on(harness_base(), token), 200);

  /* Revoked behind both instances' backs: B goes on trusting what it
   * verified a moment ago (no round trip for the key)... */
  assert_int_equal(get_on(base_b, token), 200);
  double revoked = now_s();
  free(harness_sql("UPDATE api_keys SET revoked_at = now() WHERE key_id = '%s' RETURNING key_id", key_id));
  long soon = get_on(base_b, token);
  double soon_at = now_s();
  if (soon_at - revoked < 0.5)
    assert_int_equal(soon, 200);
  /* ...for less than a second, and then never again. */
  double refused_at = 0;
  while (now_s() - revoked < 3) {
    long st = get_on(base_b, token);
    if (st == 401) {
      refused_at = now_s();
      break;
    }
    assert_int_equal(st, 200);
    sleep_ms(20);
  }
  if (refused_at == 0)
    fail_msg("instance B still accepts a key revoked 3 s ago");
  if (refused_at - revoked > 1.1)
    fail_msg("instance B accepted a revoked key for %.3f s", refused_at - revoked);
  for (int i = 0; i < 5; i++)
    assert_int_equal(get_on(base_b, token), 401);
  assert_int_equal(get_on(harness_base(), token), 401);
}

static void revoking_through_the_api_stops_that_instance_at_once(void **state)
{
  (void)state;
  char token[128], key_id[32];
  new_key(token, key_id);
  /* Remembered by A's threads... */
  for (int i = 0; i < 4; i++)
    assert_int_equal(get_on(harness_base(), token), 200);
  struct http_resp r = {0};
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/api-keys/%s", key_id);
  assert_status(&r, 200);
  http_resp_clear(&r);
  /* ...forgotten by all of them as the revocation is answered. */
  for (int i = 0; i < 8; i++)
    assert_int_equal(get_on(harness_base(), token), 401);
}

static void a_remembered_key_never_lets_another_secret_through(void **state)
{
  (void)state;
  char token[128], key_id[32];
  new_key(token, key_id);
  assert_int_equal(get_on(base_b, token), 200);
  assert_int_equal(get_on(harness_base(), token), 200);
  /* The same key id with other secrets of the right shape. */
  char forged[128];
  snprintf(forged, sizeof forged, "%s", token);
  size_t n = strlen(forged);
  for (int i = 0; i < 6; i++) {
    char *c = &forged[n - 1 - (size_t)i];
    *c = *c == 'A' ? 'B' : 'A';
    assert_int_equal(get_on(base_b, forged), 401);
    assert_int_equal(get_on(harness_base(), forged), 401);
  }
  /* A key id nobody issued. */
  char unknown[128];
  snprintf(unknown, sizeof unknown, "arc_0123456789abcdef_%s", token + 4 + 16 + 1);
  assert_int_equal(get_on(base_b, unknown), 401);
  /* The real secret still works. */
  assert_int_equal(get_on(base_b, token), 200);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(revoked_key_stops_everywhere_within_a_second),
      cmocka_unit_test(revoking_through_the_api_stops_that_instance_at_once),
      cmocka_unit_test(a_remembered_key_never_lets_another_secret_through),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
