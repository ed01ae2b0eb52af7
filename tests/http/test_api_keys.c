/* /v1/api-keys: create shows the key once; list, get, revoke; admins only. */
#include "harness.h"

#include <stdio.h>
#include <string.h>

static void create_use_and_revoke(void **state)
{
  (void)state;
  struct http_resp r = {0};
  http(&r, "POST", "/v1/api-keys", ROLE_ADMIN, "{\"role\": \"viewer\", \"name\": \"dashboard\", \"actor\": \"ops@example.com\"}",
       NULL);
  assert_status(&r, 201);
  const char *key = jstr(r.json, "key");
  assert_non_null(key);
  assert_int_equal(strncmp(key, "arc_", 4), 0);
  assert_true(strlen(key) >= 4 + 16 + 1 + 43);
  assert_string_equal(jstr(r.json, "role"), "viewer");
  assert_true(json_is_true(json_object_get(r.json, "active")));
  char id[32], auth[256], loc[64];
  snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
  snprintf(loc, sizeof loc, "/v1/api-keys/%s", id);
  assert_string_equal(r.location, loc);

  /* Only the hash is stored. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM api_keys WHERE secret_sha256::text LIKE '%%%s%%'", key + 21), 0);

  /* The new key works for reading and its role stops writing. */
  const char *const with_key[] = {auth, NULL};
  http(&r, "GET", "/v1/customers", NO_KEY, NULL, with_key);
  assert_status(&r, 200);
  http(&r, "POST", "/v1/customers", NO_KEY, "{\"name\": \"x\"}", with_key);
  assert_problem(&r, 403, "forbidden", NULL);

  /* Get never shows the key again. */
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/api-keys/%s", id);
  assert_status(&r, 200);
  assert_null(json_object_get(r.json, "key"));
  assert_string_equal(jstr(r.json, "name"), "dashboard");
  assert_string_equal(jstr(r.json, "actor"), "ops@example.com");

  /* Revoke: the key stops working at once; revoking again is harmless. */
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/api-keys/%s", id);
  assert_status(&r, 200);
  assert_true(json_is_false(json_object_get(r.json, "active")));
  http(&r, "GET", "/v1/customers", NO_KEY, NULL, with_key);
  assert_problem(&r, 401, "unauthorized", NULL);
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/api-keys/%s", id);
  assert_status(&r, 200);
  http_resp_clear(&r);
}

static void list_filters_and_pages(void **state)
{
  (void)state;
  struct http_resp r = {0};
  for (int i = 0; i < 3; i++) {
    http(&r, "POST", "/v1/api-keys", ROLE_ADMIN, "{\"role\": \"integration\"}", NULL);
    assert_status(&r, 201);
  }
  http(&r, "GET", "/v1/api-keys?role=integration&limit=2", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  json_t *data = json_object_get(r.json, "data");
  assert_int_equal(json_array_size(data), 2);
  assert_null(json_object_get(json_array_get(data, 0), "key"));
  const char *next = jstr(r.json, "next_cursor");
  assert_non_null(next);
  char path[128];
  snprintf(path, sizeof path, "/v1/api-keys?role=integration&limit=2&cursor=%s", next);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  /* The harness made one integration key, this test three more. */
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 2);
  assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
  http(&r, "GET", "/v1/api-keys?active=maybe", ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 422, "validation", "active");
  http_resp_clear(&r);
}

static const struct step errors[] = {
    {"missing role", "POST", "/v1/api-keys", ROLE_ADMIN, "{}", 422, "validation", "role"},
    {"unknown role", "POST", "/v1/api-keys", ROLE_ADMIN, "{\"role\": \"root\"}", 422, "validation", "role"},
    {"role of wrong type", "POST", "/v1/api-keys", ROLE_ADMIN, "{\"role\": 1}", 422, "validation", "role"},
    {"unknown field", "POST", "/v1/api-keys", ROLE_ADMIN, "{\"role\": \"viewer\", \"secret\": \"x\"}", 422,
     "validation", "secret"},
    {"name too long", "POST", "/v1/api-keys", ROLE_ADMIN,
     "{\"role\": \"viewer\", \"name\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
     422, "validation", "name"},
    {"manager may not", "POST", "/v1/api-keys", ROLE_MANAGER, "{\"role\": \"admin\"}", 403, "forbidden", NULL},
    {"collector may not list", "GET", "/v1/api-keys", ROLE_COLLECTOR, NULL, 403, "forbidden", NULL},
    {"viewer may not get", "GET", "/v1/api-keys/0123456789abcdef", ROLE_VIEWER, NULL, 403, "forbidden", NULL},
    {"integration may not revoke", "DELETE", "/v1/api-keys/0123456789abcdef", ROLE_INTEGRATION, NULL, 403,
     "forbidden", NULL},
    {"no key", "GET", "/v1/api-keys", NO_KEY, NULL, 401, "unauthorized", NULL},
    {"unknown id", "GET", "/v1/api-keys/0123456789abcdef", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"malformed id", "GET", "/v1/api-keys/'%20OR%201=1", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"revoke unknown", "DELETE", "/v1/api-keys/0123456789abcdef", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"patch not allowed", "PATCH", "/v1/api-keys/0123456789abcdef", ROLE_ADMIN, "{}", 405,
     "method-not-allowed", NULL},
};

static void error_cases(void **state)
{
  (void)state;
  long long before = harness_sql_int("SELECT count(*) FROM api_keys");
  run_steps(errors, sizeof errors / sizeof errors[0]);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM api_keys"), before);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(create_use_and_revoke),
      cmocka_unit_test(list_filters_and_pages),
      cmocka_unit_test(error_cases),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
