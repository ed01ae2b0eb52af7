/* Who may call what, over THE route table: every route × every role.
 * Public routes never ask for a key; /v1 routes answer 401 without one,
 * 403 for a role the route does not list, and let listed roles through
 * (to whatever the handler says about a nonexistent id or an empty body). */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#include "arc/router.h"

static const enum role who_all[] = {ROLE_ADMIN, ROLE_MANAGER, ROLE_COLLECTOR, ROLE_VIEWER, ROLE_INTEGRATION,
                                    NO_KEY};

static const char *who_name(enum role r) { return r == NO_KEY ? "no key" : role_name(r); }

/* The pattern with every {param} replaced by an id that does not exist. */
static void concrete_path(const char *pattern, char *out, size_t size)
{
  size_t o = 0;
  for (const char *p = pattern; *p && o + 10 < size;) {
    if (*p == '{') {
      memcpy(out + o, "999999999", 9);
      o += 9;
      const char *close = strchr(p, '}');
      assert_non_null(close);
      p = close + 1;
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
}

static int has_body(enum http_method m) { return m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH; }

/* Sends METHOD (a route's, or HEAD for a GET route) as WHO and checks the
 * access decision; returns the status. */
static long check_access(const struct route *rt, const char *method, enum role who)
{
  char path[256];
  concrete_path(rt->pattern, path, sizeof path);
  struct http_resp r = {0};
  http(&r, method, path, who, has_body(rt->method) ? "{}" : NULL, NULL);
  long st = r.status;
  int head = strcmp(method, "HEAD") == 0;
  if (st <= 0)
    fail_msg("%s %s as %s: no answer", method, path, who_name(who));
  if (rt->roles == 0) {
    if (st == 401 || st == 403)
      fail_msg("public %s %s answered %ld to %s: %s", method, path, st, who_name(who), r.body ? r.body : "");
  } else if (who == NO_KEY) {
    if (st != 401)
      fail_msg("%s %s without a key: expected 401, got %ld: %s", method, path, st, r.body ? r.body : "");
    if (!head)
      assert_problem(&r, 401, "unauthorized", NULL);
  } else if (!(rt->roles & who)) {
    if (st != 403)
      fail_msg("%s %s as %s: expected 403, got %ld: %s", method, path, who_name(who), st, r.body ? r.body : "");
    if (!head) {
      assert_problem(&r, 403, "forbidden", NULL);
      /* The detail names the role, so a caller learns why. */
      const char *detail = jstr(r.json, "detail");
      assert_non_null(detail);
      assert_non_null(strstr(detail, role_name(who)));
    }
  } else if (st == 401 || st == 403) {
    fail_msg("%s %s as %s (allowed): got %ld: %s", method, path, who_name(who), st, r.body ? r.body : "");
  }
  /* Let through, a nonexistent id or an empty body is the client's error
   * (or nothing to do), never the server's. */
  if (st >= 500)
    fail_msg("%s %s as %s: got %ld: %s", method, path, who_name(who), st, r.body ? r.body : "");
  http_resp_clear(&r);
  return st;
}

static void every_route_every_role(void **state)
{
  (void)state;
  size_t checked = 0;
  for (size_t i = 0; i < arc_routes_count; i++) {
    const struct route *rt = &arc_routes[i];
    for (size_t w = 0; w < sizeof who_all / sizeof who_all[0]; w++) {
      check_access(rt, http_method_name(rt->method), who_all[w]);
      checked++;
      /* HEAD goes through the same door as GET. */
      if (rt->method == HTTP_GET) {
        check_access(rt, "HEAD", who_all[w]);
        checked++;
      }
    }
  }
  assert_true(checked >= arc_routes_count * 6);
}

/* The roles check comes before the body is read: a forbidden caller learns
 * nothing about its body, and a keyless one is told about the key first. */
static void access_decided_before_the_body(void **state)
{
  (void)state;
  struct http_resp r = {0};
  http(&r, "POST", "/v1/customers", ROLE_VIEWER, "{\"name\": ", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", "/v1/customers", NO_KEY, "{\"name\": ", NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  http_raw(&r, "POST", "/v1/invoices", ROLE_COLLECTOR, "x=1", 3, "application/x-www-form-urlencoded", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http_resp_clear(&r);
}

/* A forbidden write changes nothing. */
static void forbidden_writes_change_nothing(void **state)
{
  (void)state;
  long long before = harness_sql_int("SELECT count(*) FROM customers");
  long long keys_before = harness_sql_int("SELECT count(*) FROM api_keys");
  struct http_resp r = {0};
  http(&r, "POST", "/v1/customers", ROLE_VIEWER, "{\"name\": \"Forbidden Co\"}", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", "/v1/customers", ROLE_COLLECTOR, "{\"name\": \"Forbidden Co\"}", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "PUT", "/v1/customers/external/forbidden-1", ROLE_VIEWER, "{\"name\": \"Forbidden Co\"}", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", "/v1/api-keys", ROLE_MANAGER, "{\"role\": \"admin\"}", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", "/v1/api-keys", ROLE_INTEGRATION, "{\"role\": \"admin\"}", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers"), before);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE name = 'Forbidden Co'"), 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM api_keys"), keys_before);
  http_resp_clear(&r);
}

/* The ledger policy spelled out, independent of the table's macros. */
static void ledger_policy(void **state)
{
  (void)state;
  struct http_resp r = {0};
  /* Viewers read, never write. */
  http(&r, "GET", "/v1/customers", ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  http(&r, "POST", "/v1/customers", ROLE_VIEWER, "{}", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "PATCH", "/v1/customers/999999999", ROLE_VIEWER, "{}", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", "/v1/payments/999999999/reversal", ROLE_VIEWER, "{}", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  /* Collectors keep contacts current but do not touch money. Allowed
   * requests get past the role check to the body's or the row's checks. */
  http(&r, "POST", "/v1/customers/999999999/contacts", ROLE_COLLECTOR, "{}", NULL);
  assert_problem(&r, 422, "validation", "name");
  http(&r, "PATCH", "/v1/customers/999999999/contacts/999999999", ROLE_COLLECTOR, "{}", NULL);
  assert_problem(&r, 404, "not-found", NULL);
  http(&r, "POST", "/v1/invoices", ROLE_COLLECTOR, "{}", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", "/v1/payments", ROLE_COLLECTOR, "{}", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", "/v1/invoices/999999999/adjustments", ROLE_COLLECTOR, "{}", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "PATCH", "/v1/customers/999999999", ROLE_COLLECTOR, "{}", NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  /* Integrations sync the books: payments, invoices, customers. */
  http(&r, "POST", "/v1/payments", ROLE_INTEGRATION, "{}", NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  http(&r, "PUT", "/v1/invoices/external/x-1", ROLE_INTEGRATION, "{}", NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  http(&r, "POST", "/v1/payments/999999999/reversal", ROLE_MANAGER, "{}", NULL);
  assert_problem(&r, 422, "validation", "reason");
  http_resp_clear(&r);
}

static void only_admin_manages_keys(void **state)
{
  (void)state;
  struct http_resp r = {0};
  http(&r, "GET", "/v1/api-keys", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  static const enum role others[] = {ROLE_MANAGER, ROLE_COLLECTOR, ROLE_VIEWER, ROLE_INTEGRATION};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    http(&r, "GET", "/v1/api-keys", others[i], NULL, NULL);
    assert_problem(&r, 403, "forbidden", NULL);
    http(&r, "POST", "/v1/api-keys", others[i], "{\"role\": \"viewer\"}", NULL);
    assert_problem(&r, 403, "forbidden", NULL);
    /* Not even its own key: a key cannot inspect or revoke itself. */
    char path[128];
    snprintf(path, sizeof path, "/v1/api-keys/%.16s", tok(others[i]) + 4);
    http(&r, "GET", path, others[i], NULL, NULL);
    assert_problem(&r, 403, "forbidden", NULL);
    http(&r, "DELETE", path, others[i], NULL, NULL);
    assert_problem(&r, 403, "forbidden", NULL);
    /* The key still works: the refused DELETE revoked nothing. */
    http(&r, "GET", "/v1/customers", others[i], NULL, NULL);
    assert_status(&r, 200);
  }
  http_resp_clear(&r);
}

/* A revoked key is a missing key, for every role's routes. */
static void revoked_key_is_unauthorized(void **state)
{
  (void)state;
  struct http_resp r = {0};
  http(&r, "POST", "/v1/api-keys", ROLE_ADMIN, "{\"role\": \"manager\", \"name\": \"soon revoked\"}", NULL);
  assert_status(&r, 201);
  char token[160], key_id[32];
  snprintf(token, sizeof token, "Authorization: Bearer %s", jstr(r.json, "key"));
  snprintf(key_id, sizeof key_id, "%s", jstr(r.json, "id"));
  const char *const auth[] = {token, NULL};
  http(&r, "GET", "/v1/customers", NO_KEY, NULL, auth);
  assert_status(&r, 200);
  char path[96];
  snprintf(path, sizeof path, "/v1/api-keys/%s", key_id);
  http(&r, "DELETE", path, ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  http(&r, "GET", "/v1/customers", NO_KEY, NULL, auth);
  assert_problem(&r, 401, "unauthorized", NULL);
  http(&r, "POST", "/v1/customers", NO_KEY, "{}", auth);
  assert_problem(&r, 401, "unauthorized", NULL);
  http_resp_clear(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_route_every_role),
      cmocka_unit_test(access_decided_before_the_body),
      cmocka_unit_test(forbidden_writes_change_nothing),
      cmocka_unit_test(ledger_policy),
      cmocka_unit_test(only_admin_manages_keys),
      cmocka_unit_test(revoked_key_is_unauthorized),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
