/* GET /v1/meta: every role reads the business day, its time zone, the
 * playbook in force (this program runs the server with a cadence and a
 * goal of its own, so defaults would not pass) and itself. */
#include "harness.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
  setenv("ARC_CADENCE_DAYS", "4", 1);
  setenv("ARC_RECEIVABLES_GOAL_PCT", "65", 1);
  setenv("ARC_MANAGEMENT_ASSIGNEE", "head.of.ar@example.com", 1);
  return harness_setup(state);
}

static void every_role_reads_it(void **state)
{
  (void)state;
  static const enum role roles[] = {ROLE_ADMIN, ROLE_MANAGER, ROLE_COLLECTOR, ROLE_VIEWER, ROLE_INTEGRATION};
  static const char *const names[] = {"admin", "manager", "collector", "viewer", "integration"};
  static const char *const actors[] = {"admin@example.com", "manager@example.com", "collector@example.com",
                                       "viewer@example.com", "integration:crm"};
  char today[16];
  day(today, 0);
  for (size_t i = 0; i < 5; i++) {
    struct http_resp r = {0};
    http(&r, "GET", "/v1/meta", roles[i], NULL, NULL);
    assert_status(&r, 200);
    assert_string_equal(jstr(r.json, "today"), today);
    assert_string_equal(jstr(r.json, "timezone"), tz());
    assert_non_null(jstr(r.json, "now"));
    json_t *caller = json_object_get(r.json, "caller");
    assert_string_equal(jstr(caller, "role"), names[i]);
    assert_string_equal(jstr(caller, "actor"), actors[i]);
    const char *key_id = jstr(caller, "key_id");
    assert_int_equal(strlen(key_id), 16);
    for (const char *c = key_id; *c; c++)
      assert_true(isxdigit((unsigned char)*c));
    /* The key's id is the one in its token: arc_<id>_<secret>. */
    assert_int_equal(strncmp(tok(roles[i]) + 4, key_id, 16), 0);
    http_resp_clear(&r);
  }
}

static void the_playbook_in_force(void **state)
{
  (void)state;
  struct http_resp r = {0};
  http(&r, "GET", "/v1/meta", ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  json_t *p = json_object_get(r.json, "playbook");
  assert_int_equal(jint(p, "cadence_days"), 4);
  assert_int_equal(jint(p, "receivables_goal_pct"), 65);
  assert_string_equal(jstr(p, "management_assignee"), "head.of.ar@example.com");
  assert_int_equal(jint(p, "promise_grace_days"), 1);
  assert_int_equal(jint(p, "consumer_max_attempts"), 7);
  assert_int_equal(jint(p, "business_hours_start"), 8);
  assert_int_equal(jint(p, "business_hours_end"), 18);
  assert_int_equal(json_object_size(p), 15);
  http_resp_clear(&r);
}

/* Each currency's decimals, to format amounts (ISO 4217, from ICU), and
 * the same decimals in the messages that state amounts. */
static void currencies_and_money(void **state)
{
  (void)state;
  struct http_resp r = {0};
  http(&r, "GET", "/v1/meta", ROLE_COLLECTOR, NULL, NULL);
  assert_status(&r, 200);
  json_t *c = json_object_get(r.json, "currencies");
  assert_true(json_object_size(c) > 100);
  assert_int_equal(jint(c, "USD"), 2);
  assert_int_equal(jint(c, "EUR"), 2);
  assert_int_equal(jint(c, "JPY"), 0);
  assert_int_equal(jint(c, "KWD"), 3);
  assert_int_equal(jint(c, "BHD"), 3);
  http_resp_clear(&r);
  static const char *const money[][3] = {
      {"1250000", "USD", "USD 12,500.00"}, {"500000", "JPY", "JPY 500,000"}, {"1250", "KWD", "KWD 1.250"},
      {"-5", "EUR", "EUR -0.05"},          {"0", "USD", "USD 0.00"},         {"123456789", "ZZZ", "ZZZ 1,234,567.89"},
  };
  for (size_t i = 0; i < sizeof money / sizeof money[0]; i++) {
    char *got = harness_sql("SELECT arc_money(%s, '%s')", money[i][0], money[i][1]);
    assert_string_equal(got, money[i][2]);
    free(got);
  }
  /* A dispute over more than a yen invoice's amount; a payment allocating
   * more than a dinar invoice's balance. */
  char cus[32], yen[32], dinar[32], body[512], today[16];
  day(today, 0);
  create_id(cus, "/v1/customers", "{\"name\": \"Money Ltd\"}");
  sql_invoice(yen, .customer = cus, .currency = "JPY", .amount = 500000);
  sql_invoice(dinar, .customer = cus, .currency = "KWD", .amount = 1250);
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 600000}", yen);
  http(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, body, NULL);
  assert_problem(&r, 422, "validation", "amount");
  if (!strstr(r.body, "must not be more than the invoice amount of JPY 500,000"))
    fail_msg("no yen in %s", r.body);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 2000, \"currency\": \"KWD\", \"received_on\": \"%s\", "
           "\"method\": \"wire\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 2000}]}",
           cus, today, dinar);
  http(&r, "POST", "/v1/payments", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 409, "over-allocation", "allocations[0].amount");
  if (!strstr(r.body, "KWD 2.000 is more than the balance of KWD 1.250 left on invoice"))
    fail_msg("no dinars in %s", r.body);
  http_resp_clear(&r);
}

static void a_key_without_an_actor(void **state)
{
  (void)state;
  struct http_resp r = {0};
  http(&r, "POST", "/v1/api-keys", ROLE_ADMIN, "{\"role\": \"viewer\", \"name\": \"meta\"}", NULL);
  assert_status(&r, 201);
  char auth[200], id[32];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", jstr(r.json, "key"));
  snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
  const char *const as_it[] = {auth, NULL};
  http(&r, "GET", "/v1/meta", NO_KEY, NULL, as_it);
  assert_status(&r, 200);
  assert_true(is_null(json_object_get(r.json, "caller"), "actor"));
  assert_string_equal(jstr(json_object_get(r.json, "caller"), "role"), "viewer");
  http_resp_clear(&r);
}

static const struct step errors[] = {
    {"no key", "GET", "/v1/meta", NO_KEY, NULL, 401, "unauthorized", NULL},
    {"unknown parameter", "GET", "/v1/meta?verbose=1", ROLE_ADMIN, NULL, 422, "validation", "verbose"},
    {"not writable", "POST", "/v1/meta", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
};

static void error_cases(void **state)
{
  (void)state;
  run_steps(errors, sizeof errors / sizeof errors[0]);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_role_reads_it),
      cmocka_unit_test(the_playbook_in_force),
      cmocka_unit_test(currencies_and_money),
      cmocka_unit_test(a_key_without_an_actor),
      cmocka_unit_test(error_cases),
  };
  return cmocka_run_group_tests(tests, setup, harness_teardown);
}
