/* /v1/invoices/{id}/adjustments: credits, debits and corrections move the
 * amount and the balance together, keep a record, and never push the
 * balance below zero. */
#include "harness.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A payment of AMOUNT applied to invoice ID, written directly. */
static void pay(const char *customer, const char *invoice, long long amount)
{
  char *payment = harness_sql("INSERT INTO payments (customer_id, amount, currency, received_on, method, unapplied) "
                              "VALUES (%s, %lld, 'USD', current_date, 'wire', 0) RETURNING id",
                              customer, amount);
  free(harness_sql("INSERT INTO payment_allocations (customer_id, payment_id, invoice_id, amount) "
                   "VALUES (%s, %s, %s, %lld) RETURNING id",
                   customer, payment, invoice, amount));
  free(payment);
  harness_sql("UPDATE invoices SET balance = balance - %lld WHERE id = %s", amount, invoice);
}

static long long invoice_int(const char *id, const char *column)
{
  return harness_sql_int("SELECT %s FROM invoices WHERE id = %s", column, id);
}

static void credit_debit_correction(void **state)
{
  (void)state;
  char cust[32], inv[32], path[128];
  sql_customer(cust, "Adjust Co");
  new_invoice(inv, .customer = cust, .number = "ADJ-1", .amount = 10000,
              .issued_on = "2999-01-01", .due_on = "2999-01-31");
  snprintf(path, sizeof path, "/v1/invoices/%s/adjustments", inv);
  struct http_resp r = {0};

  http(&r, "POST", path, ROLE_ADMIN, "{\"kind\": \"credit\", \"amount\": -2500, \"reason\": \"damaged goods\"}", NULL);
  assert_status(&r, 201);
  char a1[32], loc[160];
  snprintf(a1, sizeof a1, "%s", jstr(r.json, "id"));
  snprintf(loc, sizeof loc, "%s/%s", path, a1);
  assert_string_equal(r.location, loc);
  assert_string_equal(jstr(r.json, "invoice_id"), inv);
  assert_string_equal(jstr(r.json, "customer_id"), cust);
  assert_string_equal(jstr(r.json, "kind"), "credit");
  assert_int_equal(jint(r.json, "amount"), -2500);
  assert_string_equal(jstr(r.json, "reason"), "damaged goods");
  assert_string_equal(jstr(r.json, "created_by"), "admin@example.com");
  assert_non_null(jstr(r.json, "created_at"));
  assert_int_equal(jint(r.json, "version"), 1);
  /* The invoice after the change. */
  json_t *invoice = json_object_get(r.json, "invoice");
  assert_string_equal(jstr(invoice, "id"), inv);
  assert_int_equal(jint(invoice, "original_amount"), 10000);
  assert_int_equal(jint(invoice, "amount"), 7500);
  assert_int_equal(jint(invoice, "balance"), 7500);
  assert_int_equal(jint(invoice, "paid_amount"), 0);
  assert_int_equal(jint(invoice, "version"), 2);
  assert_string_equal(jstr(invoice, "status"), "open");

  /* A debit raises both; its author is the key's actor. */
  http(&r, "POST", path, ROLE_MANAGER, "{\"kind\": \"debit\", \"amount\": 1000, \"reason\": \"freight\"}", NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "created_by"), "manager@example.com");
  assert_int_equal(jint(json_object_get(r.json, "invoice"), "amount"), 8500);
  assert_int_equal(jint(json_object_get(r.json, "invoice"), "balance"), 8500);
  /* Corrections go either way. */
  http(&r, "POST", path, ROLE_INTEGRATION, "{\"kind\": \"correction\", \"amount\": -500, \"reason\": \"typo\"}", NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "created_by"), "integration:crm");
  http(&r, "POST", path, ROLE_INTEGRATION, "{\"kind\": \"correction\", \"amount\": 50, \"reason\": \"typo again\"}",
       NULL);
  assert_status(&r, 201);
  char last[32];
  snprintf(last, sizeof last, "%s", jstr(r.json, "id"));
  assert_int_equal(jint(json_object_get(r.json, "invoice"), "amount"), 8050);

  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/invoices/%s", inv);
  assert_int_equal(jint(r.json, "original_amount"), 10000);
  assert_int_equal(jint(r.json, "amount"), 8050);
  assert_int_equal(jint(r.json, "balance"), 8050);
  assert_int_equal(jint(r.json, "version"), 5);

  /* The records are kept: list in order, pages, kind filter, one by id. */
  http(&r, "GET", path, ROLE_COLLECTOR, NULL, NULL);
  assert_status(&r, 200);
  json_t *data = json_object_get(r.json, "data");
  assert_int_equal(json_array_size(data), 4);
  assert_string_equal(jstr(json_array_get(data, 0), "id"), a1);
  assert_int_equal(jint(json_array_get(data, 0), "amount"), -2500);
  assert_int_equal(jint(json_array_get(data, 1), "amount"), 1000);
  assert_int_equal(jint(json_array_get(data, 2), "amount"), -500);
  assert_int_equal(jint(json_array_get(data, 3), "amount"), 50);
  assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
  char q[256];
  snprintf(q, sizeof q, "%s?limit=3", path);
  http(&r, "GET", q, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 3);
  char cursor[32];
  snprintf(cursor, sizeof cursor, "%s", jstr(r.json, "next_cursor"));
  snprintf(q, sizeof q, "%s?limit=3&cursor=%s", path, cursor);
  http(&r, "GET", q, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), last);
  assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
  snprintf(q, sizeof q, "%s?kind=correction", path);
  http(&r, "GET", q, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 2);
  snprintf(q, sizeof q, "%s?kind=credit", path);
  http(&r, "GET", q, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);

  httpf(&r, "GET", ROLE_VIEWER, NULL, "%s/%s", path, a1);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "kind"), "credit");
  assert_string_equal(jstr(r.json, "reason"), "damaged goods");
  assert_string_equal(r.etag, "\"1\"");
  /* The embedded invoice is its current state. */
  assert_int_equal(jint(json_object_get(r.json, "invoice"), "amount"), 8050);
  http_resp_clear(&r);
}

static void balance_rules(void **state)
{
  (void)state;
  char cust[32], inv[32], path[128];
  sql_customer(cust, "Balance Co");
  new_invoice(inv, .customer = cust, .number = "ADJ-2", .amount = 1000,
              .issued_on = "2999-01-01", .due_on = "2999-01-31");
  snprintf(path, sizeof path, "/v1/invoices/%s/adjustments", inv);
  pay(cust, inv, 600);
  struct http_resp r = {0};

  /* More credit than the balance: 409 naming amount, nothing changed. */
  long long version = invoice_int(inv, "version");
  http(&r, "POST", path, ROLE_ADMIN, "{\"kind\": \"credit\", \"amount\": -401, \"reason\": \"too much\"}", NULL);
  assert_problem(&r, 409, "conflict", "amount");
  assert_non_null(strstr(r.body, "lowering the invoice by USD 4.01 is more than its balance of USD 4.00"));
  http(&r, "POST", path, ROLE_ADMIN, "{\"kind\": \"correction\", \"amount\": -1000, \"reason\": \"too much\"}", NULL);
  assert_problem(&r, 409, "conflict", "amount");
  assert_int_equal(invoice_int(inv, "amount"), 1000);
  assert_int_equal(invoice_int(inv, "balance"), 400);
  assert_int_equal(invoice_int(inv, "version"), version);
  assert_int_equal(count_adjustments(inv), 0);

  /* Exactly the balance: paid. */
  http(&r, "POST", path, ROLE_ADMIN, "{\"kind\": \"credit\", \"amount\": -400, \"reason\": \"settled\"}", NULL);
  assert_status(&r, 201);
  json_t *invoice = json_object_get(r.json, "invoice");
  assert_int_equal(jint(invoice, "amount"), 600);
  assert_int_equal(jint(invoice, "balance"), 0);
  assert_int_equal(jint(invoice, "paid_amount"), 600);
  assert_string_equal(jstr(invoice, "status"), "paid");
  /* Nothing left to credit. */
  http(&r, "POST", path, ROLE_ADMIN, "{\"kind\": \"credit\", \"amount\": -1, \"reason\": \"one more\"}", NULL);
  assert_problem(&r, 409, "conflict", "amount");
  /* A debit reopens it. */
  http(&r, "POST", path, ROLE_ADMIN, "{\"kind\": \"debit\", \"amount\": 150, \"reason\": \"late fee\"}", NULL);
  assert_status(&r, 201);
  invoice = json_object_get(r.json, "invoice");
  assert_int_equal(jint(invoice, "amount"), 750);
  assert_int_equal(jint(invoice, "balance"), 150);
  assert_string_equal(jstr(invoice, "status"), "open");
  assert_int_equal(count_adjustments(inv), 2);

  /* A credit of the whole unpaid invoice leaves an amount of zero. */
  char inv2[32];
  new_invoice(inv2, .customer = cust, .number = "ADJ-3", .amount = 700,
              .issued_on = "2999-01-01", .due_on = "2999-01-31");
  httpf(&r, "POST", ROLE_ADMIN, "{\"kind\": \"credit\", \"amount\": -700, \"reason\": \"cancelled\"}",
        "/v1/invoices/%s/adjustments", inv2);
  assert_status(&r, 201);
  assert_int_equal(jint(json_object_get(r.json, "invoice"), "amount"), 0);
  assert_string_equal(jstr(json_object_get(r.json, "invoice"), "status"), "paid");

  /* The amount may not pass 2^53 - 1. */
  char inv3[32];
  new_invoice(inv3, .customer = cust, .number = "ADJ-4", .amount = 9007199254740991LL,
              .issued_on = "2999-01-01", .due_on = "2999-01-31");
  httpf(&r, "POST", ROLE_ADMIN, "{\"kind\": \"debit\", \"amount\": 1, \"reason\": \"overflow\"}",
        "/v1/invoices/%s/adjustments", inv3);
  assert_problem(&r, 422, "validation", "amount");
  assert_int_equal(invoice_int(inv3, "amount"), 9007199254740991LL);
  assert_int_equal(count_adjustments(inv3), 0);
  httpf(&r, "POST", ROLE_ADMIN, "{\"kind\": \"credit\", \"amount\": -9007199254740991, \"reason\": \"all\"}",
        "/v1/invoices/%s/adjustments", inv3);
  assert_status(&r, 201);
  assert_int_equal(invoice_int(inv3, "amount"), 0);
  http_resp_clear(&r);
}

static void closed_invoices(void **state)
{
  (void)state;
  char cust[32], v[32], w[32];
  sql_customer(cust, "Closed Co");
  new_invoice(v, .customer = cust, .number = "ADJ-V", .amount = 1000,
              .issued_on = "2999-01-01", .due_on = "2999-01-31");
  new_invoice(w, .customer = cust, .number = "ADJ-W", .amount = 1000,
              .issued_on = "2999-01-01", .due_on = "2999-01-31");
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", v);
  assert_status(&r, 200);
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"written_off\"}", "/v1/invoices/%s", w);
  assert_status(&r, 200);
  httpf(&r, "POST", ROLE_ADMIN, "{\"kind\": \"credit\", \"amount\": -10, \"reason\": \"late\"}",
        "/v1/invoices/%s/adjustments", v);
  assert_problem(&r, 409, "conflict", NULL);
  assert_non_null(strstr(r.body, "void"));
  httpf(&r, "POST", ROLE_ADMIN, "{\"kind\": \"debit\", \"amount\": 10, \"reason\": \"late\"}",
        "/v1/invoices/%s/adjustments", w);
  assert_problem(&r, 409, "conflict", NULL);
  assert_non_null(strstr(r.body, "written off"));
  assert_int_equal(invoice_int(v, "amount"), 1000);
  assert_int_equal(invoice_int(w, "amount"), 1000);
  assert_int_equal(count_adjustments(v) + count_adjustments(w), 0);
  http_resp_clear(&r);
}

/* One bad body per row; each must name FIELD. */
static const struct {
  const char *label, *body, *field;
  long status;
} bad_bodies[] = {
    {"credit positive", "{\"kind\": \"credit\", \"amount\": 100, \"reason\": \"r\"}", "amount", 422},
    {"debit negative", "{\"kind\": \"debit\", \"amount\": -100, \"reason\": \"r\"}", "amount", 422},
    {"zero", "{\"kind\": \"correction\", \"amount\": 0, \"reason\": \"r\"}", "amount", 422},
    {"fraction", "{\"kind\": \"credit\", \"amount\": -12.5, \"reason\": \"r\"}", "amount", 422},
    {"real", "{\"kind\": \"debit\", \"amount\": 12.0, \"reason\": \"r\"}", "amount", 422},
    {"string", "{\"kind\": \"debit\", \"amount\": \"100\", \"reason\": \"r\"}", "amount", 422},
    {"null", "{\"kind\": \"debit\", \"amount\": null, \"reason\": \"r\"}", "amount", 422},
    {"2^53", "{\"kind\": \"debit\", \"amount\": 9007199254740992, \"reason\": \"r\"}", "amount", 422},
    {"-2^53", "{\"kind\": \"credit\", \"amount\": -9007199254740992, \"reason\": \"r\"}", "amount", 422},
    {"int64 min", "{\"kind\": \"credit\", \"amount\": -9223372036854775808, \"reason\": \"r\"}", "amount", 422},
    {"past int64", "{\"kind\": \"debit\", \"amount\": 99999999999999999999, \"reason\": \"r\"}", NULL, 400},
    {"1e400", "{\"kind\": \"debit\", \"amount\": 1e400, \"reason\": \"r\"}", NULL, 400},
    {"amount missing", "{\"kind\": \"debit\", \"reason\": \"r\"}", "amount", 422},
    {"kind missing", "{\"amount\": 5, \"reason\": \"r\"}", "kind", 422},
    {"kind bogus", "{\"kind\": \"refund\", \"amount\": 5, \"reason\": \"r\"}", "kind", 422},
    {"kind number", "{\"kind\": 1, \"amount\": 5, \"reason\": \"r\"}", "kind", 422},
    {"reason missing", "{\"kind\": \"debit\", \"amount\": 5}", "reason", 422},
    {"reason blank", "{\"kind\": \"debit\", \"amount\": 5, \"reason\": \" \"}", "reason", 422},
    {"reason array", "{\"kind\": \"debit\", \"amount\": 5, \"reason\": [\"r\"]}", "reason", 422},
    {"unknown field", "{\"kind\": \"debit\", \"amount\": 5, \"reason\": \"r\", \"invoice_id\": \"1\"}", "invoice_id",
     422},
    {"not an object", "[]", "(body)", 422},
    {"empty", NULL, "kind", 422},
    {"malformed", "{\"kind\": \"debit\",", NULL, 400},
    {"duplicate key", "{\"kind\": \"debit\", \"kind\": \"credit\", \"amount\": 5, \"reason\": \"r\"}", NULL, 400},
};

static void bad_input(void **state)
{
  (void)state;
  char cust[32], inv[32], path[128];
  sql_customer(cust, "Bad Adjust");
  new_invoice(inv, .customer = cust, .number = "ADJ-BAD", .amount = 1000,
              .issued_on = "2999-01-01", .due_on = "2999-01-31");
  snprintf(path, sizeof path, "/v1/invoices/%s/adjustments", inv);
  struct http_resp r = {0};
  for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
    if (bad_bodies[i].body)
      http(&r, "POST", path, ROLE_ADMIN, bad_bodies[i].body, NULL);
    else
      http_raw(&r, "POST", path, ROLE_ADMIN, NULL, 0, NULL, NULL);
    if (r.status != bad_bodies[i].status)
      fail_msg("[%s] expected %ld, got %ld: %s", bad_bodies[i].label, bad_bodies[i].status, r.status,
               r.body ? r.body : "");
    assert_problem(&r, bad_bodies[i].status, bad_bodies[i].status == 400 ? "malformed-json" : "validation",
                   bad_bodies[i].field);
  }
  /* reason: 500 characters pass (multi-byte ones count as one), 501 do not. */
  char body[4096];
  int n = snprintf(body, sizeof body, "{\"kind\": \"debit\", \"amount\": 1, \"reason\": \"");
  for (int i = 0; i < 500; i++)
    n += snprintf(body + n, sizeof body - (size_t)n, "Ω");
  snprintf(body + n, sizeof body - (size_t)n, "\"}");
  http(&r, "POST", path, ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  n = snprintf(body, sizeof body, "{\"kind\": \"debit\", \"amount\": 1, \"reason\": \"");
  for (int i = 0; i < 501; i++)
    body[n++] = 'r';
  snprintf(body + n, sizeof body - (size_t)n, "\"}");
  http(&r, "POST", path, ROLE_ADMIN, body, NULL);
  assert_problem(&r, 422, "validation", "reason");
  /* Several errors at once. */
  http(&r, "POST", path, ROLE_ADMIN, "{\"kind\": \"x\", \"amount\": \"1\", \"extra\": true}", NULL);
  assert_problem(&r, 422, "validation", "kind");
  assert_problem(&r, 422, "validation", "amount");
  assert_problem(&r, 422, "validation", "reason");
  assert_problem(&r, 422, "validation", "extra");
  /* Invalid UTF-8, wrong media types. */
  static const char bad_utf8[] = "{\"kind\": \"debit\", \"amount\": 1, \"reason\": \"\xc3\x28\"}";
  http_raw(&r, "POST", path, ROLE_ADMIN, bad_utf8, sizeof bad_utf8 - 1, "application/json", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  static const char good[] = "{\"kind\": \"debit\", \"amount\": 1, \"reason\": \"r\"}";
  http_raw(&r, "POST", path, ROLE_ADMIN, good, sizeof good - 1, "application/x-www-form-urlencoded", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  /* Too large. */
  size_t big_len = (size_t)2 << 20;
  char *big = malloc(big_len + 64);
  n = snprintf(big, 64, "{\"kind\": \"debit\", \"amount\": 1, \"reason\": \"");
  memset(big + n, 'x', big_len);
  memcpy(big + n + big_len, "\"}", 3);
  http_raw(&r, "POST", path, ROLE_ADMIN, big, strlen(big), "application/json", NULL);
  free(big);
  assert_problem(&r, 413, "payload-too-large", NULL);
  /* SQL metacharacters are text. */
  http(&r, "POST", path, ROLE_ADMIN,
       "{\"kind\": \"debit\", \"amount\": 2, \"reason\": \"'); DELETE FROM invoices; -- \\\\ %_ $$\"}", NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "reason"), "'); DELETE FROM invoices; -- \\ %_ $$");
  /* Only the two accepted debits changed the invoice. */
  assert_int_equal(count_adjustments(inv), 2);
  assert_int_equal(invoice_int(inv, "amount"), 1003);
  assert_int_equal(invoice_int(inv, "balance"), 1003);
  http_resp_clear(&r);
}

static void routes_roles_and_ids(void **state)
{
  (void)state;
  char cust[32], inv[32], other[32], adj[32];
  sql_customer(cust, "Routes Co");
  new_invoice(inv, .customer = cust, .number = "ADJ-R1", .amount = 1000,
              .issued_on = "2999-01-01", .due_on = "2999-01-31");
  new_invoice(other, .customer = cust, .number = "ADJ-R2", .amount = 1000,
              .issued_on = "2999-01-01", .due_on = "2999-01-31");
  struct http_resp r = {0};
  httpf(&r, "POST", ROLE_ADMIN, "{\"kind\": \"debit\", \"amount\": 5, \"reason\": \"r\"}", "/v1/invoices/%s/adjustments",
        inv);
  assert_status(&r, 201);
  snprintf(adj, sizeof adj, "%s", jstr(r.json, "id"));
  const char *body = "{\"kind\": \"debit\", \"amount\": 5, \"reason\": \"r\"}";
  char p[160];

  snprintf(p, sizeof p, "/v1/invoices/%s/adjustments", inv);
  http(&r, "POST", p, ROLE_VIEWER, body, NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", p, ROLE_COLLECTOR, body, NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", p, NO_KEY, body, NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  http(&r, "GET", p, NO_KEY, NULL, NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  http(&r, "DELETE", p, ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 405, "method-not-allowed", NULL);
  assert_non_null(strstr(r.allow, "POST"));
  snprintf(p, sizeof p, "/v1/invoices/%s/adjustments/%s", inv, adj);
  http(&r, "PATCH", p, ROLE_ADMIN, "{\"reason\": \"edited\"}", NULL);
  assert_problem(&r, 405, "method-not-allowed", NULL);
  http(&r, "DELETE", p, ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 405, "method-not-allowed", NULL);
  http(&r, "GET", p, NO_KEY, NULL, NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  assert_int_equal(count_adjustments(inv), 1);
  assert_int_equal(invoice_int(inv, "amount"), 1005);

  /* Unknown and malformed ids: 404, nothing written. */
  http(&r, "POST", "/v1/invoices/999999999/adjustments", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 404, "not-found", NULL);
  http(&r, "POST", "/v1/invoices/abc/adjustments", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 404, "not-found", NULL);
  http(&r, "GET", "/v1/invoices/999999999/adjustments", ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 404, "not-found", NULL);
  http(&r, "GET", "/v1/invoices/-1/adjustments", ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 404, "not-found", NULL);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s/adjustments/999999999", inv);
  assert_problem(&r, 404, "not-found", NULL);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s/adjustments/1%%27", inv);
  assert_problem(&r, 404, "not-found", NULL);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/x/adjustments/%s", adj);
  assert_problem(&r, 404, "not-found", NULL);
  /* An adjustment read through another invoice does not exist there. */
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s/adjustments/%s", other, adj);
  assert_problem(&r, 404, "not-found", NULL);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s/adjustments", other);
  assert_status(&r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
  assert_true(json_is_null(json_object_get(r.json, "next_cursor")));

  /* List query errors. */
  static const char *const bad_queries[][2] = {
      {"?kind=refund", "kind"}, {"?limit=0", "limit"}, {"?limit=500", "limit"},
      {"?cursor=-3", "cursor"}, {"?status=open", "status"},
  };
  for (size_t i = 0; i < sizeof bad_queries / sizeof bad_queries[0]; i++) {
    httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s/adjustments%s", inv, bad_queries[i][0]);
    assert_problem(&r, 422, "validation", bad_queries[i][1]);
  }
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoice_adjustments WHERE invoice_id IN (%s, %s)", inv, other),
                   1);
  http_resp_clear(&r);
}

/* Credits racing for one balance: the row lock lets exactly as many
 * through as fit, and the rest see the lowered balance. */
static void concurrent_credits(void **state)
{
  (void)state;
  char cust[32], inv[32];
  sql_customer(cust, "Race Co");
  new_invoice(inv, .customer = cust, .number = "ADJ-RACE", .amount = 1000,
              .issued_on = "2999-01-01", .due_on = "2999-01-31");
  enum { N = 10 };
  struct racer rc[N];
  for (int i = 0; i < N; i++) {
    rc[i] = (struct racer){.who = ROLE_ADMIN,
                           .body = "{\"kind\": \"credit\", \"amount\": -150, \"reason\": \"race\"}"};
    snprintf(rc[i].url, sizeof rc[i].url, "%s/v1/invoices/%s/adjustments", harness_base(), inv);
  }
  run_racers(rc, N);
  int created = 0, refused = 0;
  for (int i = 0; i < N; i++) {
    if (rc[i].status == 201)
      created++;
    else if (rc[i].status == 409)
      refused++;
    else
      fail_msg("racing credit answered %ld", rc[i].status);
  }
  assert_int_equal(created, 6);
  assert_int_equal(refused, 4);
  assert_int_equal(invoice_int(inv, "balance"), 100);
  assert_int_equal(invoice_int(inv, "amount"), 100);
  assert_int_equal(count_adjustments(inv), 6);
  assert_int_equal(invoice_int(inv, "version"), 7);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(credit_debit_correction),
      cmocka_unit_test(balance_rules),
      cmocka_unit_test(closed_invoices),
      cmocka_unit_test(bad_input),
      cmocka_unit_test(routes_roles_and_ids),
      cmocka_unit_test(concurrent_credits),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
