/* /v1/promises: made directly, checked against what is owed, kept as soon
 * as payments cover them, broken once promised_on + grace passes (decided
 * by arc_promises_evaluate for any as_of, never by the wall clock), reopened
 * by a reversal, cancelled by managers; events; lists; bad input. */
#include "harness.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* POST /v1/promises as admin; asserts 201 and copies the id to OUT. */
static void new_promise(char out[32], const char *body)
{
  json_t *p = create_ok("/v1/promises", body);
  snprintf(out, 32, "%s", jstr(p, "id"));
  json_decref(p);
}

/* A promise of AMOUNT USD by today + DAYS on the customer's open invoices. */
static void promise_of(char out[32], const char *customer, long long amount, int days)
{
  char on[16], body[256];
  day(on, days);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": %lld, \"currency\": \"USD\", \"promised_on\": \"%s\"}", customer,
           amount, on);
  new_promise(out, body);
}

/* Records a payment of AMOUNT USD received today + DAYS; copies its id. */
static void pay(char out[32], const char *customer, const char *currency, long long amount, int days)
{
  char on[16], body[256];
  day(on, days);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": %lld, \"currency\": \"%s\", \"received_on\": \"%s\", "
           "\"method\": \"ach\"}",
           customer, amount, currency, on);
  json_t *p = create_ok("/v1/payments", body);
  snprintf(out, 32, "%s", jstr(p, "id"));
  json_decref(p);
}

static void reverse(const char *payment)
{
  struct http_resp r = {0};
  httpf(&r, "POST", ROLE_ADMIN, "{\"reason\": \"bounced\"}", "/v1/payments/%s/reversal", payment);
  assert_status(&r, 200);
  http_resp_clear(&r);
}

/* GET the promise into R (200 asserted). */
static void get_promise(struct http_resp *r, const char *id)
{
  httpf(r, "GET", ROLE_VIEWER, NULL, "/v1/promises/%s", id);
  assert_status(r, 200);
}

/* "kept,broken" as arc_promises_evaluate(AS_OF, CUSTOMER) answers (malloc'd). */
static char *evaluate(const char *as_of, const char *customer)
{
  return harness_sql("SELECT kept || ',' || broken FROM arc_promises_evaluate('%s'::timestamptz, %s)", as_of,
                     customer ? customer : "NULL");
}

static void assert_evaluate(const char *as_of, const char *customer, const char *expect)
{
  char *got = evaluate(as_of, customer), copy[64];
  snprintf(copy, sizeof copy, "%s", got);
  free(got);
  if (strcmp(copy, expect) != 0)
    fail_msg("arc_promises_evaluate(%s, %s): expected %s, got %s", as_of, customer ? customer : "NULL", expect, copy);
}

/* Everything a refused promise write could have touched. */
static const char *const watched[] = {"promises", "invoices", "events", NULL};

static void refused(const char *method, const char *path, enum role who, const char *body,
                    const char *const *headers, long status, const char *slug, const char *field)
{
  assert_refused(watched, method, path, who, body, headers, status, slug, field);
}

static void create_with_every_field(void **state)
{
  (void)state;
  char cust[32], inv1[32], inv2[32], on[16], due[16], body[1024];
  sql_customer(cust, "Promise Co");
  sql_invoice(inv1, .customer = cust, .currency = "EUR", .amount = 40000);
  sql_invoice(inv2, .customer = cust, .currency = "EUR", .amount = 20000);
  char *log = harness_sql("INSERT INTO call_logs (customer_id, channel, direction, outcome, contact_name, "
                          "occurred_at, logged_by) VALUES (%s, 'phone', 'outbound', 'reached', 'Ann', now(), 'x') "
                          "RETURNING id",
                          cust);
  day(on, 7);
  day(due, 8);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 60000, \"currency\": \"EUR\", \"promised_on\": \"%s\", "
           "\"method\": \"wire\", \"invoice_ids\": [\"%s\", \"%s\"], \"call_log_id\": \"%s\"}",
           cust, on, inv2, inv1, log);
  struct http_resp r = {0};
  http(&r, "POST", "/v1/promises", ROLE_COLLECTOR, body, NULL);
  assert_status(&r, 201);
  const json_t *d = r.json;
  char id[32], loc[64];
  snprintf(id, sizeof id, "%s", jstr(d, "id"));
  snprintf(loc, sizeof loc, "/v1/promises/%s", id);
  assert_string_equal(r.location, loc);
  assert_string_equal(r.etag, "\"1\"");
  assert_string_equal(jstr(d, "customer_id"), cust);
  assert_string_equal(jstr(d, "call_log_id"), log);
  assert_int_equal(json_array_size(json_object_get(d, "invoice_ids")), 2);
  assert_string_equal(json_string_value(json_array_get(json_object_get(d, "invoice_ids"), 0)), inv2);
  assert_string_equal(json_string_value(json_array_get(json_object_get(d, "invoice_ids"), 1)), inv1);
  assert_int_equal(jint(d, "amount"), 60000);
  assert_true(json_is_integer(json_object_get(d, "amount")));
  assert_string_equal(jstr(d, "currency"), "EUR");
  assert_string_equal(jstr(d, "promised_on"), on);
  assert_string_equal(jstr(d, "method"), "wire");
  assert_string_equal(jstr(d, "status"), "pending");
  assert_int_equal(jint(d, "paid_amount"), 0);
  assert_string_equal(jstr(d, "due_by"), due);
  assert_true(is_null(d, "kept_at"));
  assert_true(is_null(d, "broken_at"));
  assert_true(is_null(d, "cancelled_at"));
  assert_true(is_null(d, "cancel_reason"));
  assert_string_equal(jstr(d, "created_by"), "collector@example.com");
  assert_int_equal(jint(d, "version"), 1);
  assert_true(ts_shape_ok(jstr(d, "created_at")));
  assert_true(ts_shape_ok(jstr(d, "updated_at")));
  assert_int_equal(json_object_size(d), 19);
  json_t *created = json_incref(r.json);
  get_promise(&r, id);
  assert_string_equal(r.etag, "\"1\"");
  assert_true(json_equal(r.json, created));
  json_decref(created);

  /* The call log now names it. */
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/call-logs/%s", log);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "promise_id"), id);
  /* A call log carries one promise. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 100, \"currency\": \"EUR\", \"promised_on\": \"%s\", "
           "\"call_log_id\": \"%s\"}",
           cust, on, log);
  refused("POST", "/v1/promises", ROLE_ADMIN, body, NULL, 409, "duplicate", "call_log_id");
  free(log);

  /* Defaults: currency from the invoices, method null, no call log; a
   * promise may be for today. */
  day(on, 0);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 40000, \"promised_on\": \"%s\", \"invoice_ids\": [\"%s\"]}", cust,
           on, inv1);
  http(&r, "POST", "/v1/promises", ROLE_MANAGER, body, NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "currency"), "EUR");
  assert_true(is_null(r.json, "method"));
  assert_true(is_null(r.json, "call_log_id"));
  assert_string_equal(jstr(r.json, "created_by"), "manager@example.com");
  /* Without invoices: the customer's open balance in the currency. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 60000, \"currency\": \"EUR\", \"promised_on\": \"%s\", "
           "\"method\": null, \"invoice_ids\": []}",
           cust, on);
  http(&r, "POST", "/v1/promises", ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  assert_int_equal(json_array_size(json_object_get(r.json, "invoice_ids")), 0);
  assert_string_equal(jstr(r.json, "created_by"), "admin@example.com");
  http_resp_clear(&r);
}

/* Each: a body, with {C} the customer, {U} its USD invoice, {E} its EUR
 * invoice, {T} tomorrow and {Y} yesterday; and what must come back. */
struct bad_create {
  const char *label, *fmt;
  long status;
  const char *problem, *field;
};

static const struct bad_create bad_creates[] = {
    {"promised_on yesterday",
     "{\"customer_id\": \"{C}\", \"amount\": 100, \"currency\": \"USD\", \"promised_on\": \"{Y}\"}", 422,
     "validation", "promised_on"},
    {"amount over the covered invoices",
     "{\"customer_id\": \"{C}\", \"amount\": 1001, \"promised_on\": \"{T}\", \"invoice_ids\": [\"{U}\"]}", 422,
     "validation", "amount"},
    {"amount over the customer's open balance",
     "{\"customer_id\": \"{C}\", \"amount\": 3001, \"currency\": \"USD\", \"promised_on\": \"{T}\"}", 422,
     "validation", "amount"},
    {"nothing owed in the currency",
     "{\"customer_id\": \"{C}\", \"amount\": 1, \"currency\": \"GBP\", \"promised_on\": \"{T}\"}", 422,
     "validation", "amount"},
    {"currency differs from the invoices'",
     "{\"customer_id\": \"{C}\", \"amount\": 100, \"currency\": \"EUR\", \"promised_on\": \"{T}\", "
     "\"invoice_ids\": [\"{U}\"]}",
     422, "validation", "currency"},
    {"currency missing, owed in USD and EUR", "{\"customer_id\": \"{C}\", \"amount\": 100, \"promised_on\": \"{T}\"}",
     422, "validation", "currency"},
    {"invoices in two currencies",
     "{\"customer_id\": \"{C}\", \"amount\": 100, \"promised_on\": \"{T}\", \"invoice_ids\": [\"{U}\", \"{E}\"]}",
     422, "validation", "invoice_ids[1]"},
    {"unknown customer", "{\"customer_id\": \"999999999\", \"amount\": 1, \"currency\": \"USD\", \"promised_on\": \"{T}\"}",
     422, "validation", "customer_id"},
    {"unknown call log",
     "{\"customer_id\": \"{C}\", \"amount\": 1, \"currency\": \"USD\", \"promised_on\": \"{T}\", \"call_log_id\": "
     "\"999999999\"}",
     422, "validation", "call_log_id"},
    {"unknown invoice",
     "{\"customer_id\": \"{C}\", \"amount\": 1, \"promised_on\": \"{T}\", \"invoice_ids\": [\"{U}\", \"999999999\"]}",
     422, "validation", "invoice_ids[1]"},
    {"amount 0", "{\"customer_id\": \"{C}\", \"amount\": 0, \"currency\": \"USD\", \"promised_on\": \"{T}\"}", 422,
     "validation", "amount"},
    {"amount negative", "{\"customer_id\": \"{C}\", \"amount\": -5, \"currency\": \"USD\", \"promised_on\": \"{T}\"}",
     422, "validation", "amount"},
    {"amount float", "{\"customer_id\": \"{C}\", \"amount\": 12.5, \"currency\": \"USD\", \"promised_on\": \"{T}\"}",
     422, "validation", "amount"},
    {"amount 100.0", "{\"customer_id\": \"{C}\", \"amount\": 100.0, \"currency\": \"USD\", \"promised_on\": \"{T}\"}",
     422, "validation", "amount"},
    {"amount 1e2", "{\"customer_id\": \"{C}\", \"amount\": 1e2, \"currency\": \"USD\", \"promised_on\": \"{T}\"}",
     422, "validation", "amount"},
    {"amount string", "{\"customer_id\": \"{C}\", \"amount\": \"100\", \"currency\": \"USD\", \"promised_on\": \"{T}\"}",
     422, "validation", "amount"},
    {"amount 2^53",
     "{\"customer_id\": \"{C}\", \"amount\": 9007199254740992, \"currency\": \"USD\", \"promised_on\": \"{T}\"}", 422,
     "validation", "amount"},
    {"amount past int64",
     "{\"customer_id\": \"{C}\", \"amount\": 99999999999999999999, \"currency\": \"USD\", \"promised_on\": \"{T}\"}",
     400, "malformed-json", NULL},
    {"amount missing", "{\"customer_id\": \"{C}\", \"currency\": \"USD\", \"promised_on\": \"{T}\"}", 422,
     "validation", "amount"},
    {"currency lower case", "{\"customer_id\": \"{C}\", \"amount\": 1, \"currency\": \"usd\", \"promised_on\": \"{T}\"}",
     422, "validation", "currency"},
    {"currency null", "{\"customer_id\": \"{C}\", \"amount\": 1, \"currency\": null, \"promised_on\": \"{T}\"}", 422,
     "validation", "currency"},
    {"promised_on missing", "{\"customer_id\": \"{C}\", \"amount\": 1, \"currency\": \"USD\"}", 422, "validation",
     "promised_on"},
    {"promised_on 30 Feb", "{\"customer_id\": \"{C}\", \"amount\": 1, \"currency\": \"USD\", \"promised_on\": "
     "\"2999-02-30\"}", 422, "validation", "promised_on"},
    {"promised_on instant", "{\"customer_id\": \"{C}\", \"amount\": 1, \"currency\": \"USD\", \"promised_on\": "
     "\"2999-01-01T00:00:00Z\"}", 422, "validation", "promised_on"},
    {"method bogus",
     "{\"customer_id\": \"{C}\", \"amount\": 1, \"currency\": \"USD\", \"promised_on\": \"{T}\", \"method\": "
     "\"bitcoin\"}",
     422, "validation", "method"},
    {"invoice_ids not an array",
     "{\"customer_id\": \"{C}\", \"amount\": 1, \"promised_on\": \"{T}\", \"invoice_ids\": \"{U}\"}", 422,
     "validation", "invoice_ids"},
    {"invoice id a number",
     "{\"customer_id\": \"{C}\", \"amount\": 1, \"promised_on\": \"{T}\", \"invoice_ids\": [{U}]}", 422,
     "validation", "invoice_ids[0]"},
    {"invoice named twice",
     "{\"customer_id\": \"{C}\", \"amount\": 1, \"promised_on\": \"{T}\", \"invoice_ids\": [\"{U}\", \"{U}\"]}",
     422, "validation", "invoice_ids[1]"},
    {"invoice_ids null", "{\"customer_id\": \"{C}\", \"amount\": 1, \"promised_on\": \"{T}\", \"invoice_ids\": null}",
     422, "validation", "invoice_ids"},
    {"customer_id a number", "{\"customer_id\": {C}, \"amount\": 1, \"currency\": \"USD\", \"promised_on\": \"{T}\"}",
     422, "validation", "customer_id"},
    {"customer_id injection",
     "{\"customer_id\": \"1 OR 1=1\", \"amount\": 1, \"currency\": \"USD\", \"promised_on\": \"{T}\"}", 422,
     "validation", "customer_id"},
    {"call_log_id malformed",
     "{\"customer_id\": \"{C}\", \"amount\": 1, \"currency\": \"USD\", \"promised_on\": \"{T}\", \"call_log_id\": "
     "\"x\"}",
     422, "validation", "call_log_id"},
    {"status given", "{\"customer_id\": \"{C}\", \"amount\": 1, \"currency\": \"USD\", \"promised_on\": \"{T}\", "
     "\"status\": \"kept\"}", 422, "validation", "status"},
    {"paid_amount given", "{\"customer_id\": \"{C}\", \"amount\": 1, \"currency\": \"USD\", \"promised_on\": \"{T}\", "
     "\"paid_amount\": 1}", 422, "validation", "paid_amount"},
    {"unknown field", "{\"customer_id\": \"{C}\", \"amount\": 1, \"currency\": \"USD\", \"promised_on\": \"{T}\", "
     "\"colour\": \"red\"}", 422, "validation", "colour"},
    {"duplicate key", "{\"customer_id\": \"{C}\", \"amount\": 1, \"amount\": 2, \"currency\": \"USD\", "
     "\"promised_on\": \"{T}\"}", 400, "malformed-json", NULL},
    {"malformed", "{\"customer_id\": \"{C}\", ", 400, "malformed-json", NULL},
    {"not an object", "[\"{C}\"]", 422, "validation", "(body)"},
};

/* Copies FMT to OUT with {C} {U} {E} {T} {Y} replaced by VALUES[0..4]. */
static void fill(char *out, size_t size, const char *fmt, const char *const values[5])
{
  static const char tokens[] = "CUETY";
  size_t used = 0;
  for (const char *f = fmt; *f && used + 1 < size; f++) {
    const char *t = f[0] == '{' && f[1] && f[2] == '}' ? strchr(tokens, f[1]) : NULL;
    if (t) {
      used += (size_t)snprintf(out + used, size - used, "%s", values[t - tokens]);
      f += 2;
    } else {
      out[used++] = *f;
    }
  }
  out[used < size ? used : size - 1] = '\0';
}

static void create_errors(void **state)
{
  (void)state;
  char cust[32], other[32], usd[32], eur[32], other_inv[32], paid_inv[32], tomorrow[16], yesterday[16];
  sql_customer(cust, "Bad Promise Co");
  sql_customer(other, "Someone Else");
  sql_invoice(usd, .customer = cust, .amount = 1000);
  sql_invoice(eur, .customer = cust, .currency = "EUR", .amount = 500);
  char spare[32];
  sql_invoice(spare, .customer = cust, .amount = 2000);
  sql_invoice(other_inv, .customer = other, .amount = 1000);
  sql_invoice(paid_inv, .customer = cust, .amount = 700);
  harness_sql("UPDATE invoices SET balance = 0 WHERE id = %s", paid_inv);
  day(tomorrow, 1);
  day(yesterday, -1);
  char body[2048];
  for (size_t i = 0; i < sizeof bad_creates / sizeof bad_creates[0]; i++) {
    const struct bad_create *b = &bad_creates[i];
    const char *values[] = {cust, usd, eur, tomorrow, yesterday};
    fill(body, sizeof body, b->fmt, values);
    refused("POST", "/v1/promises", ROLE_ADMIN, body, NULL, b->status, b->problem, b->field);
  }

  /* Invoices of another customer, and paid ones, cannot be promised on. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 1, \"promised_on\": \"%s\", \"invoice_ids\": [\"%s\"]}", cust,
           tomorrow, other_inv);
  refused("POST", "/v1/promises", ROLE_ADMIN, body, NULL, 422, "validation", "invoice_ids[0]");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 1, \"promised_on\": \"%s\", \"invoice_ids\": [\"%s\", \"%s\"]}",
           cust, tomorrow, usd, paid_inv);
  refused("POST", "/v1/promises", ROLE_ADMIN, body, NULL, 422, "validation", "invoice_ids[1]");
  /* A call log of another customer. */
  char *log = harness_sql("INSERT INTO call_logs (customer_id, channel, direction, outcome, contact_name, "
                          "occurred_at, logged_by) VALUES (%s, 'phone', 'outbound', 'reached', 'Bo', now(), 'x') "
                          "RETURNING id",
                          other);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 1, \"currency\": \"USD\", \"promised_on\": \"%s\", \"call_log_id\": "
           "\"%s\"}",
           cust, tomorrow, log);
  refused("POST", "/v1/promises", ROLE_ADMIN, body, NULL, 422, "validation", "call_log_id");
  free(log);
  /* Every bad field in one 422, whether the server's C checks or the
   * database's find it: an unknown field, a past date, no currency for a
   * customer owing in two, a method that is none, an invoice of another
   * customer -- and nothing written. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 100, \"promised_on\": \"%s\", \"colour\": \"red\", "
           "\"method\": \"barter\"}",
           cust, yesterday);
  long long promises_before = harness_sql_int("SELECT count(*) FROM promises");
  struct http_resp all = {0};
  http(&all, "POST", "/v1/promises", ROLE_ADMIN, body, NULL);
  assert_problem(&all, 422, "validation", "colour");
  assert_problem(&all, 422, "validation", "method");
  assert_problem(&all, 422, "validation", "promised_on");
  assert_problem(&all, 422, "validation", "currency");
  assert_int_equal(json_array_size(json_object_get(all.json, "errors")), 4);
  assert_string_equal(jstr(all.json, "detail"), "4 fields failed validation");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 100, \"promised_on\": \"%s\", \"currency\": \"usd\", "
           "\"invoice_ids\": [\"%s\"]}",
           cust, yesterday, other_inv);
  http(&all, "POST", "/v1/promises", ROLE_ADMIN, body, NULL);
  assert_problem(&all, 422, "validation", "currency");
  assert_problem(&all, 422, "validation", "promised_on");
  assert_problem(&all, 422, "validation", "invoice_ids[0]");
  assert_int_equal(json_array_size(json_object_get(all.json, "errors")), 3);
  http_resp_clear(&all);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM promises"), promises_before);
  /* More than 100 invoices. */
  size_t used = (size_t)snprintf(body, sizeof body,
                                 "{\"customer_id\": \"%s\", \"amount\": 1, \"promised_on\": \"%s\", \"invoice_ids\": [",
                                 cust, tomorrow);
  for (int i = 0; i < 101; i++)
    used += (size_t)snprintf(body + used, sizeof body - used, "%s\"%d\"", i ? "," : "", i + 1);
  snprintf(body + used, sizeof body - used, "]}");
  refused("POST", "/v1/promises", ROLE_ADMIN, body, NULL, 422, "validation", "invoice_ids");

  /* Exactly what is owed is fine: all of the customer's open USD balance. */
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"amount\": 3000, \"currency\": \"USD\", \"promised_on\": \"%s\"}",
           cust, tomorrow);
  json_t *ok = create_ok("/v1/promises", body);
  assert_int_equal(jint(ok, "amount"), 3000);
  json_decref(ok);

  /* Every bad field at once. */
  struct http_resp r = {0};
  http(&r, "POST", "/v1/promises", ROLE_ADMIN, "{\"amount\": 1.5, \"method\": 3, \"promised_on\": \"soon\", \"x\": 1}",
       NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  assert_problem(&r, 422, "validation", "amount");
  assert_problem(&r, 422, "validation", "method");
  assert_problem(&r, 422, "validation", "promised_on");
  assert_problem(&r, 422, "validation", "x");
  /* The message says what is owed. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 1001, \"promised_on\": \"%s\", \"invoice_ids\": [\"%s\"]}", cust,
           tomorrow, usd);
  http(&r, "POST", "/v1/promises", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 422, "validation", "amount");
  assert_non_null(strstr(r.body, "is more than the USD 10.00 owed on the covered invoices"));
  http_resp_clear(&r);

  /* Bytes: invalid UTF-8, wrong media types, no body. */
  static const char bad_utf8[] = "{\"customer_id\": \"\xff\xfe\"}";
  refused("POST", "/v1/promises", ROLE_ADMIN, NULL, NULL, 422, "validation", "customer_id");
  char *before = tables_fingerprint(watched);
  http_raw(&r, "POST", "/v1/promises", ROLE_ADMIN, bad_utf8, sizeof bad_utf8 - 1, "application/json", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"amount\": 1, \"currency\": \"USD\", \"promised_on\": \"%s\"}",
           cust, tomorrow);
  http_raw(&r, "POST", "/v1/promises", ROLE_ADMIN, body, strlen(body), "text/plain", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  char *after = tables_fingerprint(watched);
  assert_string_equal(before, after);
  free(before);
  free(after);
  http_resp_clear(&r);

  /* Roles: viewers and integrations do not make promises. */
  refused("POST", "/v1/promises", ROLE_VIEWER, body, NULL, 403, "forbidden", NULL);
  refused("POST", "/v1/promises", ROLE_INTEGRATION, body, NULL, 403, "forbidden", NULL);
  refused("POST", "/v1/promises", NO_KEY, body, NULL, 401, "unauthorized", NULL);
}

/* Without currency or invoices, a promise is in the currency the customer
 * owes in, when there is one; owed in several it must say which (422 naming
 * them), owed nothing it has none to take. */
static void currency_from_what_is_owed(void **state)
{
  (void)state;
  char one[32], none[32], inv[32], eur[32], tomorrow[16], body[256];
  sql_customer(one, "Euro Only GmbH");
  sql_customer(none, "Owes Nothing Ltd");
  sql_invoice(inv, .customer = one, .currency = "EUR", .amount = 1000);
  sql_invoice(eur, .customer = one, .currency = "EUR", .amount = 500);
  day(tomorrow, 1);
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"amount\": 1200, \"promised_on\": \"%s\"}", one, tomorrow);
  json_t *p = create_ok("/v1/promises", body);
  assert_string_equal(jstr(p, "currency"), "EUR");
  json_decref(p);
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"amount\": 1, \"promised_on\": \"%s\"}", none, tomorrow);
  struct http_resp r = {0};
  http(&r, "POST", "/v1/promises", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 422, "validation", "currency");
  http_resp_clear(&r);
  sql_invoice(inv, .customer = one, .currency = "USD", .amount = 300);
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"amount\": 1, \"promised_on\": \"%s\"}", one, tomorrow);
  http(&r, "POST", "/v1/promises", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 422, "validation", "currency");
  assert_non_null(strstr(r.body, "EUR, USD"));
  http_resp_clear(&r);
}

/* A CRM syncing last month's calls: a promise made in a call is dated from
 * the call, and one already past due is decided at once — kept by what was
 * paid since the call (recorded before the sync), else broken. */
static void synced_calls_promise_in_the_past(void **state)
{
  (void)state;
  char paid_cus[32], unpaid_cus[32], inv[32], pay_id[32], body[1024];
  sql_customer(paid_cus, "Synced And Paid Ltd");
  sql_customer(unpaid_cus, "Synced Not Paid Ltd");
  sql_invoice(inv, .customer = paid_cus, .amount = 9000);
  sql_invoice(inv, .customer = unpaid_cus, .amount = 9000);
  char *call_at = harness_sql("SELECT arc_ts(now() - interval '30 days')");
  char *promised = harness_sql("SELECT to_char(current_date - 20, 'YYYY-MM-DD')");
  char *too_early = harness_sql("SELECT to_char(current_date - 31, 'YYYY-MM-DD')");
  /* Paid 25 days ago, recorded now: after the call, before the sync. */
  pay(pay_id, paid_cus, "USD", 3000, -25);
  const char *who[] = {paid_cus, unpaid_cus};
  const char *expect[] = {"kept", "broken"};
  for (int i = 0; i < 2; i++) {
    snprintf(body, sizeof body,
             "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", "
             "\"outcome\": \"reached\", \"contact_name\": \"AP\", \"occurred_at\": \"%s\", "
             "\"promise\": {\"amount\": 3000, \"promised_on\": \"%s\"}}",
             who[i], call_at, promised);
    struct http_resp r = {0};
    http(&r, "POST", "/v1/call-logs", ROLE_INTEGRATION, body, NULL);
    if (r.status != 201)
      fail_msg("%s: %ld %s", expect[i], r.status, r.body ? r.body : "");
    assert_string_equal(jstr(json_object_get(r.json, "promise"), "status"), expect[i]);
    http_resp_clear(&r);
  }
  /* Before the call's own day: refused, naming the call's day. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", "
           "\"outcome\": \"reached\", \"contact_name\": \"AP\", \"occurred_at\": \"%s\", "
           "\"promise\": {\"amount\": 1, \"promised_on\": \"%s\"}}",
           unpaid_cus, call_at, too_early);
  struct http_resp r = {0};
  http(&r, "POST", "/v1/call-logs", ROLE_INTEGRATION, body, NULL);
  assert_problem(&r, 422, "validation", "promise.promised_on");
  assert_non_null(strstr(r.body, "the day of the call"));
  http_resp_clear(&r);
  free(call_at);
  free(promised);
  free(too_early);
}

static void kept_as_soon_as_paid(void **state)
{
  (void)state;
  char cust[32], inv[32], prom[32], pay1[32], pay2[32], other_cur[32], early[32];
  sql_customer(cust, "Keeps Promises Ltd");
  sql_invoice(inv, .customer = cust, .amount = 100000);
  promise_of(prom, cust, 60000, 3);
  struct http_resp r = {0};

  /* Received before the promise was made: does not count. */
  pay(early, cust, "USD", 5000, -1);
  get_promise(&r, prom);
  assert_string_equal(jstr(r.json, "status"), "pending");
  assert_int_equal(jint(r.json, "paid_amount"), 0);
  /* Another currency does not count. */
  pay(other_cur, cust, "EUR", 90000, 0);
  get_promise(&r, prom);
  assert_string_equal(jstr(r.json, "status"), "pending");
  assert_int_equal(jint(r.json, "paid_amount"), 0);
  assert_int_equal(jint(r.json, "version"), 1);

  /* Part of it: pending, paid_amount follows. */
  pay(pay1, cust, "USD", 25000, 0);
  get_promise(&r, prom);
  assert_string_equal(jstr(r.json, "status"), "pending");
  assert_int_equal(jint(r.json, "paid_amount"), 25000);
  assert_true(is_null(r.json, "kept_at"));
  /* The rest: kept at once, kept_at set. */
  pay(pay2, cust, "USD", 35000, 0);
  get_promise(&r, prom);
  assert_string_equal(jstr(r.json, "status"), "kept");
  assert_int_equal(jint(r.json, "paid_amount"), 60000);
  assert_true(ts_shape_ok(jstr(r.json, "kept_at")));
  assert_true(is_null(r.json, "broken_at"));
  long long version = jint(r.json, "version");
  char *kept_at = strdup(jstr(r.json, "kept_at"));

  /* A further payment changes the paid amount, not when it was kept. */
  char pay3[32];
  pay(pay3, cust, "USD", 1000, 0);
  get_promise(&r, prom);
  assert_string_equal(jstr(r.json, "status"), "kept");
  assert_int_equal(jint(r.json, "paid_amount"), 61000);
  assert_string_equal(jstr(r.json, "kept_at"), kept_at);
  free(kept_at);
  assert_int_equal(jint(r.json, "version"), version + 1);

  /* A payment through the external upsert counts too. */
  char cust2[32], inv2[32], prom2[32], on[16], body[512];
  sql_customer(cust2, "Syncs Payments Ltd");
  sql_invoice(inv2, .customer = cust2, .amount = 5000);
  promise_of(prom2, cust2, 1000, 2);
  get_promise(&r, prom2);
  assert_string_equal(jstr(r.json, "status"), "pending");
  day(on, 0);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 1000, \"currency\": \"USD\", \"received_on\": \"%s\", "
           "\"method\": \"check\"}",
           cust2, on);
  http(&r, "PUT", "/v1/payments/external/prm-ext-1", ROLE_INTEGRATION, body, NULL);
  assert_status(&r, 201);
  get_promise(&r, prom2);
  assert_string_equal(jstr(r.json, "status"), "kept");
  assert_int_equal(jint(r.json, "paid_amount"), 1000);

  /* Payments recorded before a promise was made do not count toward it,
   * even from the same day: they were already off the balance promised on. */
  char prom3[32];
  promise_of(prom3, cust, 1000, 2);
  get_promise(&r, prom3);
  assert_string_equal(jstr(r.json, "status"), "pending");
  assert_int_equal(jint(r.json, "paid_amount"), 0);
  http_resp_clear(&r);
}

static void reversal_reopens(void **state)
{
  (void)state;
  char cust[32], inv[32], prom[32], p1[32], p2[32];
  sql_customer(cust, "Bounced Checks Inc");
  sql_invoice(inv, .customer = cust, .amount = 100000);
  promise_of(prom, cust, 50000, 5);
  pay(p1, cust, "USD", 30000, 0);
  pay(p2, cust, "USD", 20000, 0);
  struct http_resp r = {0};
  get_promise(&r, prom);
  assert_string_equal(jstr(r.json, "status"), "kept");

  /* One payment bounces: back to pending with what is left. */
  reverse(p2);
  get_promise(&r, prom);
  assert_string_equal(jstr(r.json, "status"), "pending");
  assert_int_equal(jint(r.json, "paid_amount"), 30000);
  assert_true(is_null(r.json, "kept_at"));
  assert_true(is_null(r.json, "broken_at"));
  reverse(p1);
  get_promise(&r, prom);
  assert_string_equal(jstr(r.json, "status"), "pending");
  assert_int_equal(jint(r.json, "paid_amount"), 0);

  /* Kept long ago, its day past: a reversal breaks it. */
  char prom2[32], p3[32];
  promise_of(prom2, cust, 10000, 5);
  pay(p3, cust, "USD", 10000, 0);
  get_promise(&r, prom2);
  assert_string_equal(jstr(r.json, "status"), "kept");
  harness_sql("UPDATE promises SET promised_on = '2020-01-10', created_at = '2020-01-01T12:00:00Z' WHERE id = %s",
              prom2);
  harness_sql("UPDATE payments SET received_on = '2020-01-05' WHERE id = %s", p3);
  harness_sql("UPDATE promises SET status = 'cancelled', cancelled_at = now(), cancel_reason = 'x' WHERE id = %s",
              prom);
  reverse(p3);
  get_promise(&r, prom2);
  assert_string_equal(jstr(r.json, "status"), "broken");
  assert_int_equal(jint(r.json, "paid_amount"), 0);
  assert_true(is_null(r.json, "kept_at"));
  assert_true(ts_shape_ok(jstr(r.json, "broken_at")));
  http_resp_clear(&r);
}

static void evaluate_as_of(void **state)
{
  (void)state;
  char cust[32], other[32], inv[32], oinv[32], prom[32], fut[32], oprom[32];
  sql_customer(cust, "Replay Ltd");
  sql_customer(other, "Bystander Ltd");
  sql_invoice(inv, .customer = cust, .amount = 100000);
  sql_invoice(oinv, .customer = other, .amount = 100000);
  promise_of(prom, cust, 1000, 0);
  promise_of(oprom, other, 1000, 0);
  /* Promised for 2020-01-10, made 2020-01-01: due by 2020-01-11 (grace 1). */
  harness_sql("UPDATE promises SET promised_on = '2020-01-10', created_at = '2020-01-01T12:00:00Z' WHERE id IN (%s, %s)",
              prom, oprom);
  long long v0 = harness_sql_int("SELECT version FROM promises WHERE id = %s", prom);

  /* Before the due date, and on it: pending, although the wall clock is
   * years past it — only as_of counts. */
  assert_evaluate("2019-06-01T12:00:00Z", cust, "0,0");
  assert_evaluate("2020-01-11T12:00:00Z", cust, "0,0");
  char *s = harness_sql("SELECT status FROM promises WHERE id = %s", prom);
  assert_string_equal(s, "pending");
  free(s);
  assert_int_equal(harness_sql_int("SELECT version FROM promises WHERE id = %s", prom), v0);
  /* The day after: broken (recorded in real time, not at as_of); the
   * other customer is untouched. */
  assert_evaluate("2020-01-12T12:00:00Z", cust, "0,1");
  s = harness_sql("SELECT status FROM promises WHERE id = %s", prom);
  assert_string_equal(s, "broken");
  free(s);
  char *broken_at = harness_sql("SELECT arc_ts(broken_at) FROM promises WHERE id = %s", prom);
  assert_true(recorded_now(broken_at));
  s = harness_sql("SELECT status FROM promises WHERE id = %s", oprom);
  assert_string_equal(s, "pending");
  free(s);
  /* Again, or later: nothing changes, not even the version. */
  long long v1 = harness_sql_int("SELECT version FROM promises WHERE id = %s", prom);
  assert_evaluate("2020-01-12T12:00:00Z", cust, "0,0");
  assert_evaluate("2999-01-01T12:00:00Z", cust, "0,0");
  assert_int_equal(harness_sql_int("SELECT version FROM promises WHERE id = %s", prom), v1);
  s = harness_sql("SELECT arc_ts(broken_at) FROM promises WHERE id = %s", prom);
  assert_string_equal(s, broken_at);
  free(s);
  free(broken_at);

  /* A promise due next week: a past as_of leaves it be, a far future one
   * breaks it. */
  promise_of(fut, cust, 1000, 7);
  assert_evaluate("2001-01-01T12:00:00Z", cust, "0,0");
  s = harness_sql("SELECT status FROM promises WHERE id = %s", fut);
  assert_string_equal(s, "pending");
  free(s);
  assert_evaluate("2999-12-31T12:00:00Z", cust, "0,1");
  s = harness_sql("SELECT status FROM promises WHERE id = %s", fut);
  assert_string_equal(s, "broken");
  free(s);
  s = harness_sql("SELECT arc_ts(broken_at) FROM promises WHERE id = %s", fut);
  assert_true(recorded_now(s));
  free(s);

  /* Paid (recorded behind the API's back, so only evaluation sees it):
   * kept, even when as_of is past the due date. */
  char kept[32], today[16];
  promise_of(kept, other, 2000, 3);
  day(today, 0);
  harness_sql("INSERT INTO payments (customer_id, amount, currency, received_on, method, unapplied) "
              "VALUES (%s, 2500, 'USD', '%s', 'ach', 2500)",
              other, today);
  assert_evaluate("2031-05-05T10:00:00Z", other, "1,0");
  s = harness_sql("SELECT status || ' ' || paid_amount FROM promises WHERE id = %s", kept);
  assert_string_equal(s, "kept 2500");
  free(s);
  s = harness_sql("SELECT arc_ts(kept_at) FROM promises WHERE id = %s", kept);
  assert_true(recorded_now(s));
  free(s);
  assert_evaluate("2031-05-05T10:00:00Z", other, "0,0");
  /* The other customer's old promise broke when the new one was made
   * (creating a promise evaluates the customer's promises as of now). */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM promises WHERE id = %s AND status = 'broken' "
                                   "AND broken_at > now() - interval '1 hour'",
                                   oprom),
                   1);

  /* All customers at once (the scheduler's call). */
  char a[32], b[32], third[32], tinv[32];
  sql_customer(third, "Third Ltd");
  sql_invoice(tinv, .customer = third, .amount = 1000);
  promise_of(a, cust, 100, 1);
  promise_of(b, third, 100, 1);
  long long pending = harness_sql_int("SELECT count(*) FROM promises WHERE status = 'pending'");
  assert_true(pending >= 2);
  char *got = evaluate("2998-01-01T12:00:00Z", NULL);
  char expect[32];
  snprintf(expect, sizeof expect, "0,%lld", pending);
  assert_string_equal(got, expect);
  free(got);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM promises WHERE status = 'pending'"), 0);
  assert_evaluate("2998-01-01T12:00:00Z", NULL, "0,0");
}

/* The business day of as_of is taken in the session's time zone. */
static void evaluate_business_day(void **state)
{
  (void)state;
  char cust[32], inv[32], prom[32];
  sql_customer(cust, "Time Zone Co");
  sql_invoice(inv, .customer = cust, .amount = 1000);
  promise_of(prom, cust, 100, 0);
  harness_sql("UPDATE promises SET promised_on = '2020-01-10', created_at = '2020-01-01T12:00:00Z' WHERE id = %s", prom);
  /* 2020-01-12 02:00 in Tokyo is still 2020-01-11 in UTC. */
  char *saved = harness_sql("SELECT current_setting('TimeZone')");
  char *got = harness_sql("SELECT set_config('TimeZone', 'UTC', false)");
  free(got);
  assert_evaluate("2020-01-12T02:00:00+09:00", cust, "0,0");
  got = harness_sql("SELECT set_config('TimeZone', 'Asia/Tokyo', false)");
  free(got);
  assert_evaluate("2020-01-12T02:00:00+09:00", cust, "0,1");
  got = harness_sql("SELECT set_config('TimeZone', '%s', false)", saved);
  free(got);
  free(saved);
}

static void cancel(void **state)
{
  (void)state;
  char cust[32], inv[32], prom[32], kept[32], p[32], path[64];
  sql_customer(cust, "Cancel Co");
  sql_invoice(inv, .customer = cust, .amount = 100000);
  promise_of(prom, cust, 1000, 5);
  snprintf(path, sizeof path, "/v1/promises/%s", prom);
  const char *good = "{\"status\": \"cancelled\", \"cancel_reason\": \"customer went bankrupt\"}";

  /* Collectors, viewers and integrations may not; bad bodies change nothing. */
  refused("PATCH", path, ROLE_COLLECTOR, good, NULL, 403, "forbidden", NULL);
  refused("PATCH", path, ROLE_VIEWER, good, NULL, 403, "forbidden", NULL);
  refused("PATCH", path, ROLE_INTEGRATION, good, NULL, 403, "forbidden", NULL);
  refused("PATCH", path, NO_KEY, good, NULL, 401, "unauthorized", NULL);
  refused("PATCH", path, ROLE_MANAGER, "{\"status\": \"cancelled\"}", NULL, 422, "validation", "cancel_reason");
  refused("PATCH", path, ROLE_MANAGER, "{\"status\": \"cancelled\", \"cancel_reason\": \"  \"}", NULL, 422,
          "validation", "cancel_reason");
  refused("PATCH", path, ROLE_MANAGER, "{\"status\": \"cancelled\", \"cancel_reason\": null}", NULL, 422, "validation",
          "cancel_reason");
  refused("PATCH", path, ROLE_MANAGER, "{\"cancel_reason\": \"why\"}", NULL, 422, "validation", "status");
  refused("PATCH", path, ROLE_MANAGER, "{\"status\": \"kept\", \"cancel_reason\": \"why\"}", NULL, 422, "validation",
          "status");
  refused("PATCH", path, ROLE_MANAGER, "{\"status\": \"pending\", \"cancel_reason\": \"why\"}", NULL, 422,
          "validation", "status");
  refused("PATCH", path, ROLE_MANAGER, "{\"status\": null, \"cancel_reason\": \"why\"}", NULL, 422, "validation",
          "status");
  refused("PATCH", path, ROLE_MANAGER, "{\"status\": \"cancelled\", \"cancel_reason\": \"why\", \"amount\": 5}", NULL,
          422, "validation", "amount");
  refused("PATCH", path, ROLE_MANAGER, "{\"promised_on\": \"2999-01-01\"}", NULL, 422, "validation", "promised_on");
  refused("PATCH", path, ROLE_MANAGER, "{\"status\": \"cancelled\", ", NULL, 400, "malformed-json", NULL);
  const char *const stale[] = {"If-Match: \"7\"", NULL};
  refused("PATCH", path, ROLE_MANAGER, good, stale, 412, "precondition-failed", NULL);
  refused("PATCH", "/v1/promises/999999999", ROLE_MANAGER, good, NULL, 404, "not-found", NULL);
  refused("PATCH", "/v1/promises/abc", ROLE_MANAGER, good, NULL, 404, "not-found", NULL);

  struct http_resp r = {0};
  /* An empty change answers the promise as it is. */
  http(&r, "PATCH", path, ROLE_MANAGER, "{}", NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), 1);
  /* Cancelled by a manager, with the current tag. */
  const char *const fresh[] = {"If-Match: \"1\"", NULL};
  http(&r, "PATCH", path, ROLE_MANAGER, good, fresh);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"2\"");
  assert_string_equal(jstr(r.json, "status"), "cancelled");
  assert_string_equal(jstr(r.json, "cancel_reason"), "customer went bankrupt");
  assert_true(ts_shape_ok(jstr(r.json, "cancelled_at")));
  assert_int_equal(jint(r.json, "version"), 2);
  /* Once only. */
  refused("PATCH", path, ROLE_ADMIN, good, NULL, 409, "conflict", "status");
  /* A payment does not bring a cancelled promise back. */
  pay(p, cust, "USD", 1000, 0);
  get_promise(&r, prom);
  assert_string_equal(jstr(r.json, "status"), "cancelled");
  assert_int_equal(jint(r.json, "paid_amount"), 0);

  /* A kept or broken promise cannot be cancelled. */
  promise_of(kept, cust, 500, 5);
  char p2[32];
  pay(p2, cust, "USD", 500, 0);
  get_promise(&r, kept);
  assert_string_equal(jstr(r.json, "status"), "kept");
  snprintf(path, sizeof path, "/v1/promises/%s", kept);
  refused("PATCH", path, ROLE_ADMIN, good, NULL, 409, "conflict", "status");
  char broken[32];
  promise_of(broken, cust, 500, 5);
  harness_sql("UPDATE promises SET status = 'broken', broken_at = now() WHERE id = %s", broken);
  snprintf(path, sizeof path, "/v1/promises/%s", broken);
  refused("PATCH", path, ROLE_ADMIN, good, NULL, 409, "conflict", "status");
  http_resp_clear(&r);
}

/* The events of CUSTOMER's promise ID, as "type,type" in feed order.  The
 * feed holds back events while older transactions run anywhere on the
 * cluster, so wait (up to a minute) until at least MIN have come. */
static void promise_events(const char *customer, const char *id, size_t min, char *out, size_t size)
{
  struct http_resp r = {0};
  char path[256];
  snprintf(path, sizeof path, "/v1/events?customer_id=%s&limit=200", customer);
  for (int tries = 0; tries < 1200; tries++) {
    http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
    assert_status(&r, 200);
    size_t used = 0, n = 0, i;
    json_t *e;
    out[0] = '\0';
    json_array_foreach(json_object_get(r.json, "data"), i, e) {
      if (strcmp(jstr(e, "resource_type"), "promise") == 0 && strcmp(jstr(e, "resource_id"), id) == 0) {
        used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "", jstr(e, "type"));
        n++;
      }
    }
    if (n >= min)
      break;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  http_resp_clear(&r);
}

static void events(void **state)
{
  (void)state;
  char cust[32], cust2[32], inv[32], inv2[32], kept[32], broken[32], cancelled[32], p[32], types[512];
  sql_customer(cust, "Eventful Promises");
  sql_customer(cust2, "Breaks Promises");
  sql_invoice(inv, .customer = cust, .amount = 100000);
  sql_invoice(inv2, .customer = cust2, .amount = 100000);
  promise_of(kept, cust, 1000, 3);
  promise_of(cancelled, cust, 1000, 3);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"cancelled\", \"cancel_reason\": \"plan agreed\"}",
        "/v1/promises/%s", cancelled);
  assert_status(&r, 200);
  pay(p, cust, "USD", 1000, 0);
  reverse(p);
  pay(p, cust, "USD", 1000, 0);
  promise_of(broken, cust2, 1000, 3);
  assert_evaluate("2999-01-01T12:00:00Z", cust2, "0,1");

  promise_events(cust, kept, 4, types, sizeof types);
  assert_string_equal(types, "promise.created,promise.kept,promise.pending,promise.kept");
  promise_events(cust, cancelled, 2, types, sizeof types);
  assert_string_equal(types, "promise.created,promise.cancelled");
  promise_events(cust2, broken, 2, types, sizeof types);
  assert_string_equal(types, "promise.created,promise.broken");

  /* The event carries the promise as it was at commit, and who did it. */
  char path[256];
  snprintf(path, sizeof path, "/v1/events?customer_id=%s&type=promise.cancelled", cust);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  json_t *e = json_array_get(json_object_get(r.json, "data"), 0);
  assert_non_null(e);
  assert_string_equal(jstr(e, "actor"), "manager@example.com");
  assert_string_equal(jstr(json_object_get(e, "data"), "status"), "cancelled");
  assert_string_equal(jstr(json_object_get(e, "data"), "cancel_reason"), "plan agreed");
  /* The payment's actor made it kept. */
  snprintf(path, sizeof path, "/v1/events?customer_id=%s&type=promise.kept", cust);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  e = json_array_get(json_object_get(r.json, "data"), 0);
  assert_non_null(e);
  assert_string_equal(jstr(e, "actor"), "admin@example.com");
  assert_int_equal(jint(json_object_get(e, "data"), "paid_amount"), 1000);
  http_resp_clear(&r);
}

/* Payments of one customer committing at once, each on its own invoice (so
 * no invoice lock orders them): every one counts, the promise is kept. */
static void concurrent_payments(void **state)
{
  (void)state;
  enum { N = 8 };
  char cust[32], inv[N][32], prom[32], today[16];
  sql_customer(cust, "Pays In Parallel");
  for (int i = 0; i < N; i++)
    sql_invoice(inv[i], .customer = cust, .amount = 1000);
  promise_of(prom, cust, N * 1000, 2);
  day(today, 0);
  struct racer rc[N];
  for (int i = 0; i < N; i++) {
    rc[i] = (struct racer){.who = ROLE_INTEGRATION};
    snprintf(rc[i].url, sizeof rc[i].url, "%s/v1/payments", harness_base());
    snprintf(rc[i].body, sizeof rc[i].body,
             "{\"customer_id\": \"%s\", \"amount\": 1000, \"currency\": \"USD\", \"received_on\": \"%s\", "
             "\"method\": \"ach\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 1000}]}",
             cust, today, inv[i]);
  }
  run_racers(rc, N);
  for (int i = 0; i < N; i++) {
    if (rc[i].status != 201)
      fail_msg("racing payment answered %ld", rc[i].status);
  }
  struct http_resp r = {0};
  get_promise(&r, prom);
  assert_string_equal(jstr(r.json, "status"), "kept");
  assert_int_equal(jint(r.json, "paid_amount"), N * 1000);
  http_resp_clear(&r);
}

/* A promise made while a payment of the same customer is being recorded
 * (not yet committed, on invoices the promise does not cover): the promise
 * waits for it, so it sees the balance after that payment — and the payment,
 * recorded before the promise, does not count toward it. */
static void promise_during_payment(void **state)
{
  (void)state;
  char cust[32], a[32], b[32], today[16], on[16];
  sql_customer(cust, "Pays While Promising");
  sql_invoice(a, .customer = cust, .amount = 1000);
  sql_invoice(b, .customer = cust, .amount = 1000);
  day(today, 0);
  day(on, 2);
  char *r0 = harness_sql("BEGIN");
  free(r0);
  r0 = harness_sql("SELECT res_id FROM arc_payment_record('{\"customer_id\": \"%s\", \"amount\": 500, "
                   "\"currency\": \"USD\", \"received_on\": \"%s\", \"method\": \"ach\", \"allocations\": "
                   "[{\"invoice_id\": \"%s\", \"amount\": 500}]}', 'test')",
                   cust, today, a);
  free(r0);
  struct racer rc = {.who = ROLE_COLLECTOR};
  snprintf(rc.url, sizeof rc.url, "%s/v1/promises", harness_base());
  snprintf(rc.body, sizeof rc.body,
           "{\"customer_id\": \"%s\", \"amount\": 500, \"promised_on\": \"%s\", \"invoice_ids\": [\"%s\"]}",
           cust, on, b);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, racer_run, &rc), 0);
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL);
  int early = atomic_load(&rc.done);
  r0 = harness_sql("COMMIT");
  free(r0);
  pthread_join(th, NULL);
  /* It waited for the payment's transaction. */
  assert_int_equal(early, 0);
  assert_int_equal(rc.status, 201);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM promises WHERE customer_id = %s AND status = 'pending' "
                                   "AND paid_amount = 0",
                                   cust),
                   1);
}

struct sweeper {
  char result[64];
};

/* The scheduler's call, on a connection of its own. */
static void *sweep(void *arg)
{
  struct sweeper *sw = arg;
  PGconn *c = PQconnectdb(getenv("DATABASE_URL"));
  PGresult *r = PQexec(c, "SELECT kept || ',' || broken FROM arc_promises_evaluate('2999-01-01T12:00:00Z')");
  snprintf(sw->result, sizeof sw->result, "%s",
           PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : PQresultErrorMessage(r));
  PQclear(r);
  PQfinish(c);
  return NULL;
}

/* The sweep of all customers meets a promise cancelled at the same moment:
 * it leaves it cancelled instead of breaking it with what it read before. */
static void sweep_meets_cancel(void **state)
{
  (void)state;
  char cust[32], inv[32], prom[32];
  sql_customer(cust, "Cancelled Mid-Sweep");
  sql_invoice(inv, .customer = cust, .amount = 1000);
  promise_of(prom, cust, 100, 1);
  harness_sql("UPDATE promises SET promised_on = '2020-01-10' WHERE id = %s", prom);
  char *r0 = harness_sql("BEGIN");
  free(r0);
  harness_sql("UPDATE promises SET status = 'cancelled', cancelled_at = now(), cancel_reason = 'x' WHERE id = %s",
              prom);
  struct sweeper sw = {{0}};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, sweep, &sw), 0);
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL);
  r0 = harness_sql("COMMIT");
  free(r0);
  pthread_join(th, NULL);
  if (!strchr(sw.result, ','))
    fail_msg("the sweep failed: %s", sw.result);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM promises WHERE id = %s AND status = 'cancelled' "
                                   "AND broken_at IS NULL",
                                   prom),
                   1);
}

static void list_filters_and_pages(void **state)
{
  (void)state;
  char c1[32], c2[32], i1[32], i2[32], p1[32], p2[32], p3[32], p4[32], path[512], body[512], on[16];
  sql_customer(c1, "List Promises One");
  sql_customer(c2, "List Promises Two");
  sql_invoice(i1, .customer = c1, .amount = 10000);
  sql_invoice(i2, .customer = c2, .amount = 10000);
  promise_of(p1, c1, 100, 1);
  day(on, 10);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 200, \"promised_on\": \"%s\", \"invoice_ids\": [\"%s\"]}", c1, on,
           i1);
  new_promise(p2, body);
  char *log = harness_sql("INSERT INTO call_logs (customer_id, channel, direction, outcome, contact_name, "
                          "occurred_at, logged_by) VALUES (%s, 'phone', 'inbound', 'reached', 'Cy', now(), 'x') "
                          "RETURNING id",
                          c1);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 300, \"currency\": \"USD\", \"promised_on\": \"%s\", "
           "\"call_log_id\": \"%s\"}",
           c1, on, log);
  new_promise(p3, body);
  promise_of(p4, c2, 400, 1);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"cancelled\", \"cancel_reason\": \"x\"}", "/v1/promises/%s", p1);
  assert_status(&r, 200);

  snprintf(path, sizeof path, "/v1/promises?customer_id=%s&limit=2", c1);
  http(&r, "GET", path, ROLE_COLLECTOR, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 2);
  assert_string_equal(data_id(&r, 0), p1);
  assert_string_equal(data_id(&r, 1), p2);
  assert_string_equal(jstr(r.json, "next_cursor"), p2);
  snprintf(path, sizeof path, "/v1/promises?customer_id=%s&limit=2&cursor=%s", c1, p2);
  http(&r, "GET", path, ROLE_COLLECTOR, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), p3);
  assert_true(is_null(r.json, "next_cursor"));

  snprintf(path, sizeof path, "/v1/promises?customer_id=%s&status=cancelled", c1);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), p1);
  snprintf(path, sizeof path, "/v1/promises?customer_id=%s&status=pending", c1);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 2);
  snprintf(path, sizeof path, "/v1/promises?call_log_id=%s", log);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), p3);
  snprintf(path, sizeof path, "/v1/promises?invoice_id=%s", i1);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), p2);
  snprintf(path, sizeof path, "/v1/promises?customer_id=%s&promised_from=%s", c1, on);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 2);
  snprintf(path, sizeof path, "/v1/promises?customer_id=%s&promised_to=%s", c1, on);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 3);
  day(on, 9);
  snprintf(path, sizeof path, "/v1/promises?customer_id=%s&promised_to=%s", c1, on);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), p1);
  char *t = harness_sql("SELECT arc_ts(updated_at) FROM promises WHERE id = %s", p1);
  snprintf(path, sizeof path, "/v1/promises?customer_id=%s&updated_since=%s", c1, t);
  free(t);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), p1);
  snprintf(path, sizeof path, "/v1/promises?customer_id=%s&status=pending&invoice_id=%s", c2, i1);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 0);
  http(&r, "GET", "/v1/promises", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  assert_true(data_size(&r) >= 4);
  free(log);
  http_resp_clear(&r);
}

static const struct step route_errors[] = {
    {"unknown parameter", "GET", "/v1/promises?colour=red", ROLE_ADMIN, NULL, 422, "validation", "colour"},
    {"limit 0", "GET", "/v1/promises?limit=0", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"limit 201", "GET", "/v1/promises?limit=201", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"cursor text", "GET", "/v1/promises?cursor=abc", ROLE_ADMIN, NULL, 422, "validation", "cursor"},
    {"customer_id text", "GET", "/v1/promises?customer_id=x", ROLE_ADMIN, NULL, 422, "validation", "customer_id"},
    {"status bogus", "GET", "/v1/promises?status=late", ROLE_ADMIN, NULL, 422, "validation", "status"},
    {"call_log_id bad", "GET", "/v1/promises?call_log_id=-1", ROLE_ADMIN, NULL, 422, "validation", "call_log_id"},
    {"invoice_id injection", "GET", "/v1/promises?invoice_id=1%20OR%201=1", ROLE_ADMIN, NULL, 422, "validation",
     "invoice_id"},
    {"promised_from bad", "GET", "/v1/promises?promised_from=2020-02-30", ROLE_ADMIN, NULL, 422, "validation",
     "promised_from"},
    {"promised_to before from", "GET", "/v1/promises?promised_from=2020-02-02&promised_to=2020-02-01", ROLE_ADMIN,
     NULL, 422, "validation", "promised_to"},
    {"updated_since date", "GET", "/v1/promises?updated_since=2020-01-01", ROLE_ADMIN, NULL, 422, "validation",
     "updated_since"},
    {"invalid UTF-8", "GET", "/v1/promises?status=%FF", ROLE_ADMIN, NULL, 400, "bad-request", NULL},
    {"no key", "GET", "/v1/promises", NO_KEY, NULL, 401, "unauthorized", NULL},
    {"unknown id", "GET", "/v1/promises/999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id text", "GET", "/v1/promises/abc", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id zero", "GET", "/v1/promises/0", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"delete item", "DELETE", "/v1/promises/1", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
    {"put item", "PUT", "/v1/promises/1", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
    {"delete list", "DELETE", "/v1/promises", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
    {"patch list", "PATCH", "/v1/promises", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
};

static void route_errors_test(void **state)
{
  (void)state;
  run_steps(route_errors, sizeof route_errors / sizeof route_errors[0]);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(create_with_every_field),
      cmocka_unit_test(create_errors),
      cmocka_unit_test(currency_from_what_is_owed),
      cmocka_unit_test(synced_calls_promise_in_the_past),
      cmocka_unit_test(kept_as_soon_as_paid),
      cmocka_unit_test(reversal_reopens),
      cmocka_unit_test(evaluate_as_of),
      cmocka_unit_test(evaluate_business_day),
      cmocka_unit_test(cancel),
      cmocka_unit_test(events),
      cmocka_unit_test(concurrent_payments),
      cmocka_unit_test(promise_during_payment),
      cmocka_unit_test(list_filters_and_pages),
      cmocka_unit_test(route_errors_test),
      cmocka_unit_test(sweep_meets_cancel),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
