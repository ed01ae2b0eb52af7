/* What a sweep has to do (src/schedule/sweep_changes.sql): when nothing the
 * rules read changed since the last sweep of the same business day, no
 * rule runs (the run's kind is "unchanged") — and a full sweep at that
 * point would change nothing either.  Every kind of write through the API
 * makes the next sweep revisit its customer ("incremental",
 * src/schedule/sweep_scope.sql), as does a call log dated between two
 * sweeps or another business day; after each, a full sweep changes
 * nothing.  An earlier as_of, other SQL code and "full": true make it full. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long long revisited; /* of the last sweep_kind; -1 for null */

/* POST /v1/scheduler/runs BODY; 201; the run's kind (static storage). */
static const char *sweep_kind(const char *body)
{
  static char kind[16];
  struct http_resp r = {0};
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  snprintf(kind, sizeof kind, "%s", jstr(r.json, "kind"));
  if (strcmp(kind, "unchanged") == 0) {
    assert_int_equal(json_object_size(json_object_get(r.json, "created")), 0);
    assert_int_equal(json_object_size(json_object_get(r.json, "closed")), 0);
  }
  revisited = is_null(r.json, "revisited") ? -1 : jint(r.json, "revisited");
  /* Only an incremental sweep says how many customers it revisited. */
  assert_true((strcmp(kind, "incremental") == 0) == (revisited >= 0));
  http_resp_clear(&r);
  return kind;
}

static void expect_kind(const char *when, const char *body, const char *want)
{
  const char *got = sweep_kind(body);
  if (strcmp(got, want) != 0)
    fail_msg("%s: the sweep %s was %s, expected %s", when, body, got, want);
}

/* A full sweep for the instant of the last sweep changes nothing. */
static void expect_full_changes_nothing(const char *when)
{
  char *at = harness_sql("SELECT arc_ts(as_of) FROM scheduler_runs ORDER BY id DESC LIMIT 1");
  sweep_full_changes_nothing(when, at);
  free(at);
}

static char cus[32], inv[32], inv2[32], today[16];

static int setup(void **state)
{
  if (harness_setup(state) != 0)
    return -1;
  day(today, 0);
  sql_customer(cus, "Changes Ltd");
  sql_invoice(inv, .customer = cus, .amount = 50000, .from = today, .issued_in = -40, .due_in = -10);
  sql_invoice(inv2, .customer = cus, .amount = 7000, .from = today, .issued_in = -40, .due_in = -5);
  return 0;
}

/* Nothing changed: no rule runs, and a full sweep then changes no row. */
static void unchanged_is_what_full_would_do(void **state)
{
  (void)state;
  expect_kind("the first", "{}", "full");
  expect_kind("again", "{}", "unchanged");
  char *before = tables_fingerprint(swept_tables);
  long long events = harness_sql_int("SELECT count(*) FROM events");
  expect_kind("asked for", "{\"full\": true}", "full");
  char *after = tables_fingerprint(swept_tables);
  assert_string_equal(before, after);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events"), events);
  free(before);
  free(after);
  expect_kind("after the full one", "{}", "unchanged");
}

/* A write through the API as admin, then sweeps: the first revisits the
 * customer, and a full one then changes nothing; the next finds nothing
 * new. */
static void write_then_sweep(const char *what, const char *method, const char *path, const char *body)
{
  struct http_resp r = {0};
  http(&r, method, path, ROLE_ADMIN, body, NULL);
  if (r.status >= 300)
    fail_msg("%s: %s %s answered %ld: %s", what, method, path, r.status, r.body ? r.body : "");
  http_resp_clear(&r);
  expect_kind(what, "{}", "incremental");
  assert_int_equal(revisited, 1);
  expect_full_changes_nothing(what);
  expect_kind(what, "{}", "unchanged");
}

/* Each write through the API makes the next sweep revisit its customer;
 * the one after it finds nothing new. */
static void every_write_counts(void **state)
{
  (void)state;
  sweep_kind("{}");
  expect_kind("start", "{}", "unchanged");
  char body[512], path[96], on[16], fu[32];
  day(on, 5);
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", "
           "\"outcome\": \"no_answer\"}", cus);
  write_then_sweep("a call log", "POST", "/v1/call-logs", body);
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"amount\": 1000, \"currency\": \"USD\", "
           "\"received_on\": \"%s\", \"method\": \"check\"}", cus, today);
  write_then_sweep("a payment", "POST", "/v1/payments", body);
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"amount\": 2000, \"currency\": \"USD\", "
           "\"promised_on\": \"%s\"}", cus, on);
  write_then_sweep("a promise", "POST", "/v1/promises", body);
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"quantity\", \"amount\": 100}", inv2);
  write_then_sweep("a dispute", "POST", "/v1/disputes", body);
  snprintf(path, sizeof path, "/v1/invoices/%s", inv);
  write_then_sweep("an invoice changed", "PATCH", path, "{\"po_number\": \"PO-7\"}");
  snprintf(path, sizeof path, "/v1/customers/%s", cus);
  write_then_sweep("a customer changed", "PATCH", path, "{\"cadence_days\": 5}");

  /* A snoozed follow-up snoozed to another day: the status stays, no event
   * is written, and still the next sweep looks again. */
  char *id = harness_sql("SELECT id FROM follow_ups WHERE customer_id = %s AND status = 'open' LIMIT 1", cus);
  assert_non_null(id);
  snprintf(fu, sizeof fu, "%s", id);
  free(id);
  snprintf(body, sizeof body, "{\"status\": \"snoozed\", \"snoozed_until\": \"%s\"}", on);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_ADMIN, body, "/v1/follow-ups/%s", fu);
  assert_status(&r, 200);
  http_resp_clear(&r);
  expect_kind("snoozed", "{}", "incremental");
  expect_kind("snoozed", "{}", "unchanged");
  long long events = harness_sql_int("SELECT count(*) FROM events");
  day(on, 6);
  snprintf(body, sizeof body, "{\"status\": \"snoozed\", \"snoozed_until\": \"%s\"}", on);
  httpf(&r, "PATCH", ROLE_ADMIN, body, "/v1/follow-ups/%s", fu);
  assert_status(&r, 200);
  http_resp_clear(&r);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events"), events);
  expect_kind("snoozed to another day", "{}", "incremental");
  expect_kind("snoozed to another day", "{}", "unchanged");
}

/* Instants, days, code. */
static void when_the_rules_would_read_something_else(void **state)
{
  (void)state;
  char base[16], at[40], body[96];
  date_plus(base, today, -20);
#define AT(hhmm) (instant_at(at, base, 0, hhmm), snprintf(body, sizeof body, "{\"as_of\": \"%s\"}", at), body)
  expect_kind("09:00", AT("09:00"), "full");
  expect_kind("09:30", AT("09:30"), "unchanged");
  /* A call log dated 11:00, written now: the write marks the customer. */
  instant_at(at, base, 0, "11:00");
  harness_sql("INSERT INTO call_logs (customer_id, channel, direction, outcome, occurred_at, logged_by) "
              "VALUES (%s, 'phone', 'outbound', 'no_answer', '%s', 'x')",
              cus, at);
  expect_kind("10:00, after the write", AT("10:00"), "incremental");
  expect_full_changes_nothing("10:00, after the write");
  expect_kind("10:30", AT("10:30"), "unchanged");
  /* 12:00: the call of 11:00 now counts. */
  expect_kind("12:00", AT("12:00"), "incremental");
  assert_int_equal(revisited, 1);
  expect_full_changes_nothing("12:00");
  expect_kind("12:30", AT("12:30"), "unchanged");
  /* An earlier instant, another day. */
  expect_kind("back to 12:00", AT("12:00"), "full");
  expect_kind("12:00 again", AT("12:00"), "unchanged");
  instant_at(at, base, 1, "09:00");
  snprintf(body, sizeof body, "{\"as_of\": \"%s\"}", at);
  expect_kind("the next day", body, "incremental");
  expect_full_changes_nothing("the next day");
  expect_kind("the next day again", body, "unchanged");
  /* More than arc_sweep_incremental_days() later: every rule. */
  instant_at(at, base, 40, "09:00");
  snprintf(body, sizeof body, "{\"as_of\": \"%s\"}", at);
  expect_kind("40 days later", body, "full");
  /* Other SQL code (a migrate that reloaded it). */
  harness_sql("UPDATE schema_code SET sha256 = md5(sha256) WHERE path = (SELECT min(path) FROM schema_code)");
  expect_kind("new code", body, "full");
  expect_kind("new code again", body, "unchanged");
  /* Other playbook settings (ARC_CADENCE_DAYS at a restart) make another
   * basis; the same ones, the same. */
  char *b1 = harness_sql("SELECT arc_sweep_basis()");
  free(harness_sql("SELECT set_config('arc.cadence_days', '9', false)"));
  char *b2 = harness_sql("SELECT arc_sweep_basis()");
  free(harness_sql("SELECT set_config('arc.cadence_days', '', false)"));
  char *b3 = harness_sql("SELECT arc_sweep_basis()");
  assert_string_not_equal(b1, b2);
  assert_string_equal(b1, b3);
  free(b1);
  free(b2);
  free(b3);
#undef AT
}

/* "full" must be a boolean. */
static void refused_full(void **state)
{
  (void)state;
  static const char *const tables[] = {"scheduler_runs", "follow_ups", NULL};
  assert_refused(tables, "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{\"full\": 1}", NULL, 422, "validation",
                 "full");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(unchanged_is_what_full_would_do),
      cmocka_unit_test(every_write_counts),
      cmocka_unit_test(when_the_rules_would_read_something_else),
      cmocka_unit_test(refused_full),
  };
  return cmocka_run_group_tests(tests, setup, harness_teardown);
}
