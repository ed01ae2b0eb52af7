/* Previews of the sweep: POST /v1/scheduler/runs with "preview": true, or
 * with an as_of while ARC_TIME_TRAVEL is off (as on a live database),
 * answers 200 with what the sweep would create, close, move and propose,
 * and writes nothing at all: every row of every table is the same after
 * it, past or future.  What a preview says it would create is what the
 * same sweep then creates.  (The harness turns ARC_TIME_TRAVEL on, as for
 * test databases; these tests turn it off where they say so.) */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/sweep.h"

/* A digest of every row of every table of the database. */
static char *all_rows(void)
{
  char *d = harness_sql("SELECT test_all_rows()");
  assert_non_null(d);
  return d;
}

static char today[16];
static char cus_old[32], cus_new[32], cus_promise[32], snoozed_fu[32];

/* The book: an account 60 days overdue (the ladder's first rung, sales, is
 * proposed at the first sweep, and opened), one overdue since yesterday,
 * one that promised to pay in three days; one follow-up snoozed for five
 * days.  Swept today for real. */
static int setup(void **state)
{
  if (harness_setup(state) != 0)
    return -1;
  harness_sql("CREATE FUNCTION test_all_rows() RETURNS text LANGUAGE plpgsql AS $$ "
              "DECLARE t regclass; h text; acc text := ''; BEGIN "
              "FOR t IN SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
              "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname LOOP "
              "EXECUTE format('SELECT md5(coalesce(string_agg(x::text, ''|'' ORDER BY x::text), '''')) FROM %%s x', t) "
              "INTO h; acc := acc || t::text || '=' || h || ';'; END LOOP; RETURN md5(acc); END $$");
  day(today, 0);
  char inv[32];
  sql_customer(cus_old, "Preview Old Ltd");
  sql_invoice(inv, .customer = cus_old, .amount = 90000, .from = today, .issued_in = -90, .due_in = -60);
  sql_customer(cus_new, "Preview New Ltd");
  sql_invoice(inv, .customer = cus_new, .amount = 20000, .from = today, .issued_in = -31, .due_in = -1);
  sql_customer(cus_promise, "Preview Promise Ltd");
  sql_invoice(inv, .customer = cus_promise, .amount = 30000, .from = today, .issued_in = -40, .due_in = -10);
  char on[16], body[256];
  day(on, 3);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 30000, \"currency\": \"USD\", \"promised_on\": \"%s\"}",
           cus_promise, on);
  json_decref(create_ok("/v1/promises", body));

  struct http_resp r = {0};
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{}", NULL);
  assert_status(&r, 201);
  http_resp_clear(&r);
  char *fu = harness_sql("SELECT id FROM follow_ups WHERE customer_id = %s AND reason = 'overdue'", cus_new);
  assert_non_null(fu);
  snprintf(snoozed_fu, sizeof snoozed_fu, "%s", fu);
  free(fu);
  char until[16];
  day(until, 5);
  snprintf(body, sizeof body, "{\"status\": \"snoozed\", \"snoozed_until\": \"%s\"}", until);
  httpf(&r, "PATCH", ROLE_ADMIN, body, "/v1/follow-ups/%s", snoozed_fu);
  assert_status(&r, 200);
  http_resp_clear(&r);
  char *esc = harness_sql("SELECT id FROM escalations WHERE customer_id = %s AND status = 'proposed' "
                          "AND level = 'sales'",
                          cus_old);
  assert_non_null(esc);
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"open\"}", "/v1/escalations/%s", esc);
  assert_status(&r, 200);
  http_resp_clear(&r);
  free(esc);
  return 0;
}

/* BODY: {"as_of": 09:00 DAYS from today in the test's zone, MORE...}; the
 * instant in AS_OF. */
static void as_of_body(char *body, size_t size, char as_of[40], int days, const char *more)
{
  instant_at(as_of, today, days, "09:00");
  snprintf(body, size, "{\"as_of\": \"%s\"%s}", as_of, more);
}

/* POST BODY as admin with ARC_TIME_TRAVEL off: 200 and the preview; every
 * row the same. */
static json_t *preview(const char *body)
{
  sweep_set_time_travel(0);
  char *before = all_rows();
  long long runs = harness_sql_int("SELECT count(*) FROM scheduler_runs");
  struct http_resp r = {0};
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, body, NULL);
  assert_status(&r, 200);
  json_t *doc = json_incref(r.json);
  assert_null(json_object_get(doc, "id")); /* a preview is no run */
  http_resp_clear(&r);
  char *after = all_rows();
  if (strcmp(before, after) != 0)
    fail_msg("the preview %s changed rows", body);
  free(before);
  free(after);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM scheduler_runs"), runs);
  sweep_set_time_travel(1);
  assert_true(json_is_true(json_object_get(doc, "preview")));
  return doc;
}

static long long count_of(const json_t *doc, const char *what, const char *key)
{
  return json_integer_value(json_object_get(json_object_get(doc, what), key));
}

/* Ten days on: the promise is broken, the snooze is over, management is
 * proposed to the old account's open sales escalation; nothing of it is
 * written. */
static void future_preview_writes_nothing(void **state)
{
  (void)state;
  char as_of[40], body[96];
  as_of_body(body, sizeof body, as_of, 10, "");
  json_t *doc = preview(body);
  assert_string_equal(jstr(doc, "as_of"), as_of);
  assert_int_equal(count_of(doc, "created", "promise_broken"), 1);
  assert_int_equal(count_of(doc, "proposed", "management"), 1);
  assert_true(count_of(doc, "moved", "overdue") >= 1); /* the snoozed one wakes */
  /* The follow-ups it would create, in worklist order, documents as GET
   * shows them. */
  json_t *fus = json_object_get(doc, "follow_ups");
  assert_true(json_array_size(fus) >= 1);
  int found = 0;
  for (size_t i = 0; i < json_array_size(fus); i++) {
    json_t *f = json_array_get(fus, i);
    if (i > 0)
      assert_true(jint(json_array_get(fus, i - 1), "amount_overdue") >= jint(f, "amount_overdue"));
    if (strcmp(jstr(f, "reason"), "promise_broken") == 0) {
      found = 1;
      assert_string_equal(jstr(f, "customer_id"), cus_promise);
      assert_string_equal(jstr(f, "customer_name"), "Preview Promise Ltd");
      assert_string_equal(jstr(f, "status"), "open");
    }
  }
  assert_true(found);
  json_decref(doc);
  /* Still snoozed, still no broken promise. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM follow_ups WHERE id = %s AND status = 'snoozed'", snoozed_fu),
                   1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM promises WHERE status = 'broken'"), 0);

  assert_int_equal(harness_sql_int("SELECT count(*) FROM escalations WHERE proposed_level IS NOT NULL"), 0);

  /* Fifty days on (110 days overdue): still the next rung, management. */
  as_of_body(body, sizeof body, as_of, 50, "");
  doc = preview(body);
  assert_int_equal(count_of(doc, "proposed", "management"), 1);
  assert_int_equal(count_of(doc, "proposed", "legal"), 0);
  json_decref(doc);
}

/* Before the book's invoices fell due: the sweep would close what is open
 * (their cause is gone on that day); nothing is closed. */
static void past_preview_writes_nothing(void **state)
{
  (void)state;
  long long open = harness_sql_int("SELECT count(*) FROM follow_ups WHERE status IN ('open', 'snoozed')");
  assert_true(open >= 2);
  char as_of[40], body[96];
  as_of_body(body, sizeof body, as_of, -120, ", \"limit\": 0");
  json_t *doc = preview(body);
  assert_true(count_of(doc, "closed", "overdue") >= 1);
  assert_int_equal(json_array_size(json_object_get(doc, "follow_ups")), 0); /* limit 0 */
  json_decref(doc);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM follow_ups WHERE status IN ('open', 'snoozed')"), open);
}

/* "preview": true without as_of: now, writing nothing, whatever
 * ARC_TIME_TRAVEL says; {} still sweeps. */
static void preview_now(void **state)
{
  (void)state;
  json_t *doc = preview("{\"preview\": true}");
  assert_int_equal(harness_sql_int("SELECT (abs(extract(epoch FROM '%s'::timestamptz - now())) < 60)::int",
                                   jstr(doc, "as_of")),
                   1);
  json_decref(doc);
}

/* What a preview shows is what the sweep for the same instant does. */
static void preview_agrees_with_sweep(void **state)
{
  (void)state;
  char as_of[40], body[128];
  as_of_body(body, sizeof body, as_of, 10, ", \"limit\": 1000");
  json_t *pre = preview(body);

  snprintf(body, sizeof body, "{\"as_of\": \"%s\"}", as_of); /* time travel is on again */
  struct http_resp r = {0};
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  assert_true(json_equal(json_object_get(pre, "created"), json_object_get(r.json, "created")));
  assert_true(json_equal(json_object_get(pre, "closed"), json_object_get(r.json, "closed")));
  char *made = harness_sql("SELECT string_agg(concat_ws('/', customer_id, reason, due_on, amount_overdue), ' ' "
                           "ORDER BY customer_id, reason) FROM follow_ups WHERE run_id = %s",
                           jstr(r.json, "id"));
  http_resp_clear(&r);
  json_t *fus = json_object_get(pre, "follow_ups");
  assert_true(json_array_size(fus) > 0);
  char *fus_text = json_dumps(fus, JSON_COMPACT);
  char *shown = harness_sql("SELECT string_agg(concat_ws('/', f->>'customer_id', f->>'reason', f->>'due_on', "
                            "f->>'amount_overdue'), ' ' ORDER BY (f->>'customer_id')::bigint, f->>'reason') "
                            "FROM json_array_elements('%s'::json) f",
                            fus_text);
  free(fus_text);
  assert_string_equal(shown, made);
  free(made);
  free(shown);
  json_decref(pre);
}

/* Refused: an as_of sweep that would write on a live database, a limit
 * without a preview or out of range, a preview that is no boolean. */
static void refused_requests(void **state)
{
  (void)state;
  static const char *const tables[] = {"follow_ups", "scheduler_runs", "escalations", "promises", "events", NULL};
  char as_of[40], body[128];
  as_of_body(body, sizeof body, as_of, 10, ", \"preview\": false");
  sweep_set_time_travel(0);
  assert_refused(tables, "POST", "/v1/scheduler/runs", ROLE_ADMIN, body, NULL, 422, "validation", "as_of");
  assert_refused(tables, "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{\"limit\": 5}", NULL, 422, "validation",
                 "limit");
  assert_refused(tables, "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{\"preview\": true, \"limit\": 1001}", NULL,
                 422, "validation", "limit");
  assert_refused(tables, "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{\"preview\": \"yes\"}", NULL, 422,
                 "validation", "preview");
  assert_refused(tables, "POST", "/v1/scheduler/runs", ROLE_MANAGER, "{\"preview\": true}", NULL, 403,
                 "forbidden", NULL);
  sweep_set_time_travel(1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(future_preview_writes_nothing),
      cmocka_unit_test(past_preview_writes_nothing),
      cmocka_unit_test(preview_now),
      cmocka_unit_test(refused_requests),
      cmocka_unit_test(preview_agrees_with_sweep),
  };
  return cmocka_run_group_tests(tests, setup, harness_teardown);
}
