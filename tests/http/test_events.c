/* GET /v1/events: every write leaves an event in its own transaction, and
 * a reader following next_cursor never skips one, even when transactions
 * commit out of id order. */
#include "harness.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Reads the feed from CURSOR (may be NULL) with extra query QS; returns the
 * body (caller decrefs).  Retries briefly while the feed is held back by a
 * transaction elsewhere on the cluster, until at least MIN events came. */
static json_t *feed(const char *cursor, const char *qs, size_t min)
{
  struct http_resp r = {0};
  char path[512];
  for (int tries = 0; tries < 100; tries++) {
    snprintf(path, sizeof path, "/v1/events?limit=200%s%s%s%s", cursor ? "&cursor=" : "", cursor ? cursor : "",
             qs ? "&" : "", qs ? qs : "");
    http(&r, "GET", path, ROLE_INTEGRATION, NULL, NULL);
    assert_status(&r, 200);
    if (json_array_size(json_object_get(r.json, "data")) >= min)
      break;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  json_t *j = json_incref(r.json);
  http_resp_clear(&r);
  return j;
}

/* The events of FEED whose resource is ID, as a "type,type,..." string. */
static void types_for(const json_t *page, const char *resource_type, const char *id, char *out, size_t size)
{
  size_t used = 0;
  out[0] = '\0';
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(page, "data"), i, e) {
    if (strcmp(jstr(e, "resource_type"), resource_type) == 0 && strcmp(jstr(e, "resource_id"), id) == 0)
      used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "", jstr(e, "type"));
  }
}

static void writes_leave_events(void **state)
{
  (void)state;
  struct http_resp r = {0};
  json_t *start = feed(NULL, NULL, 0);
  char cursor[64] = "";
  if (jstr(start, "next_cursor"))
    snprintf(cursor, sizeof cursor, "%s", jstr(start, "next_cursor"));
  json_decref(start);

  char cus[32], inv[32], pay[32];
  snprintf(cus, sizeof cus, "%s", make_customer("Eventful Ltd"));
  snprintf(inv, sizeof inv, "%s", make_invoice(cus, "EV-1", 10000, "2026-01-01", "2026-01-31"));
  char body[256];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 10000, \"currency\": \"USD\", \"received_on\": \"2026-02-01\", "
           "\"method\": \"check\"}",
           cus);
  json_t *p = create_ok("/v1/payments", body);
  snprintf(pay, sizeof pay, "%s", jstr(p, "id"));
  json_decref(p);
  /* A PATCH that changes nothing records nothing; one that does, does. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"name\": \"Eventful Ltd\"}", "/v1/customers/%s", cus);
  assert_status(&r, 200);
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"notes\": \"calls back on Fridays\"}", "/v1/customers/%s", cus);
  assert_status(&r, 200);
  httpf(&r, "POST", ROLE_ADMIN, "{\"reason\": \"bounced\"}", "/v1/payments/%s/reversal", pay);
  assert_status(&r, 200);

  json_t *page = feed(cursor[0] ? cursor : NULL, NULL, 7);
  char types[256];
  types_for(page, "customer", cus, types, sizeof types);
  assert_string_equal(types, "customer.created,customer.updated");
  types_for(page, "invoice", inv, types, sizeof types);
  assert_string_equal(types, "invoice.created,invoice.paid,invoice.reopened");
  types_for(page, "payment", pay, types, sizeof types);
  assert_string_equal(types, "payment.received,payment.reversed");

  /* Each event names the actor, the customer, and carries the new state. */
  size_t i;
  json_t *e;
  int seen_received = 0, seen_manager = 0;
  json_array_foreach(json_object_get(page, "data"), i, e) {
    assert_non_null(jstr(e, "id"));
    assert_non_null(jstr(e, "occurred_at"));
    assert_non_null(jstr(e, "request_id"));
    if (strcmp(jstr(e, "type"), "payment.received") == 0) {
      seen_received = 1;
      assert_string_equal(jstr(e, "customer_id"), cus);
      assert_string_equal(jstr(e, "actor"), "admin@example.com");
      json_t *allocs = json_object_get(json_object_get(e, "data"), "allocations");
      assert_int_equal(json_array_size(allocs), 1);
      assert_string_equal(jstr(json_array_get(allocs, 0), "invoice_id"), inv);
    }
    if (strcmp(jstr(e, "type"), "customer.updated") == 0) {
      seen_manager = 1;
      assert_string_equal(jstr(e, "actor"), "manager@example.com");
      assert_string_equal(jstr(json_object_get(e, "data"), "notes"), "calls back on Fridays");
    }
  }
  assert_true(seen_received && seen_manager);
  json_decref(page);

  /* Filters: type list and customer. */
  char qs[128];
  snprintf(qs, sizeof qs, "type=payment.received,payment.reversed&customer_id=%s", cus);
  page = feed(cursor[0] ? cursor : NULL, qs, 2);
  assert_int_equal(json_array_size(json_object_get(page, "data")), 2);
  json_decref(page);
  http_resp_clear(&r);
}

static void pages_follow_the_cursor(void **state)
{
  (void)state;
  struct http_resp r = {0};
  for (int i = 0; i < 5; i++)
    make_customer("Paged");
  /* Every customer event there is, once the feed shows them all (a
   * transaction elsewhere on the cluster may hold the feed back a while). */
  size_t total = (size_t)harness_sql_int("SELECT count(*) FROM events WHERE resource_type = 'customer'");
  json_t *all = feed(NULL, "resource_type=customer", total);
  assert_int_equal(json_array_size(json_object_get(all, "data")), total);
  json_decref(all);

  /* Two at a time: the same events, in the same order, then caught up. */
  char cursor[64] = "";
  size_t got = 0;
  for (int guard = 0; guard < 100; guard++) {
    char path[256];
    snprintf(path, sizeof path, "/v1/events?resource_type=customer&limit=2%s%s", cursor[0] ? "&cursor=" : "",
             cursor);
    http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
    assert_status(&r, 200);
    got += json_array_size(json_object_get(r.json, "data"));
    assert_non_null(jstr(r.json, "next_cursor"));
    snprintf(cursor, sizeof cursor, "%s", jstr(r.json, "next_cursor"));
    if (!json_is_true(json_object_get(r.json, "has_more")))
      break;
  }
  assert_int_equal(got, total);
  /* Caught up: the same cursor comes back with nothing new. */
  char path[256];
  snprintf(path, sizeof path, "/v1/events?resource_type=customer&cursor=%s", cursor);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
  assert_string_equal(jstr(r.json, "next_cursor"), cursor);
  http_resp_clear(&r);
}

static PGconn *connect_test_db(void)
{
  PGconn *c = PQconnectdb(getenv("DATABASE_URL"));
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  return c;
}

static void out_of_order_commits_are_not_skipped(void **state)
{
  (void)state;
  /* Two customers whose events are appended by hand, as arc_emit would. */
  char ca[32], cb[32];
  sql_customer(ca, "Order A");
  sql_customer(cb, "Order B");
  json_t *start = feed(NULL, NULL, 0);
  char cursor[64];
  snprintf(cursor, sizeof cursor, "%s", jstr(start, "next_cursor") ? jstr(start, "next_cursor") : "");
  json_decref(start);

  /* A takes the lower event id and commits last. */
  PGconn *a = connect_test_db(), *b = connect_test_db();
  char sql[256];
#define APPEND(cus)                                                                                   \
  (snprintf(sql, sizeof sql,                                                                          \
            "SELECT arc_event_append('customer.updated', 'customer', '%s', %s, "                      \
            "(SELECT arc_customer_json(c)::jsonb FROM customers c WHERE c.id = %s))",                 \
            cus, cus, cus),                                                                           \
   sql)
  exec_ok(a, "BEGIN");
  exec_ok(a, APPEND(ca));
  exec_ok(b, "BEGIN");
  exec_ok(b, APPEND(cb));
  exec_ok(b, "COMMIT");
#undef APPEND
  assert_true(harness_sql_int("SELECT count(*) FROM events WHERE resource_id = '%s' AND type = 'customer.updated'",
                              cb) == 1);

  /* While A runs, B's event (a later transaction) is held back: a reader
   * that took it now would move past A's smaller id. */
  struct http_resp r = {0};
  char path[256];
  snprintf(path, sizeof path, "/v1/events?type=customer.updated%s%s", cursor[0] ? "&cursor=" : "", cursor);
  http(&r, "GET", path, ROLE_INTEGRATION, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
  char held[64];
  snprintf(held, sizeof held, "%s", jstr(r.json, "next_cursor") ? jstr(r.json, "next_cursor") : "");

  exec_ok(a, "COMMIT");
  assert_true(harness_sql_int("SELECT id FROM events WHERE resource_id = '%s' AND type = 'customer.updated'", ca) <
              harness_sql_int("SELECT id FROM events WHERE resource_id = '%s' AND type = 'customer.updated'", cb));
  json_t *page = feed(held[0] ? held : NULL, "type=customer.updated", 2);
  json_t *data = json_object_get(page, "data");
  assert_int_equal(json_array_size(data), 2);
  assert_string_equal(jstr(json_array_get(data, 0), "resource_id"), ca);
  assert_string_equal(jstr(json_array_get(data, 1), "resource_id"), cb);
  json_decref(page);
  PQfinish(a);
  PQfinish(b);
  http_resp_clear(&r);
}

static void failed_writes_leave_no_event(void **state)
{
  (void)state;
  long long before = harness_sql_int("SELECT count(*) FROM events");
  struct http_resp r = {0};
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN,
       "{\"customer_id\": \"999999\", \"number\": \"NOPE\", \"currency\": \"USD\", \"amount\": 1, "
       "\"issued_on\": \"2026-01-01\", \"due_on\": \"2026-01-02\"}",
       NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events"), before);
  http_resp_clear(&r);
}

/* The deferred row triggers ask whether their transaction already wrote an
 * event for the row (arc_event_written): a row changed twice in one
 * transaction has one event, with its final state.  The lookup goes by the
 * transaction and the row: through the feed index (txid, id) it read every
 * event of the transaction once per row (1 ms a row in a daily sweep).  The
 * plan checked is the generic one the triggers' PL/pgSQL caches, in a
 * transaction that already wrote thousands of events. */
static void one_event_per_row_per_transaction(void **state)
{
  (void)state;
  char cus[32];
  sql_customer(cus, "Twice Changed Ltd");
  long long before = harness_sql_int("SELECT count(*) FROM events WHERE resource_type = 'customer' "
                                     "AND resource_id = '%s'",
                                     cus);
  /* The function's own query (what its PL/pgSQL body RETURNs), its
   * parameters as $1 and $2: EXPLAIN of a call shows no scan. */
  char *body = harness_sql("SELECT 'SELECT ' || regexp_replace(regexp_replace(substring(prosrc FROM 'RETURN (.*);'), "
                           "'\\mp_resource\\M', '$1', 'g'), '\\mp_id\\M', '$2', 'g') "
                           "FROM pg_proc WHERE proname = 'arc_event_written'");
  assert_non_null(body);
  char *plan = harness_sql(
      "BEGIN; "
      "INSERT INTO events (type, resource_type, resource_id, customer_id, actor, data) "
      "SELECT 'test.filler', 'follow_up', g::text, NULL, 'test', '{}' FROM generate_series(1, 3000) g; "
      "UPDATE customers SET name = 'Changed Once' WHERE id = %s; "
      "SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan; "
      "PREPARE written(text, text) AS %s; "
      "EXPLAIN (FORMAT JSON, COSTS OFF) EXECUTE written('customer', '%s')",
      cus, body, cus);
  free(body);
  assert_non_null(plan);
  if (!strstr(plan, "events_written_idx") || strstr(plan, "events_feed_idx"))
    fail_msg("the lookup does not go by events_written_idx: %s", plan);
  free(plan);
  free(harness_sql("DEALLOCATE written"));
  free(harness_sql("ROLLBACK"));
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE type = 'test.filler'"), 0);

  free(harness_sql("BEGIN; "
                   "UPDATE customers SET name = 'Changed Once' WHERE id = %s; "
                   "UPDATE customers SET name = 'Changed Twice' WHERE id = %s; "
                   "COMMIT",
                   cus, cus));
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE resource_type = 'customer' "
                                   "AND resource_id = '%s'",
                                   cus),
                   before + 1);
  char *name = harness_sql("SELECT data->>'name' FROM events WHERE resource_type = 'customer' "
                           "AND resource_id = '%s' ORDER BY id DESC LIMIT 1",
                           cus);
  assert_string_equal(name, "Changed Twice");
  free(name);
}

static const struct step errors[] = {
    {"bad cursor", "GET", "/v1/events?cursor=12", ROLE_ADMIN, NULL, 422, "validation", "cursor"},
    {"cursor injection", "GET", "/v1/events?cursor=1-1';--", ROLE_ADMIN, NULL, 422, "validation", "cursor"},
    {"bad type", "GET", "/v1/events?type=Payment%20Received", ROLE_ADMIN, NULL, 422, "validation", "type"},
    {"bad customer", "GET", "/v1/events?customer_id=abc", ROLE_ADMIN, NULL, 422, "validation", "customer_id"},
    {"bad limit", "GET", "/v1/events?limit=201", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"unknown parameter", "GET", "/v1/events?since=1", ROLE_ADMIN, NULL, 422, "validation", "since"},
    {"no key", "GET", "/v1/events", NO_KEY, NULL, 401, "unauthorized", NULL},
    {"not writable", "POST", "/v1/events", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
};

static void error_cases(void **state)
{
  (void)state;
  run_steps(errors, sizeof errors / sizeof errors[0]);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(writes_leave_events),
      cmocka_unit_test(pages_follow_the_cursor),
      cmocka_unit_test(out_of_order_commits_are_not_skipped),
      cmocka_unit_test(failed_writes_leave_no_event),
      cmocka_unit_test(one_event_per_row_per_transaction),
      cmocka_unit_test(error_cases),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
