/* Path matching (params, percent-decoding, 404 vs 405, HEAD, precedence)
 * and the shape of THE route table itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arc/auth.h"
#include "arc/handlers.h"
#include "arc/router.h"

static unsigned h_dummy(struct request *rq, struct reply *rp)
{
  (void)rq;
  (void)rp;
  return 0;
}

static const struct route table[] = {
    {HTTP_GET, "/v1/things", h_dummy, ROLES_ALL, 0},
    {HTTP_POST, "/v1/things", h_dummy, ROLE_ADMIN, 0},
    {HTTP_PUT, "/v1/things/special/{key}", h_dummy, ROLE_ADMIN, 0},
    {HTTP_GET, "/v1/things/{id}", h_dummy, ROLES_ALL, 0},
    {HTTP_PATCH, "/v1/things/{id}", h_dummy, ROLE_ADMIN, 0},
    {HTTP_GET, "/v1/things/{id}/parts/{part_id}", h_dummy, ROLES_ALL, 0},
    {HTTP_POST, "/v1/only-post", h_dummy, ROLE_ADMIN, 0},
    {HTTP_GET, "/{a}/{b}/{c}/{d}/{e}", h_dummy, ROLES_ALL, 0}, /* more params than a request holds */
};
#define N_TABLE (sizeof table / sizeof table[0])

/* Matches and asserts the result; returns the route index or -1. */
static int match(enum http_method m, const char *path, enum router_result want, struct route_match *out)
{
  enum router_result got = router_match(table, N_TABLE, m, path, out);
  if (got != want)
    fail_msg("%s %s: expected router result %d, got %d", http_method_name(m), path, (int)want, (int)got);
  return out->route ? (int)(out->route - table) : -1;
}

static void params_extracted(void **state)
{
  (void)state;
  struct route_match m;
  assert_int_equal(match(HTTP_GET, "/v1/things", ROUTER_FOUND, &m), 0);
  assert_null(m.params[0]);
  route_match_clear(&m);
  assert_int_equal(match(HTTP_POST, "/v1/things", ROUTER_FOUND, &m), 1);
  route_match_clear(&m);
  assert_int_equal(match(HTTP_GET, "/v1/things/42", ROUTER_FOUND, &m), 3);
  assert_string_equal(m.params[0], "42");
  assert_null(m.params[1]);
  route_match_clear(&m);
  assert_null(m.params[0]);
  assert_int_equal(match(HTTP_PATCH, "/v1/things/abc-DEF_1.2", ROUTER_FOUND, &m), 4);
  assert_string_equal(m.params[0], "abc-DEF_1.2");
  route_match_clear(&m);
  assert_int_equal(match(HTTP_GET, "/v1/things/42/parts/7", ROUTER_FOUND, &m), 5);
  assert_string_equal(m.params[0], "42");
  assert_string_equal(m.params[1], "7");
  route_match_clear(&m);
}

static void percent_decoding(void **state)
{
  (void)state;
  struct route_match m;
  assert_int_equal(match(HTTP_GET, "/v1/things/a%2Fb", ROUTER_FOUND, &m), 3);
  assert_string_equal(m.params[0], "a/b");
  route_match_clear(&m);
  assert_int_equal(match(HTTP_GET, "/v1/things/a%2fb", ROUTER_FOUND, &m), 3);
  assert_string_equal(m.params[0], "a/b");
  route_match_clear(&m);
  assert_int_equal(match(HTTP_PUT, "/v1/things/special/ERP%20%23%3F%25", ROUTER_FOUND, &m), 2);
  assert_string_equal(m.params[0], "ERP #?%");
  route_match_clear(&m);
  /* UTF-8 bytes come through as bytes. */
  assert_int_equal(match(HTTP_GET, "/v1/things/%C3%A9", ROUTER_FOUND, &m), 3);
  assert_string_equal(m.params[0], "\xc3\xa9");
  route_match_clear(&m);
  /* Malformed escapes, NUL and bytes that are not UTF-8 make the segment unmatchable. */
  static const char *const bad[] = {
      "/v1/things/%zz", "/v1/things/%",    "/v1/things/a%",     "/v1/things/a%4",    "/v1/things/%4g",
      "/v1/things/%00", "/v1/things/a%00b", "/v1/things/%g1",   "/v1/things/%C3",    "/v1/things/%FF",
      "/v1/things/%C0%AF", "/v1/things/%ED%A0%80", "/v1/things/\xff", "/v1/things/\xc3(",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    match(HTTP_GET, bad[i], ROUTER_NOT_FOUND, &m);
    assert_null(m.route);
    assert_null(m.params[0]);
  }
  /* A bad escape in a later segment frees the params taken before it (LSan). */
  match(HTTP_GET, "/v1/things/42/parts/%zz", ROUTER_NOT_FOUND, &m);
  assert_null(m.params[0]);
}

static void percent_decode_alone(void **state)
{
  (void)state;
  static const struct {
    const char *in;
    int plus_is_space;
    const char *out; /* NULL: refused */
  } cases[] = {
      {"abc", 0, "abc"},
      {"", 0, ""},
      {"a%20b", 0, "a b"},
      {"a+b", 0, "a+b"},
      {"a+b", 1, "a b"},
      {"%2B", 1, "+"},   /* an escaped plus stays a plus */
      {"%2b%2F", 0, "+/"},
      {"%C3%A9t%C3%A9", 1, "\xc3\xa9t\xc3\xa9"},
      {"%F4%8F%BF%BF", 0, "\xf4\x8f\xbf\xbf"}, /* U+10FFFF */
      {"%", 0, NULL},
      {"%4", 0, NULL},
      {"a%4", 0, NULL},
      {"%zz", 0, NULL},
      {"%-1", 0, NULL},
      {"%00", 0, NULL},
      {"%C3", 0, NULL},          /* truncated sequence */
      {"%C3%28", 0, NULL},
      {"%C0%AF", 0, NULL},       /* overlong "/" */
      {"%ED%A0%80", 0, NULL},    /* UTF-16 surrogate */
      {"%F4%90%80%80", 0, NULL}, /* past U+10FFFF */
      {"\xff", 0, NULL},         /* raw bytes are checked too */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *got = percent_decode(cases[i].in, strlen(cases[i].in), cases[i].plus_is_space);
    if (!cases[i].out && got)
      fail_msg("percent_decode(%s) should be refused, got '%s'", cases[i].in, got);
    if (cases[i].out && (!got || strcmp(got, cases[i].out) != 0))
      fail_msg("percent_decode(%s) gave '%s'", cases[i].in, got ? got : "(refused)");
    free(got);
  }
  /* Only LEN bytes are read. */
  char *got = percent_decode("ab%41%zz", 5, 0);
  assert_string_equal(got, "abA");
  free(got);
}

static void not_found(void **state)
{
  (void)state;
  struct route_match m;
  static const char *const paths[] = {
      "/v1/nothing", "/v1/thing", "/v1/thingsx", "/v1/things/", "/v1/things/42/", "/v1//things",
      "/v1/things//parts", "/v1/things/42/parts", "/v1/things/42/parts/", "/v1/things/42/parts/7/x",
      "//v1/things", "v1/things", "", "/", "/v1", "/V1/things", "/v1/things/42/extra",
  };
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    match(HTTP_GET, paths[i], ROUTER_NOT_FOUND, &m);
    assert_int_equal(m.allowed, 0);
  }
}

static void too_many_params(void **state)
{
  (void)state;
  struct route_match m;
  /* Five {params} exceed REQUEST_MAX_PARAMS: the pattern never matches. */
  match(HTTP_GET, "/a/b/c/d/e", ROUTER_NOT_FOUND, &m);
}

static void method_not_allowed(void **state)
{
  (void)state;
  struct route_match m;
  match(HTTP_DELETE, "/v1/things", ROUTER_METHOD_NOT_ALLOWED, &m);
  assert_int_equal(m.allowed, HTTP_GET | HTTP_POST);
  assert_null(m.params[0]);
  match(HTTP_PUT, "/v1/things/42", ROUTER_METHOD_NOT_ALLOWED, &m);
  assert_int_equal(m.allowed, HTTP_GET | HTTP_PATCH);
  assert_null(m.params[0]); /* nothing to free on 405 */
  match(HTTP_GET, "/v1/only-post", ROUTER_METHOD_NOT_ALLOWED, &m);
  assert_int_equal(m.allowed, HTTP_POST);
  /* An unknown method (0) is never found. */
  match(0, "/v1/things", ROUTER_METHOD_NOT_ALLOWED, &m);
  assert_int_equal(m.allowed, HTTP_GET | HTTP_POST);
  /* Four segments with the literal "special": only the PUT route fits. */
  match(HTTP_GET, "/v1/things/special/x", ROUTER_METHOD_NOT_ALLOWED, &m);
  assert_int_equal(m.allowed, HTTP_PUT);
  /* "/v1/things/special" is an {id}. */
  assert_int_equal(match(HTTP_GET, "/v1/things/special", ROUTER_FOUND, &m), 3);
  assert_string_equal(m.params[0], "special");
  route_match_clear(&m);
}

static void head_is_get(void **state)
{
  (void)state;
  struct route_match m;
  assert_int_equal(match(HTTP_HEAD, "/v1/things", ROUTER_FOUND, &m), 0);
  route_match_clear(&m);
  assert_int_equal(match(HTTP_HEAD, "/v1/things/9", ROUTER_FOUND, &m), 3);
  assert_string_equal(m.params[0], "9");
  route_match_clear(&m);
  /* No GET, no HEAD. */
  match(HTTP_HEAD, "/v1/only-post", ROUTER_METHOD_NOT_ALLOWED, &m);
  assert_int_equal(m.allowed, HTTP_POST);
}

static void real_table_precedence(void **state)
{
  (void)state;
  struct route_match m;
  /* The literal "external" segment wins for PUT … */
  assert_int_equal(router_match(arc_routes, arc_routes_count, HTTP_PUT, "/v1/customers/external/x", &m),
                   ROUTER_FOUND);
  assert_ptr_equal(m.route->handler, customers_upsert);
  assert_string_equal(m.params[0], "x");
  route_match_clear(&m);
  /* … and an external id that looks like a sub-resource is still an external id. */
  assert_int_equal(
      router_match(arc_routes, arc_routes_count, HTTP_PUT, "/v1/customers/external/contacts", &m),
      ROUTER_FOUND);
  assert_ptr_equal(m.route->handler, customers_upsert);
  assert_string_equal(m.params[0], "contacts");
  route_match_clear(&m);
  /* GET and POST of the same path are the contacts of a customer whose id is "external". */
  assert_int_equal(
      router_match(arc_routes, arc_routes_count, HTTP_GET, "/v1/customers/external/contacts", &m),
      ROUTER_FOUND);
  assert_ptr_equal(m.route->handler, contacts_list);
  assert_string_equal(m.params[0], "external");
  route_match_clear(&m);
  assert_int_equal(
      router_match(arc_routes, arc_routes_count, HTTP_DELETE, "/v1/customers/external/contacts", &m),
      ROUTER_METHOD_NOT_ALLOWED);
  assert_int_equal(m.allowed, HTTP_GET | HTTP_POST | HTTP_PUT);
  /* Invoices and payments follow the same rule. */
  assert_int_equal(router_match(arc_routes, arc_routes_count, HTTP_PUT, "/v1/invoices/external/INV%2F1", &m),
                   ROUTER_FOUND);
  assert_ptr_equal(m.route->handler, invoices_upsert);
  assert_string_equal(m.params[0], "INV/1");
  route_match_clear(&m);
  assert_int_equal(router_match(arc_routes, arc_routes_count, HTTP_PUT, "/v1/payments/external/p-1", &m),
                   ROUTER_FOUND);
  assert_ptr_equal(m.route->handler, payments_upsert);
  route_match_clear(&m);
  assert_int_equal(router_match(arc_routes, arc_routes_count, HTTP_POST, "/v1/payments/12/reversal", &m),
                   ROUTER_FOUND);
  assert_ptr_equal(m.route->handler, payments_reverse);
  assert_string_equal(m.params[0], "12");
  route_match_clear(&m);
  assert_int_equal(router_match(arc_routes, arc_routes_count, HTTP_GET, "/v1/customers/3/contacts/4", &m),
                   ROUTER_FOUND);
  assert_ptr_equal(m.route->handler, contacts_get);
  assert_string_equal(m.params[0], "3");
  assert_string_equal(m.params[1], "4");
  route_match_clear(&m);
  assert_int_equal(router_match(arc_routes, arc_routes_count, HTTP_DELETE, "/v1/customers", &m),
                   ROUTER_METHOD_NOT_ALLOWED);
  assert_int_equal(m.allowed, HTTP_GET | HTTP_POST);
}

static void allow_header(void **state)
{
  (void)state;
  char buf[128];
  router_allow_header(HTTP_GET, buf, sizeof buf);
  assert_string_equal(buf, "GET, HEAD");
  router_allow_header(HTTP_GET | HTTP_POST, buf, sizeof buf);
  assert_string_equal(buf, "GET, HEAD, POST");
  router_allow_header(HTTP_POST | HTTP_PATCH, buf, sizeof buf);
  assert_string_equal(buf, "POST, PATCH");
  router_allow_header(HTTP_GET | HTTP_PUT | HTTP_PATCH | HTTP_DELETE, buf, sizeof buf);
  assert_string_equal(buf, "GET, HEAD, PUT, PATCH, DELETE");
  router_allow_header(0, buf, sizeof buf);
  assert_string_equal(buf, "");
  /* A short buffer is truncated, never overrun. */
  char small[8];
  memset(small, 'Z', sizeof small);
  router_allow_header(HTTP_GET | HTTP_POST | HTTP_PATCH, small, sizeof small);
  assert_true(strlen(small) < sizeof small);
  assert_memory_equal(small, "GET, HE", 7);
}

static void method_names(void **state)
{
  (void)state;
  static const enum http_method all[] = {HTTP_GET,    HTTP_POST, HTTP_PUT,    HTTP_PATCH,
                                         HTTP_DELETE, HTTP_HEAD, HTTP_OPTIONS};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    assert_int_equal(http_method_parse(http_method_name(all[i])), all[i]);
  assert_int_equal(http_method_parse("get"), 0);
  assert_int_equal(http_method_parse("TRACE"), 0);
  assert_int_equal(http_method_parse(""), 0);
  assert_string_equal(http_method_name(0), "?");
}

/* ---- THE route table ---- */

static int is_public_pattern(const char *p)
{
  return strcmp(p, "/healthz") == 0 || strcmp(p, "/readyz") == 0 || strcmp(p, "/openapi.json") == 0 ||
         strcmp(p, "/metrics") == 0;
}

static void table_patterns_well_formed(void **state)
{
  (void)state;
  assert_true(arc_routes_count > 0);
  for (size_t i = 0; i < arc_routes_count; i++) {
    const struct route *r = &arc_routes[i];
    if (r->pattern[0] != '/')
      fail_msg("route %zu: pattern '%s' does not start with /", i, r->pattern);
    size_t len = strlen(r->pattern);
    if (len > 1 && r->pattern[len - 1] == '/')
      fail_msg("route %zu: pattern '%s' ends with /", i, r->pattern);
    if (strstr(r->pattern, "//"))
      fail_msg("route %zu: pattern '%s' has an empty segment", i, r->pattern);
    if (!r->handler)
      fail_msg("route %zu: %s has no handler", i, r->pattern);
    if (http_method_parse(http_method_name(r->method)) != r->method || r->method == HTTP_HEAD)
      fail_msg("route %zu: %s has a bad method", i, r->pattern);
    if (r->roles & ~(unsigned)ROLES_ALL)
      fail_msg("route %zu: %s names an unknown role", i, r->pattern);
    size_t params = 0;
    for (const char *p = r->pattern; *p; p++)
      params += *p == '{';
    if (params > REQUEST_MAX_PARAMS)
      fail_msg("route %zu: %s has more params than a request holds", i, r->pattern);
  }
}

static void table_no_duplicates(void **state)
{
  (void)state;
  for (size_t i = 0; i < arc_routes_count; i++)
    for (size_t j = i + 1; j < arc_routes_count; j++)
      if (arc_routes[i].method == arc_routes[j].method &&
          strcmp(arc_routes[i].pattern, arc_routes[j].pattern) == 0)
        fail_msg("routes %zu and %zu are both %s %s", i, j, http_method_name(arc_routes[i].method),
                 arc_routes[i].pattern);
}

static void table_roles(void **state)
{
  (void)state;
  size_t public_seen = 0;
  for (size_t i = 0; i < arc_routes_count; i++) {
    const struct route *r = &arc_routes[i];
    if (strncmp(r->pattern, "/v1/", 4) == 0 && r->roles == 0)
      fail_msg("%s %s is under /v1 but public", http_method_name(r->method), r->pattern);
    if (r->roles == 0) {
      if (!is_public_pattern(r->pattern))
        fail_msg("%s %s is public but not one of /healthz, /readyz, /openapi.json, /metrics",
                 http_method_name(r->method), r->pattern);
      assert_int_equal(r->method, HTTP_GET);
      public_seen++;
    } else if (is_public_pattern(r->pattern)) {
      fail_msg("%s must be public", r->pattern);
    }
    if (strncmp(r->pattern, "/v1/", 4) != 0 && !is_public_pattern(r->pattern))
      fail_msg("%s is neither under /v1 nor a known public route", r->pattern);
    /* The policy: every role reads, viewers never write, API keys are admin's
     * alone, the scheduler's run log is for those who run it, and webhook
     * subscriptions (which hold secrets) for admins and integrations. */
    if (strncmp(r->pattern, "/v1/api-keys", 12) == 0)
      assert_int_equal(r->roles, ROLE_ADMIN);
    else if (strncmp(r->pattern, "/v1/webhooks", 12) == 0)
      assert_int_equal(r->roles, ROLE_ADMIN | ROLE_INTEGRATION);
    else if (strncmp(r->pattern, "/v1/scheduler/", 14) == 0)
      assert_int_equal(r->roles & ~(ROLE_ADMIN | ROLE_MANAGER), 0);
    else if (r->roles && r->method == HTTP_GET)
      assert_int_equal(r->roles, ROLES_ALL);
    else if (r->roles)
      assert_true((r->roles & ROLE_VIEWER) == 0);
  }
  assert_int_equal(public_seen, 4);
}

/* Every route can be reached: a concrete path built from its pattern
 * routes back to it, not to an earlier pattern that shadows it. */
static void table_every_route_reachable(void **state)
{
  (void)state;
  for (size_t i = 0; i < arc_routes_count; i++) {
    const struct route *r = &arc_routes[i];
    char path[256];
    size_t o = 0;
    for (const char *p = r->pattern; *p && o < sizeof path - 8;) {
      if (*p == '{') {
        memcpy(path + o, "123", 3);
        o += 3;
        p = strchr(p, '}') + 1;
      } else {
        path[o++] = *p++;
      }
    }
    path[o] = '\0';
    struct route_match m;
    enum router_result rr = router_match(arc_routes, arc_routes_count, r->method, path, &m);
    if (rr != ROUTER_FOUND || m.route != r)
      fail_msg("%s %s (from %s) routes elsewhere", http_method_name(r->method), path, r->pattern);
    route_match_clear(&m);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(params_extracted),
      cmocka_unit_test(percent_decoding),
      cmocka_unit_test(percent_decode_alone),
      cmocka_unit_test(not_found),
      cmocka_unit_test(too_many_params),
      cmocka_unit_test(method_not_allowed),
      cmocka_unit_test(head_is_get),
      cmocka_unit_test(real_table_precedence),
      cmocka_unit_test(allow_header),
      cmocka_unit_test(method_names),
      cmocka_unit_test(table_patterns_well_formed),
      cmocka_unit_test(table_no_duplicates),
      cmocka_unit_test(table_roles),
      cmocka_unit_test(table_every_route_reachable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
