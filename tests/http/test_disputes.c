/* /v1/disputes: opening one (one open dispute per invoice, open invoices
 * only), the invoice's in_dispute, resolution by credit, by corrected
 * invoice (amount and/or due date) or by acceptance, rejection, the rules of
 * PATCH, lists, events, and every kind of bad input. */
#include "harness.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void new_customer(char out[32], const char *name)
{
  snprintf(out, 32, "%s", make_customer(name));
}

/* Opens a dispute as ROLE and copies its id to OUT; asserts 201. */
static void open_dispute(char out[32], const char *invoice, long long amount, const char *reason, enum role who)
{
  struct http_resp r = {0};
  char body[256];
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"%s\", \"amount\": %lld}", invoice, reason,
           amount);
  http(&r, "POST", "/v1/disputes", who, body, NULL);
  assert_status(&r, 201);
  snprintf(out, 32, "%s", jstr(r.json, "id"));
  http_resp_clear(&r);
}

/* Pays AMOUNT on INVOICE today. */
static void pay(const char *customer, const char *invoice, long long amount)
{
  char body[512], today[16];
  day(today, 0);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": %lld, \"currency\": \"USD\", \"received_on\": \"%s\", "
           "\"method\": \"check\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": %lld}]}",
           customer, amount, today, invoice, amount);
  json_decref(create_ok("/v1/payments", body));
}

/* GET /v1/invoices/ID as a viewer; caller decrefs. */
static json_t *get_invoice(const char *id)
{
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/invoices/%s", id);
  assert_status(&r, 200);
  json_t *j = json_incref(r.json);
  http_resp_clear(&r);
  return j;
}

static int in_dispute(const char *invoice)
{
  json_t *j = get_invoice(invoice);
  int v = json_is_true(json_object_get(j, "in_dispute"));
  if (!v && !json_is_false(json_object_get(j, "in_dispute")))
    fail_msg("in_dispute is not a boolean");
  json_decref(j);
  return v;
}

static long long count_disputes(void)
{
  return harness_sql_int("SELECT count(*) FROM disputes");
}

/* A call log of CUSTOMER made directly in the table (the call log API is
 * another module's). */
static void new_call_log(char out[32], const char *customer)
{
  char *id = harness_sql("INSERT INTO call_logs (customer_id, channel, direction, outcome, contact_name, "
                         "occurred_at, logged_by) VALUES (%s, 'phone', 'outbound', 'reached', 'Ann', now(), 'x') "
                         "RETURNING id",
                         customer);
  snprintf(out, 32, "%s", id);
  free(id);
}

static void open_get_and_close(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], loc[64], body[512];
  new_customer(cus, "Dispute Co");
  new_invoice(inv, .customer = cus, .amount = 10000, .issued_in = -40, .due_in = -10);
  assert_false(in_dispute(inv));
  json_t *before = get_invoice(inv);
  assert_true(is_null(before, "resubmitted_on"));

  struct http_resp r = {0};
  snprintf(body, sizeof body,
           "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 2500, \"notes\": \"unit price was 10%% off\"}",
           inv);
  http(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, body, NULL);
  assert_status(&r, 201);
  const json_t *d = r.json;
  snprintf(id, sizeof id, "%s", jstr(d, "id"));
  snprintf(loc, sizeof loc, "/v1/disputes/%s", id);
  assert_string_equal(r.location, loc);
  assert_string_equal(r.etag, "\"1\"");
  assert_string_equal(jstr(d, "customer_id"), cus);
  assert_string_equal(jstr(d, "invoice_id"), inv);
  assert_true(is_null(d, "call_log_id"));
  assert_string_equal(jstr(d, "reason"), "pricing");
  assert_true(json_is_integer(json_object_get(d, "amount")));
  assert_int_equal(jint(d, "amount"), 2500);
  assert_string_equal(jstr(d, "notes"), "unit price was 10% off");
  assert_string_equal(jstr(d, "status"), "open");
  assert_true(is_null(d, "resolution"));
  assert_true(is_null(d, "resolution_notes"));
  assert_true(is_null(d, "adjustment_id"));
  assert_string_equal(jstr(d, "opened_by"), "collector@example.com");
  assert_true(is_null(d, "closed_by"));
  assert_true(is_null(d, "closed_at"));
  assert_int_equal(jint(d, "version"), 1);
  assert_true(ts_shape_ok(jstr(d, "created_at")));
  assert_true(ts_shape_ok(jstr(d, "updated_at")));
  json_t *created = json_incref(r.json);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/disputes/%s", id);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"1\"");
  assert_true(json_equal(r.json, created));
  json_decref(created);

  /* The invoice reports it, and nothing else about the invoice changed. */
  assert_true(in_dispute(inv));
  json_t *during = get_invoice(inv);
  assert_int_equal(jint(during, "amount"), 10000);
  assert_int_equal(jint(during, "balance"), 10000);
  assert_int_equal(jint(during, "days_overdue"), 10);
  json_decref(during);

  /* One open dispute per invoice. */
  long long n = count_disputes();
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"quantity\", \"amount\": 1}", inv);
  http(&r, "POST", "/v1/disputes", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 409, "duplicate", "invoice_id");
  assert_int_equal(count_disputes(), n);

  /* Rejected: closed by the manager, the invoice is no longer in dispute. */
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"rejected\", \"resolution_notes\": \"price was as agreed\"}",
        "/v1/disputes/%s", id);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"2\"");
  assert_string_equal(jstr(r.json, "status"), "rejected");
  assert_true(is_null(r.json, "resolution"));
  assert_string_equal(jstr(r.json, "resolution_notes"), "price was as agreed");
  assert_string_equal(jstr(r.json, "closed_by"), "manager@example.com");
  assert_true(ts_shape_ok(jstr(r.json, "closed_at")));
  assert_true(is_null(r.json, "adjustment_id"));
  assert_int_equal(jint(r.json, "version"), 2);
  assert_false(in_dispute(inv));

  /* A closed dispute does not block a new one; accepted by the customer,
   * it closes without moving money. */
  char id2[32];
  open_dispute(id2, inv, 10000, "quality", ROLE_ADMIN);
  assert_true(in_dispute(inv));
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"resolved\", \"resolution\": \"customer_accepted\"}",
        "/v1/disputes/%s", id2);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "resolved");
  assert_string_equal(jstr(r.json, "resolution"), "customer_accepted");
  assert_string_equal(jstr(r.json, "closed_by"), "admin@example.com");
  assert_true(is_null(r.json, "adjustment_id"));
  assert_false(in_dispute(inv));
  json_t *after = get_invoice(inv);
  assert_int_equal(jint(after, "amount"), 10000);
  assert_int_equal(jint(after, "balance"), 10000);
  assert_string_equal(jstr(after, "due_on"), jstr(before, "due_on"));
  assert_true(is_null(after, "resubmitted_on"));
  json_decref(after);
  json_decref(before);
  assert_int_equal(count_adjustments(inv), 0);

  /* "other" closes the same way. */
  char id3[32];
  open_dispute(id3, inv, 1, "other", ROLE_ADMIN);
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"other\", \"resolution_notes\": \"x\"}",
        "/v1/disputes/%s", id3);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "resolution"), "other");
  assert_false(in_dispute(inv));
  assert_int_equal(count_adjustments(inv), 0);
  http_resp_clear(&r);
}

static void open_with_call_log(void **state)
{
  (void)state;
  char cus[32], other[32], inv[32], log[32], other_log[32], body[256];
  new_customer(cus, "Called Ltd");
  new_customer(other, "Someone Else");
  new_invoice(inv, .customer = cus, .amount = 5000, .issued_in = -5, .due_in = 20);
  new_call_log(log, cus);
  new_call_log(other_log, other);
  struct http_resp r = {0};
  long long n = count_disputes();
  /* A call log of another customer, or none at all, is refused. */
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"damaged\", \"amount\": 5000, \"call_log_id\": \"%s\"}",
           inv, other_log);
  http(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, body, NULL);
  assert_problem(&r, 422, "validation", "call_log_id");
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"damaged\", \"amount\": 5000, \"call_log_id\": \"999999999\"}",
           inv);
  http(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, body, NULL);
  assert_problem(&r, 422, "validation", "call_log_id");
  assert_int_equal(count_disputes(), n);
  /* The invoice's own customer's call log is linked; the whole amount may be disputed. */
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"damaged\", \"amount\": 5000, \"call_log_id\": \"%s\"}",
           inv, log);
  http(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, body, NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "call_log_id"), log);
  assert_int_equal(jint(r.json, "amount"), 5000);
  assert_true(is_null(r.json, "notes"));
  http_resp_clear(&r);
}

/* A dispute over a whole invoice needs no amount: it is the invoice's open
 * balance, on POST /v1/disputes and in a call log's dispute alike. */
static void amount_defaults_to_open_balance(void **state)
{
  (void)state;
  char cus[32], inv[32], inv2[32], body[512];
  new_customer(cus, "Whole Invoice Ltd");
  new_invoice(inv, .customer = cus, .amount = 10000, .issued_in = -30, .due_in = -3);
  new_invoice(inv2, .customer = cus, .amount = 8000, .issued_in = -30, .due_in = -3);
  pay(cus, inv, 2500);
  pay(cus, inv2, 500);
  struct http_resp r = {0};
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"missing_po\"}", inv);
  http(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, body, NULL);
  assert_status(&r, 201);
  assert_int_equal(jint(r.json, "amount"), 7500);
  assert_true(in_dispute(inv));
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", "
           "\"outcome\": \"reached\", \"contact_name\": \"Accounts payable\", "
           "\"dispute\": {\"invoice_id\": \"%s\", \"reason\": \"missing_po\"}}",
           cus, inv2);
  http(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, body, NULL);
  assert_status(&r, 201);
  assert_int_equal(jint(json_object_get(r.json, "dispute"), "amount"), 7500);
  assert_int_equal(harness_sql_int("SELECT amount FROM disputes WHERE invoice_id = %s AND status = 'open'", inv2), 7500);
  http_resp_clear(&r);
}

/* The SQL entry point the call log's nested dispute uses: the customer must
 * match, and errors name the prefixed field. */
static void open_function_for_call_logs(void **state)
{
  (void)state;
  char cus[32], other[32], inv[32], log[32];
  new_customer(cus, "Nested Ltd");
  new_customer(other, "Not Nested");
  new_invoice(inv, .customer = cus, .amount = 5000, .issued_in = -5, .due_in = 20);
  new_call_log(log, cus);
  /* The field names, read from the error the function raises. */
  static const char *const cases[][2] = {
      {"{\"reason\": \"pricing\", \"amount\": 1}", "dispute.invoice_id"}, /* another customer */
      {"{\"reason\": \"nonsense\", \"amount\": 1}", "dispute.reason"},
      {"{\"reason\": \"pricing\", \"amount\": 5001}", "dispute.amount"},
      {"{\"reason\": \"pricing\", \"amount\": 1.5}", "dispute.amount"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *col = harness_sql(
        "CREATE OR REPLACE FUNCTION pg_temp.try_open() RETURNS text LANGUAGE plpgsql AS $f$ "
        "DECLARE c text; BEGIN PERFORM arc_dispute_open(%s, '%s', 'a', %s, %s, 'dispute.'); RETURN 'ok'; "
        "EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS c = COLUMN_NAME; RETURN c; END $f$; "
        "SELECT pg_temp.try_open()",
        inv, cases[i][0], log, i == 0 ? other : cus);
    if (!col || strcmp(col, cases[i][1]) != 0)
      fail_msg("case %zu: expected field %s, got %s", i, cases[i][1], col ? col : "(null)");
    free(col);
  }
  /* Success links the call log; a second one is a duplicate naming the nested field. */
  char *ok = harness_sql("SELECT (arc_dispute_open(%s, '{\"reason\": \"pricing\", \"amount\": 10, \"notes\": \"n\"}', "
                         "'collector@x', %s, %s, 'dispute.')).call_log_id",
                         inv, log, cus);
  assert_string_equal(ok, log);
  free(ok);
  char *dup = harness_sql(
      "CREATE OR REPLACE FUNCTION pg_temp.try_dup() RETURNS text LANGUAGE plpgsql AS $f$ "
      "DECLARE c text; s text; BEGIN PERFORM arc_dispute_open(%s, '{\"reason\": \"pricing\", \"amount\": 1}', 'a', "
      "%s, %s, 'dispute.'); RETURN 'ok'; "
      "EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS c = CONSTRAINT_NAME, s = RETURNED_SQLSTATE; "
      "RETURN s || ' ' || c; END $f$; "
      "SELECT pg_temp.try_dup()",
      inv, log, cus);
  assert_string_equal(dup, "23505 disputes_dispute.invoice_id_key");
  free(dup);
}

static void open_refused_by_invoice_state(void **state)
{
  (void)state;
  char cus[32], paid[32], voided[32], written[32], open_inv[32], body[256];
  new_customer(cus, "States Inc");
  new_invoice(paid, .customer = cus, .amount = 3000, .issued_in = -20, .due_in = -5);
  new_invoice(voided, .customer = cus, .amount = 3000, .issued_in = -20, .due_in = -5);
  new_invoice(written, .customer = cus, .amount = 3000, .issued_in = -20, .due_in = -5);
  new_invoice(open_inv, .customer = cus, .amount = 3000, .issued_in = -20, .due_in = -5);
  pay(cus, paid, 3000);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", voided);
  assert_status(&r, 200);
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"written_off\"}", "/v1/invoices/%s", written);
  assert_status(&r, 200);
  long long n = count_disputes();
  const char *closed[] = {paid, voided, written};
  for (size_t i = 0; i < 3; i++) {
    snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 100}", closed[i]);
    http(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, body, NULL);
    assert_problem(&r, 409, "conflict", "invoice_id");
    assert_false(in_dispute(closed[i]));
  }
  /* More than the invoice amount; an unknown invoice. */
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 3001}", open_inv);
  http(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, body, NULL);
  assert_problem(&r, 422, "validation", "amount");
  http(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, "{\"invoice_id\": \"999999999\", \"reason\": \"pricing\", \"amount\": 1}",
       NULL);
  assert_problem(&r, 422, "validation", "invoice_id");
  assert_int_equal(count_disputes(), n);
  assert_false(in_dispute(open_inv));
  http_resp_clear(&r);
}

/* Each row: a create body that must be refused (INV is the invoice id). */
struct bad_body {
  const char *label;
  const char *fmt; /* the body; a "%s" in it stands for the invoice id */
  long status;
  const char *problem, *field;
};

static const struct bad_body bad_creates[] = {
    {"invoice_id missing", "{\"reason\": \"pricing\", \"amount\": 1}", 422, "validation", "invoice_id"},
    {"invoice_id number", "{\"invoice_id\": 5, \"reason\": \"pricing\", \"amount\": 1}", 422, "validation", "invoice_id"},
    {"invoice_id injection", "{\"invoice_id\": \"1 OR 1=1\", \"reason\": \"pricing\", \"amount\": 1}", 422, "validation",
     "invoice_id"},
    {"invoice_id null", "{\"invoice_id\": null, \"reason\": \"pricing\", \"amount\": 1}", 422, "validation", "invoice_id"},
    {"reason missing", "{\"invoice_id\": \"%s\", \"amount\": 1}", 422, "validation", "reason"},
    {"reason bogus", "{\"invoice_id\": \"%s\", \"reason\": \"annoyed\", \"amount\": 1}", 422, "validation", "reason"},
    {"reason upper", "{\"invoice_id\": \"%s\", \"reason\": \"PRICING\", \"amount\": 1}", 422, "validation", "reason"},
    {"reason number", "{\"invoice_id\": \"%s\", \"reason\": 3, \"amount\": 1}", 422, "validation", "reason"},
    {"amount 0", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 0}", 422, "validation", "amount"},
    {"amount negative", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": -1}", 422, "validation", "amount"},
    {"amount fraction", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 10.5}", 422, "validation",
     "amount"},
    {"amount real", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 10.0}", 422, "validation", "amount"},
    {"amount exponent", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 1e2}", 422, "validation",
     "amount"},
    {"amount string", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": \"10\"}", 422, "validation",
     "amount"},
    {"amount 2^53", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 9007199254740992}", 422, "validation",
     "amount"},
    {"amount past int64", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 99999999999999999999}", 400,
     "malformed-json", NULL},
    {"amount 1e400", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 1e400}", 400, "malformed-json", NULL},
    {"notes number", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 1, \"notes\": 5}", 422, "validation",
     "notes"},
    {"call_log_id number", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 1, \"call_log_id\": 5}", 422,
     "validation", "call_log_id"},
    {"status given", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 1, \"status\": \"resolved\"}", 422,
     "validation", "status"},
    {"opened_by given", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 1, \"opened_by\": \"me\"}", 422,
     "validation", "opened_by"},
    {"unknown field", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 1, \"colour\": \"red\"}", 422,
     "validation", "colour"},
    {"duplicate key", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"reason\": \"other\", \"amount\": 1}", 400,
     "malformed-json", NULL},
    {"NUL in notes", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 1, \"notes\": \"a\\u0000b\"}", 400,
     "malformed-json", NULL},
    {"array body", "[1]", 422, "validation", "(body)"},
    {"empty object", "{}", 422, "validation", "reason"},
    {"malformed", "{\"invoice_id\": ", 400, "malformed-json", NULL},
    {"trailing garbage", "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 1} x", 400, "malformed-json",
     NULL},
};

static void create_errors(void **state)
{
  (void)state;
  char cus[32], inv[32], body[1024];
  new_customer(cus, "Bad Input Disputes");
  new_invoice(inv, .customer = cus, .amount = 10000, .issued_in = -5, .due_in = 20);
  long long n = count_disputes();
  struct http_resp r = {0};
  for (size_t i = 0; i < sizeof bad_creates / sizeof bad_creates[0]; i++) {
    const struct bad_body *b = &bad_creates[i];
    fill_template(body, sizeof body, b->fmt, inv);
    http(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, body, NULL);
    if (r.status != b->status)
      fail_msg("[%s] expected %ld, got %ld: %s", b->label, b->status, r.status, r.body ? r.body : "");
    assert_problem(&r, b->status, b->problem, b->field);
  }
  /* Every bad field at once. */
  http(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, "{\"amount\": 1.5, \"reason\": \"x\", \"extra\": true}", NULL);
  assert_problem(&r, 422, "validation", "invoice_id");
  assert_problem(&r, 422, "validation", "reason");
  assert_problem(&r, 422, "validation", "amount");
  assert_problem(&r, 422, "validation", "extra");
  /* Notes: at most 10000 characters (counted as characters, not bytes). */
  char *big = malloc(40100);
  int k = snprintf(big, 200, "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 1, \"notes\": \"", inv);
  for (int i = 0; i < 10001; i++) {
    memcpy(big + k, "\xce\xa9", 2);
    k += 2;
  }
  memcpy(big + k, "\"}", 3);
  http(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, big, NULL);
  assert_problem(&r, 422, "validation", "notes");
  free(big);
  /* Invalid UTF-8, no body, wrong media type. */
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 1, \"notes\": \"\xff\xfe\"}",
           inv);
  http_raw(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, body, strlen(body), "application/json", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http_raw(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, NULL, 0, NULL, NULL);
  assert_problem(&r, 422, "validation", "invoice_id");
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 1}", inv);
  http_raw(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, body, strlen(body), "text/plain", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  /* Roles. */
  http(&r, "POST", "/v1/disputes", ROLE_VIEWER, body, NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", "/v1/disputes", ROLE_INTEGRATION, body, NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", "/v1/disputes", NO_KEY, body, NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  assert_int_equal(count_disputes(), n);
  assert_false(in_dispute(inv));
  /* The same body from a role that may: accepted. */
  http(&r, "POST", "/v1/disputes", ROLE_MANAGER, body, NULL);
  assert_status(&r, 201);
  http_resp_clear(&r);
}

static void stored_verbatim(void **state)
{
  (void)state;
  char cus[32], inv[32], body[1024], id[32];
  new_customer(cus, "Verbatim Disputes");
  new_invoice(inv, .customer = cus, .amount = 10000, .issued_in = -5, .due_in = 20);
  const char *notes = "'); DROP TABLE disputes;-- 100% \\\"q\\\" _x_ \\\\ $1 $$y$$ Ω";
  const char *stored = "'); DROP TABLE disputes;-- 100% \"q\" _x_ \\ $1 $$y$$ Ω";
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"missing_po\", \"amount\": 10, \"notes\": \"%s\"}",
           inv, notes);
  struct http_resp r = {0};
  http(&r, "POST", "/v1/disputes", ROLE_COLLECTOR, body, NULL);
  assert_status(&r, 201);
  snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
  assert_string_equal(jstr(r.json, "notes"), stored);
  char *db_notes = harness_sql("SELECT notes FROM disputes WHERE id = %s", id);
  assert_string_equal(db_notes, stored);
  free(db_notes);
  /* The same through PATCH, in both note fields. */
  snprintf(body, sizeof body, "{\"notes\": \"%s\"}", notes);
  httpf(&r, "PATCH", ROLE_MANAGER, body, "/v1/disputes/%s", id);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "notes"), stored);
  snprintf(body, sizeof body, "{\"status\": \"rejected\", \"resolution_notes\": \"%s\"}", notes);
  httpf(&r, "PATCH", ROLE_MANAGER, body, "/v1/disputes/%s", id);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "resolution_notes"), stored);
  /* Nothing was executed: the table is still there, with every row. */
  assert_true(count_disputes() >= 1);
  http_resp_clear(&r);
}

/* GET /v1/invoices/ID/adjustments: the only adjustment, checked against
 * the dispute that made it; returns its amount. */
static long long only_adjustment(const char *invoice, const char *dispute, const char *adjustment_id, const char *kind)
{
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/invoices/%s/adjustments", invoice);
  assert_status(&r, 200);
  json_t *data = json_object_get(r.json, "data");
  assert_int_equal(json_array_size(data), 1);
  json_t *a = json_array_get(data, 0);
  assert_string_equal(jstr(a, "id"), adjustment_id);
  assert_string_equal(jstr(a, "kind"), kind);
  char mention[64];
  snprintf(mention, sizeof mention, "dispute %s", dispute);
  if (!strstr(jstr(a, "reason"), mention))
    fail_msg("adjustment reason '%s' does not mention %s", jstr(a, "reason"), mention);
  assert_string_equal(jstr(a, "created_by"), "manager@example.com");
  long long amount = jint(a, "amount");
  http_resp_clear(&r);
  return amount;
}

static void resolve_with_credit(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], body[256];
  new_customer(cus, "Credit Me");
  new_invoice(inv, .customer = cus, .amount = 10000, .issued_in = -30, .due_in = -3);
  pay(cus, inv, 1000);
  open_dispute(id, inv, 3000, "damaged", ROLE_COLLECTOR);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_MANAGER,
        "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": 3000, "
        "\"resolution_notes\": \"two crates broken\"}",
        "/v1/disputes/%s", id);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "resolved");
  assert_string_equal(jstr(r.json, "resolution"), "credit_issued");
  assert_string_equal(jstr(r.json, "resolution_notes"), "two crates broken");
  assert_string_equal(jstr(r.json, "closed_by"), "manager@example.com");
  assert_non_null(jstr(r.json, "adjustment_id"));
  char adj[32];
  snprintf(adj, sizeof adj, "%s", jstr(r.json, "adjustment_id"));
  assert_int_equal(only_adjustment(inv, id, adj, "credit"), -3000);
  json_t *i = get_invoice(inv);
  assert_int_equal(jint(i, "amount"), 7000);
  assert_int_equal(jint(i, "balance"), 6000);
  assert_int_equal(jint(i, "original_amount"), 10000);
  assert_string_equal(jstr(i, "status"), "open");
  assert_false(json_is_true(json_object_get(i, "in_dispute")));
  json_decref(i);

  /* A credit above the balance is refused and changes nothing; the whole
   * balance may be credited, which pays the invoice. */
  char inv2[32], id2[32];
  new_invoice(inv2, .customer = cus, .amount = 10000, .issued_in = -30, .due_in = -3);
  pay(cus, inv2, 8000);
  open_dispute(id2, inv2, 5000, "pricing", ROLE_COLLECTOR);
  json_t *inv_before = get_invoice(inv2);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/disputes/%s", id2);
  json_t *disp_before = json_incref(r.json);
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": 2001}",
        "/v1/disputes/%s", id2);
  assert_problem(&r, 409, "conflict", "credit_amount");
  json_t *inv_after = get_invoice(inv2);
  assert_true(json_equal(inv_before, inv_after));
  json_decref(inv_after);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/disputes/%s", id2);
  assert_true(json_equal(disp_before, r.json));
  json_decref(disp_before);
  json_decref(inv_before);
  assert_int_equal(count_adjustments(inv2), 0);
  snprintf(body, sizeof body, "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": 2000}");
  httpf(&r, "PATCH", ROLE_ADMIN, body, "/v1/disputes/%s", id2);
  assert_status(&r, 200);
  i = get_invoice(inv2);
  assert_int_equal(jint(i, "amount"), 8000);
  assert_int_equal(jint(i, "balance"), 0);
  assert_string_equal(jstr(i, "status"), "paid");
  json_decref(i);
  http_resp_clear(&r);
}

static void resolve_with_corrected_amount(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], adj[32];
  new_customer(cus, "Correct Me");
  new_invoice(inv, .customer = cus, .amount = 10000, .issued_in = -30, .due_in = -3);
  pay(cus, inv, 1000);
  open_dispute(id, inv, 2000, "quantity", ROLE_COLLECTOR);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_amount\": 8000}",
        "/v1/disputes/%s", id);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "resolution"), "corrected_invoice");
  snprintf(adj, sizeof adj, "%s", jstr(r.json, "adjustment_id"));
  assert_int_equal(only_adjustment(inv, id, adj, "correction"), -2000);
  json_t *i = get_invoice(inv);
  assert_int_equal(jint(i, "amount"), 8000);
  assert_int_equal(jint(i, "balance"), 7000);
  assert_int_equal(jint(i, "days_overdue"), 3);
  assert_true(is_null(i, "resubmitted_on"));
  json_decref(i);

  /* Corrected upward: the balance moves up by the difference. */
  char inv2[32], id2[32];
  new_invoice(inv2, .customer = cus, .amount = 10000, .issued_in = -30, .due_in = -3);
  open_dispute(id2, inv2, 100, "pricing", ROLE_COLLECTOR);
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_amount\": 12500}",
        "/v1/disputes/%s", id2);
  assert_status(&r, 200);
  i = get_invoice(inv2);
  assert_int_equal(jint(i, "amount"), 12500);
  assert_int_equal(jint(i, "balance"), 12500);
  json_decref(i);

  /* Below what was already paid: refused, nothing changes. */
  char inv3[32], id3[32];
  new_invoice(inv3, .customer = cus, .amount = 10000, .issued_in = -30, .due_in = -3);
  pay(cus, inv3, 6000);
  open_dispute(id3, inv3, 100, "pricing", ROLE_COLLECTOR);
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_amount\": 5999}",
        "/v1/disputes/%s", id3);
  assert_problem(&r, 409, "conflict", "new_amount");
  i = get_invoice(inv3);
  assert_int_equal(jint(i, "amount"), 10000);
  assert_int_equal(jint(i, "balance"), 4000);
  assert_true(json_is_true(json_object_get(i, "in_dispute")));
  json_decref(i);
  assert_int_equal(count_adjustments(inv3), 0);
  assert_int_equal(harness_sql_int("SELECT version FROM disputes WHERE id = %s", id3), 1);
  /* Exactly what was paid: the invoice is paid. */
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_amount\": 6000}",
        "/v1/disputes/%s", id3);
  assert_status(&r, 200);
  i = get_invoice(inv3);
  assert_int_equal(jint(i, "balance"), 0);
  assert_string_equal(jstr(i, "status"), "paid");
  json_decref(i);

  /* A duplicate invoice corrected to nothing. */
  char inv4[32], id4[32];
  new_invoice(inv4, .customer = cus, .amount = 4000, .issued_in = -30, .due_in = -3);
  open_dispute(id4, inv4, 4000, "duplicate", ROLE_COLLECTOR);
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_amount\": 0}",
        "/v1/disputes/%s", id4);
  assert_status(&r, 200);
  i = get_invoice(inv4);
  assert_int_equal(jint(i, "amount"), 0);
  assert_int_equal(jint(i, "balance"), 0);
  json_decref(i);
  http_resp_clear(&r);
}

static void resolve_with_new_due_date(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], today[16], in_two_weeks[16], body[256];
  new_customer(cus, "Resubmit Me");
  new_invoice(inv, .customer = cus, .amount = 10000, .issued_in = -70, .due_in = -40);
  day(today, 0);
  day(in_two_weeks, 14);
  json_t *i = get_invoice(inv);
  assert_int_equal(jint(i, "days_overdue"), 40);
  json_decref(i);
  open_dispute(id, inv, 10000, "not_received", ROLE_COLLECTOR);
  struct http_resp r = {0};
  snprintf(body, sizeof body,
           "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_due_on\": \"%s\"}", in_two_weeks);
  httpf(&r, "PATCH", ROLE_MANAGER, body, "/v1/disputes/%s", id);
  assert_status(&r, 200);
  assert_true(is_null(r.json, "adjustment_id"));
  i = get_invoice(inv);
  assert_string_equal(jstr(i, "due_on"), in_two_weeks);
  assert_string_equal(jstr(i, "resubmitted_on"), today);
  assert_int_equal(jint(i, "days_overdue"), 0);
  assert_int_equal(jint(i, "amount"), 10000);
  assert_int_equal(jint(i, "balance"), 10000);
  assert_false(json_is_true(json_object_get(i, "in_dispute")));
  json_decref(i);
  assert_int_equal(count_adjustments(inv), 0);

  /* Both at once: the correction and the new date. */
  char inv2[32], id2[32], adj[32];
  new_invoice(inv2, .customer = cus, .amount = 10000, .issued_in = -70, .due_in = -40);
  open_dispute(id2, inv2, 500, "pricing", ROLE_COLLECTOR);
  snprintf(body, sizeof body,
           "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_amount\": 9500, \"new_due_on\": \"%s\"}",
           today);
  httpf(&r, "PATCH", ROLE_MANAGER, body, "/v1/disputes/%s", id2);
  assert_status(&r, 200);
  snprintf(adj, sizeof adj, "%s", jstr(r.json, "adjustment_id"));
  assert_int_equal(only_adjustment(inv2, id2, adj, "correction"), -500);
  i = get_invoice(inv2);
  assert_int_equal(jint(i, "amount"), 9500);
  assert_string_equal(jstr(i, "due_on"), today);
  assert_string_equal(jstr(i, "resubmitted_on"), today);
  assert_int_equal(jint(i, "days_overdue"), 0);
  json_decref(i);

  /* A new due date in the past, or before the invoice was issued: 422,
   * and no change at all (the amount correction is rolled back too). */
  char inv3[32], id3[32], yesterday[16], in_three[16];
  day(yesterday, -1);
  day(in_three, 3);
  new_invoice(inv3, .customer = cus, .amount = 10000, .issued_in = 5, .due_in = 10);
  open_dispute(id3, inv3, 500, "pricing", ROLE_COLLECTOR);
  json_t *before = get_invoice(inv3);
  snprintf(body, sizeof body,
           "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_amount\": 9000, \"new_due_on\": \"%s\"}",
           yesterday);
  httpf(&r, "PATCH", ROLE_MANAGER, body, "/v1/disputes/%s", id3);
  assert_problem(&r, 422, "validation", "new_due_on");
  snprintf(body, sizeof body,
           "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_amount\": 9000, \"new_due_on\": \"%s\"}",
           in_three);
  httpf(&r, "PATCH", ROLE_MANAGER, body, "/v1/disputes/%s", id3);
  assert_problem(&r, 422, "validation", "new_due_on");
  json_t *after = get_invoice(inv3);
  assert_true(json_equal(before, after));
  json_decref(before);
  json_decref(after);
  assert_int_equal(count_adjustments(inv3), 0);
  /* Past, though after the issue date: still refused. */
  char inv5[32], id5[32];
  new_invoice(inv5, .customer = cus, .amount = 10000, .issued_in = -70, .due_in = -40);
  open_dispute(id5, inv5, 500, "pricing", ROLE_COLLECTOR);
  snprintf(body, sizeof body, "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_due_on\": \"%s\"}",
           yesterday);
  httpf(&r, "PATCH", ROLE_MANAGER, body, "/v1/disputes/%s", id5);
  assert_problem(&r, 422, "validation", "new_due_on");
  json_t *still = get_invoice(inv5);
  assert_int_equal(jint(still, "days_overdue"), 40);
  assert_true(is_null(still, "resubmitted_on"));
  assert_true(json_is_true(json_object_get(still, "in_dispute")));
  json_decref(still);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM disputes WHERE id = %s AND status = 'open' AND version = 1", id3),
                   1);

  /* Neither field: 422 naming both. */
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\"}",
        "/v1/disputes/%s", id3);
  assert_problem(&r, 422, "validation", "new_amount");
  assert_problem(&r, 422, "validation", "new_due_on");
  http_resp_clear(&r);
}

/* Each row: a PATCH body that does not fit, and the field it names. */
static const struct bad_body bad_patches[] = {
    {"status open", "{\"status\": \"open\"}", 422, "validation", "status"},
    {"status null", "{\"status\": null}", 422, "validation", "status"},
    {"status bogus", "{\"status\": \"closed\"}", 422, "validation", "status"},
    {"resolved without resolution", "{\"status\": \"resolved\"}", 422, "validation", "resolution"},
    {"resolution bogus", "{\"status\": \"resolved\", \"resolution\": \"refund\"}", 422, "validation", "resolution"},
    {"resolution without status", "{\"resolution\": \"customer_accepted\"}", 422, "validation", "resolution"},
    {"resolution when rejecting", "{\"status\": \"rejected\", \"resolution\": \"other\"}", 422, "validation",
     "resolution"},
    {"credit missing", "{\"status\": \"resolved\", \"resolution\": \"credit_issued\"}", 422, "validation",
     "credit_amount"},
    {"credit 0", "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": 0}", 422,
     "validation", "credit_amount"},
    {"credit float", "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": 10.5}", 422,
     "validation", "credit_amount"},
    {"credit string", "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": \"10\"}", 422,
     "validation", "credit_amount"},
    {"credit 2^53", "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": 9007199254740992}",
     422, "validation", "credit_amount"},
    {"credit past int64",
     "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": 123456789012345678901234}", 400,
     "malformed-json", NULL},
    {"credit with corrected", "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_amount\": 1, "
     "\"credit_amount\": 5}", 422, "validation", "credit_amount"},
    {"credit with accepted", "{\"status\": \"resolved\", \"resolution\": \"customer_accepted\", \"credit_amount\": 5}",
     422, "validation", "credit_amount"},
    {"credit when rejecting", "{\"status\": \"rejected\", \"credit_amount\": 5}", 422, "validation", "credit_amount"},
    {"new_amount with credit", "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": 5, "
     "\"new_amount\": 1}", 422, "validation", "new_amount"},
    {"new_due_on with other", "{\"status\": \"resolved\", \"resolution\": \"other\", \"new_due_on\": \"2999-01-01\"}",
     422, "validation", "new_due_on"},
    {"new_due_on alone", "{\"new_due_on\": \"2999-01-01\"}", 422, "validation", "new_due_on"},
    {"new_amount negative", "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_amount\": -1}", 422,
     "validation", "new_amount"},
    {"new_amount real", "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_amount\": 1e3}", 422,
     "validation", "new_amount"},
    {"new_due_on bad date", "{\"status\": \"resolved\", \"resolution\": \"corrected_invoice\", \"new_due_on\": "
     "\"2999-02-30\"}", 422, "validation", "new_due_on"},
    {"resolution_notes alone", "{\"resolution_notes\": \"x\"}", 422, "validation", "resolution_notes"},
    {"resolution_notes number", "{\"status\": \"rejected\", \"resolution_notes\": 5}", 422, "validation",
     "resolution_notes"},
    {"notes number", "{\"notes\": 5}", 422, "validation", "notes"},
    {"amount is fixed", "{\"amount\": 5}", 422, "validation", "amount"},
    {"reason is fixed", "{\"reason\": \"other\"}", 422, "validation", "reason"},
    {"invoice is fixed", "{\"invoice_id\": \"1\"}", 422, "validation", "invoice_id"},
    {"unknown field", "{\"closed_by\": \"me\"}", 422, "validation", "closed_by"},
    {"array body", "[]", 422, "validation", "(body)"},
    {"malformed", "{\"status\": \"rejected\"", 400, "malformed-json", NULL},
    {"duplicate key", "{\"status\": \"rejected\", \"status\": \"resolved\"}", 400, "malformed-json", NULL},
};

static void patch_rules(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], path[64];
  new_customer(cus, "Patch Rules");
  new_invoice(inv, .customer = cus, .amount = 10000, .issued_in = -30, .due_in = -3);
  open_dispute(id, inv, 1000, "pricing", ROLE_COLLECTOR);
  snprintf(path, sizeof path, "/v1/disputes/%s", id);
  struct http_resp r = {0};
  for (size_t i = 0; i < sizeof bad_patches / sizeof bad_patches[0]; i++) {
    const struct bad_body *b = &bad_patches[i];
    http(&r, "PATCH", path, ROLE_MANAGER, b->fmt, NULL);
    if (r.status != b->status)
      fail_msg("[%s] expected %ld, got %ld: %s", b->label, b->status, r.status, r.body ? r.body : "");
    assert_problem(&r, b->status, b->problem, b->field);
  }
  static const char bad_utf8[] = "{\"notes\": \"\xc3\x28\"}";
  http_raw(&r, "PATCH", path, ROLE_MANAGER, bad_utf8, sizeof bad_utf8 - 1, "application/json", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  /* Only managers and admins decide. */
  static const enum role refused[] = {ROLE_COLLECTOR, ROLE_VIEWER, ROLE_INTEGRATION};
  for (size_t i = 0; i < 3; i++) {
    http(&r, "PATCH", path, refused[i], "{\"status\": \"rejected\"}", NULL);
    assert_problem(&r, 403, "forbidden", NULL);
  }
  http(&r, "PATCH", path, NO_KEY, "{\"status\": \"rejected\"}", NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  /* Nothing of that changed the dispute. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM disputes WHERE id = %s AND version = 1 AND status = 'open' "
                                   "AND notes IS NULL",
                                   id),
                   1);

  /* An empty PATCH changes nothing; notes change while open. */
  http(&r, "PATCH", path, ROLE_MANAGER, "{}", NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), 1);
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"notes\": \"customer sent photos\"}", NULL);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "notes"), "customer sent photos");
  assert_string_equal(jstr(r.json, "status"), "open");
  assert_string_equal(r.etag, "\"2\"");
  /* If-Match: a stale tag is refused and changes nothing; the current one passes. */
  static const char *const stale[] = {"If-Match: \"1\"", NULL};
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"status\": \"rejected\"}", stale);
  assert_problem(&r, 412, "precondition-failed", NULL);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM disputes WHERE id = %s AND version = 2 AND status = 'open'", id),
                   1);
  static const char *const current[] = {"If-Match: \"2\"", NULL};
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"notes\": null}", current);
  assert_status(&r, 200);
  assert_true(is_null(r.json, "notes"));
  assert_int_equal(jint(r.json, "version"), 3);

  /* Resolved: no second resolution, no rejection, no more notes. */
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"customer_accepted\"}", NULL);
  assert_status(&r, 200);
  json_t *closed = json_incref(r.json);
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": 1}",
       NULL);
  assert_problem(&r, 409, "conflict", "status");
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"status\": \"rejected\"}", NULL);
  assert_problem(&r, 409, "conflict", "status");
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"notes\": \"late\"}", NULL);
  assert_problem(&r, 409, "conflict", "notes");
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_true(json_equal(closed, r.json));
  json_decref(closed);
  assert_int_equal(count_adjustments(inv), 0);

  /* Rejected: the same. */
  char id2[32];
  open_dispute(id2, inv, 1000, "pricing", ROLE_COLLECTOR);
  snprintf(path, sizeof path, "/v1/disputes/%s", id2);
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"status\": \"rejected\"}", NULL);
  assert_status(&r, 200);
  assert_true(is_null(r.json, "resolution_notes"));
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": 1}",
       NULL);
  assert_problem(&r, 409, "conflict", "status");
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"status\": \"rejected\"}", NULL);
  assert_problem(&r, 409, "conflict", "status");
  assert_int_equal(count_adjustments(inv), 0);
  assert_int_equal(harness_sql_int("SELECT version FROM disputes WHERE id = %s", id2), 2);

  /* An open dispute on an invoice voided since cannot be credited, but can be rejected. */
  char inv2[32], id3[32];
  new_invoice(inv2, .customer = cus, .amount = 10000, .issued_in = -30, .due_in = -3);
  open_dispute(id3, inv2, 1000, "pricing", ROLE_COLLECTOR);
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", inv2);
  assert_status(&r, 200);
  snprintf(path, sizeof path, "/v1/disputes/%s", id3);
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": 1}",
       NULL);
  assert_problem(&r, 409, "conflict", "resolution");
  assert_int_equal(count_adjustments(inv2), 0);
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"status\": \"rejected\"}", NULL);
  assert_status(&r, 200);
  http_resp_clear(&r);
}

static const struct step item_errors[] = {
    {"unknown id", "GET", "/v1/disputes/999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id zero", "GET", "/v1/disputes/0", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id text", "GET", "/v1/disputes/abc", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id injection", "GET", "/v1/disputes/1%20OR%201=1", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id too long", "GET", "/v1/disputes/99999999999999999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"patch unknown", "PATCH", "/v1/disputes/999999999", ROLE_MANAGER, "{\"notes\": \"x\"}", 404, "not-found", NULL},
    {"patch bad id", "PATCH", "/v1/disputes/x1", ROLE_MANAGER, "{}", 404, "not-found", NULL},
    {"get no key", "GET", "/v1/disputes/1", NO_KEY, NULL, 401, "unauthorized", NULL},
    {"delete", "DELETE", "/v1/disputes/1", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
    {"put", "PUT", "/v1/disputes/1", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
    {"post item", "POST", "/v1/disputes/1", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
    {"list delete", "DELETE", "/v1/disputes", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
    {"list no key", "GET", "/v1/disputes", NO_KEY, NULL, 401, "unauthorized", NULL},
    {"unknown parameter", "GET", "/v1/disputes?colour=red", ROLE_ADMIN, NULL, 422, "validation", "colour"},
    {"limit 0", "GET", "/v1/disputes?limit=0", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"limit 201", "GET", "/v1/disputes?limit=201", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"cursor text", "GET", "/v1/disputes?cursor=abc", ROLE_ADMIN, NULL, 422, "validation", "cursor"},
    {"customer_id text", "GET", "/v1/disputes?customer_id=x", ROLE_ADMIN, NULL, 422, "validation", "customer_id"},
    {"invoice_id injection", "GET", "/v1/disputes?invoice_id=1%27%3B--", ROLE_ADMIN, NULL, 422, "validation",
     "invoice_id"},
    {"status bogus", "GET", "/v1/disputes?status=closed", ROLE_ADMIN, NULL, 422, "validation", "status"},
    {"reason bogus", "GET", "/v1/disputes?reason=angry", ROLE_ADMIN, NULL, 422, "validation", "reason"},
    {"invalid UTF-8", "GET", "/v1/disputes?reason=%FF", ROLE_ADMIN, NULL, 400, "bad-request", NULL},
};

static void item_and_list_errors(void **state)
{
  (void)state;
  run_steps(item_errors, sizeof item_errors / sizeof item_errors[0]);
}

static void list_filters_and_pages(void **state)
{
  (void)state;
  char a[32], b[32], a1[32], a2[32], b1[32], d1[32], d2[32], d3[32], d4[32], path[256];
  new_customer(a, "List A");
  new_customer(b, "List B");
  new_invoice(a1, .customer = a, .amount = 10000, .issued_in = -10, .due_in = 10);
  new_invoice(a2, .customer = a, .amount = 10000, .issued_in = -10, .due_in = 10);
  new_invoice(b1, .customer = b, .amount = 10000, .issued_in = -10, .due_in = 10);
  open_dispute(d1, a1, 100, "pricing", ROLE_COLLECTOR);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"rejected\"}", "/v1/disputes/%s", d1);
  assert_status(&r, 200);
  open_dispute(d2, a1, 200, "quality", ROLE_COLLECTOR);
  open_dispute(d3, a2, 300, "pricing", ROLE_COLLECTOR);
  open_dispute(d4, b1, 400, "pricing", ROLE_COLLECTOR);

  snprintf(path, sizeof path, "/v1/disputes?customer_id=%s", a);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 3);
  assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
  json_t *data = json_object_get(r.json, "data");
  assert_string_equal(jstr(json_array_get(data, 0), "id"), d1);
  assert_string_equal(jstr(json_array_get(data, 1), "id"), d2);
  assert_string_equal(jstr(json_array_get(data, 2), "id"), d3);

  snprintf(path, sizeof path, "/v1/disputes?invoice_id=%s", a1);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 2);
  snprintf(path, sizeof path, "/v1/disputes?invoice_id=%s&status=open", a1);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), d2);
  snprintf(path, sizeof path, "/v1/disputes?customer_id=%s&status=rejected", a);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), d1);
  snprintf(path, sizeof path, "/v1/disputes?customer_id=%s&status=resolved", a);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 0);
  snprintf(path, sizeof path, "/v1/disputes?customer_id=%s&reason=pricing", a);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 2);
  snprintf(path, sizeof path, "/v1/disputes?customer_id=%s&reason=quality", a);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  snprintf(path, sizeof path, "/v1/disputes?customer_id=%s&reason=pricing&status=open", b);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), d4);
  http(&r, "GET", "/v1/disputes?customer_id=999999999", ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 0);

  /* One at a time through the cursor: the same three, in order. */
  char cursor[32] = "";
  const char *want[] = {d1, d2, d3};
  size_t got = 0;
  for (int guard = 0; guard < 10; guard++) {
    snprintf(path, sizeof path, "/v1/disputes?customer_id=%s&limit=1%s%s", a, cursor[0] ? "&cursor=" : "", cursor);
    http(&r, "GET", path, ROLE_INTEGRATION, NULL, NULL);
    assert_status(&r, 200);
    if (data_size(&r) == 0)
      break;
    assert_int_equal(data_size(&r), 1);
    assert_true(got < 3);
    assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), want[got++]);
    const char *next = jstr(r.json, "next_cursor");
    if (!next)
      break;
    snprintf(cursor, sizeof cursor, "%s", next);
  }
  assert_int_equal(got, 3);
  http_resp_clear(&r);
}

/* Reads the feed from CURSOR with QS until at least MIN events came (the
 * feed holds back events while older transactions run on the cluster). */
static json_t *feed(const char *cursor, const char *qs, size_t min)
{
  struct http_resp r = {0};
  char path[512];
  for (int tries = 0; tries < 200; tries++) {
    snprintf(path, sizeof path, "/v1/events?limit=200%s%s&%s", cursor ? "&cursor=" : "", cursor ? cursor : "", qs);
    http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
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

static void types_for(const json_t *page, const char *resource_type, const char *id, char *out, size_t size)
{
  size_t used = 0, i;
  json_t *e;
  out[0] = '\0';
  json_array_foreach(json_object_get(page, "data"), i, e) {
    if (strcmp(jstr(e, "resource_type"), resource_type) == 0 && strcmp(jstr(e, "resource_id"), id) == 0)
      used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "", jstr(e, "type"));
  }
}

static void events(void **state)
{
  (void)state;
  char cus[32], inv1[32], inv2[32], inv3[32], d1[32], d2[32], d3[32], qs[128], types[256];
  new_customer(cus, "Eventful Disputes");
  new_invoice(inv1, .customer = cus, .amount = 10000, .issued_in = -10, .due_in = 10);
  new_invoice(inv2, .customer = cus, .amount = 10000, .issued_in = -10, .due_in = 10);
  new_invoice(inv3, .customer = cus, .amount = 10000, .issued_in = -10, .due_in = 10);
  open_dispute(d1, inv1, 100, "pricing", ROLE_COLLECTOR);
  open_dispute(d2, inv2, 100, "pricing", ROLE_COLLECTOR);
  open_dispute(d3, inv3, 100, "pricing", ROLE_COLLECTOR);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": 100}",
        "/v1/disputes/%s", d1);
  assert_status(&r, 200);
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"rejected\"}", "/v1/disputes/%s", d2);
  assert_status(&r, 200);
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"notes\": \"waiting for photos\"}", "/v1/disputes/%s", d3);
  assert_status(&r, 200);
  /* A refused PATCH leaves no event. */
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"rejected\"}", "/v1/disputes/%s", d2);
  assert_status(&r, 409);

  snprintf(qs, sizeof qs, "resource_type=dispute&customer_id=%s", cus);
  json_t *page = feed(NULL, qs, 6);
  assert_int_equal(json_array_size(json_object_get(page, "data")), 6);
  types_for(page, "dispute", d1, types, sizeof types);
  assert_string_equal(types, "dispute.opened,dispute.resolved");
  types_for(page, "dispute", d2, types, sizeof types);
  assert_string_equal(types, "dispute.opened,dispute.rejected");
  types_for(page, "dispute", d3, types, sizeof types);
  assert_string_equal(types, "dispute.opened,dispute.updated");
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(page, "data"), i, e) {
    const json_t *data = json_object_get(e, "data");
    assert_string_equal(jstr(e, "customer_id"), cus);
    if (strcmp(jstr(e, "type"), "dispute.opened") == 0) {
      assert_string_equal(jstr(e, "actor"), "collector@example.com");
      assert_string_equal(jstr(data, "status"), "open");
    } else {
      assert_string_equal(jstr(e, "actor"), "manager@example.com");
    }
    if (strcmp(jstr(e, "type"), "dispute.resolved") == 0)
      assert_non_null(jstr(data, "adjustment_id"));
  }
  json_decref(page);
  /* The credit left its own events: the adjustment and the invoice's change. */
  snprintf(qs, sizeof qs, "resource_type=adjustment&customer_id=%s", cus);
  page = feed(NULL, qs, 1);
  assert_int_equal(json_array_size(json_object_get(page, "data")), 1);
  json_decref(page);
  snprintf(qs, sizeof qs, "type=invoice.updated&customer_id=%s", cus);
  page = feed(NULL, qs, 1);
  types_for(page, "invoice", inv1, types, sizeof types);
  /* One when the dispute opened (in_dispute flipped), one for the credit
   * that resolved it (the flip back is in the same transaction). */
  assert_string_equal(types, "invoice.updated,invoice.updated");
  json_decref(page);
  http_resp_clear(&r);
}

/* Concurrent openings of one invoice: exactly one dispute.  A credit racing
 * a payment on the same invoice: together they exceed the balance, so one
 * of them is refused and the balance never goes below zero. */
static void concurrent_writes(void **state)
{
  (void)state;
  char cus[32], inv[32];
  new_customer(cus, "Racing Disputes");
  new_invoice(inv, .customer = cus, .amount = 10000, .issued_in = -30, .due_in = -3);
  enum { N = 8 };
  struct racer rc[N];
  for (int i = 0; i < N; i++) {
    memset(&rc[i], 0, sizeof rc[i]);
    snprintf(rc[i].url, sizeof rc[i].url, "%s/v1/disputes", harness_base());
    rc[i].method = "POST";
    rc[i].who = ROLE_COLLECTOR;
    snprintf(rc[i].body, sizeof rc[i].body, "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": %d}", inv,
             100 + i);
  }
  run_racers(rc, N);
  int created = 0, refused = 0;
  for (int i = 0; i < N; i++) {
    if (rc[i].status == 201)
      created++;
    else if (rc[i].status == 409)
      refused++;
    else
      fail_msg("racing open answered %ld", rc[i].status);
  }
  assert_int_equal(created, 1);
  assert_int_equal(refused, N - 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM disputes WHERE invoice_id = %s", inv), 1);

  for (int round = 0; round < 5; round++) {
    char inv2[32], id[32], today[16];
    new_invoice(inv2, .customer = cus, .amount = 10000, .issued_in = -30, .due_in = -3);
    open_dispute(id, inv2, 5000, "pricing", ROLE_COLLECTOR);
    day(today, 0);
    struct racer two[2];
    memset(two, 0, sizeof two);
    snprintf(two[0].url, sizeof two[0].url, "%s/v1/disputes/%s", harness_base(), id);
    two[0].method = "PATCH";
    two[0].who = ROLE_MANAGER;
    snprintf(two[0].body, sizeof two[0].body,
             "{\"status\": \"resolved\", \"resolution\": \"credit_issued\", \"credit_amount\": 5000}");
    snprintf(two[1].url, sizeof two[1].url, "%s/v1/payments", harness_base());
    two[1].method = "POST";
    two[1].who = ROLE_ADMIN;
    snprintf(two[1].body, sizeof two[1].body,
             "{\"customer_id\": \"%s\", \"amount\": 6000, \"currency\": \"USD\", \"received_on\": \"%s\", "
             "\"method\": \"wire\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 6000}]}",
             cus, today, inv2);
    run_racers(two, 2);
    long long balance = harness_sql_int("SELECT balance FROM invoices WHERE id = %s", inv2);
    if (two[0].status == 200 && two[1].status == 409)
      assert_int_equal(balance, 5000);
    else if (two[0].status == 409 && two[1].status == 201)
      assert_int_equal(balance, 4000);
    else
      fail_msg("credit %ld and payment %ld: exactly one must pass", two[0].status, two[1].status);
    assert_int_equal(harness_sql_int("SELECT amount - balance FROM invoices WHERE id = %s", inv2),
                     harness_sql_int("SELECT coalesce(sum(amount), 0) FROM payment_allocations WHERE invoice_id = %s",
                                     inv2));
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(open_get_and_close),
      cmocka_unit_test(open_with_call_log),
      cmocka_unit_test(amount_defaults_to_open_balance),
      cmocka_unit_test(open_function_for_call_logs),
      cmocka_unit_test(open_refused_by_invoice_state),
      cmocka_unit_test(create_errors),
      cmocka_unit_test(stored_verbatim),
      cmocka_unit_test(resolve_with_credit),
      cmocka_unit_test(resolve_with_corrected_amount),
      cmocka_unit_test(resolve_with_new_due_date),
      cmocka_unit_test(patch_rules),
      cmocka_unit_test(item_and_list_errors),
      cmocka_unit_test(list_filters_and_pages),
      cmocka_unit_test(events),
      cmocka_unit_test(concurrent_writes),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
