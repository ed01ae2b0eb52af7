/* /v1/invoices: create, read, list with every filter, PATCH (If-Match, void,
 * write-off), the upsert by external_id, and every kind of bad input. */
#include "harness.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void invoice_body(char *buf, size_t size, const char *customer, const char *number, long long amount,
                         const char *issued, const char *due)
{
  snprintf(buf, size,
           "{\"customer_id\": \"%s\", \"number\": \"%s\", \"currency\": \"USD\", \"amount\": %lld, "
           "\"issued_on\": \"%s\", \"due_on\": \"%s\"}",
           customer, number, amount, issued, due);
}

static long long count_invoices(void)
{
  return harness_sql_int("SELECT count(*) FROM invoices");
}

static void create_and_get(void **state)
{
  (void)state;
  char cust[32];
  sql_customer(cust, "Create Co");
  struct http_resp r = {0};
  char body[1024];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"INV-1001\", \"currency\": \"EUR\", \"amount\": 125000, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-01-31\", \"po_number\": \"PO-7\", "
           "\"description\": \"Widgets\", \"factored\": true, \"external_id\": \"erp-1001\"}",
           cust);
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  const json_t *d = r.json;
  char id[32], loc[64];
  snprintf(id, sizeof id, "%s", jstr(d, "id"));
  snprintf(loc, sizeof loc, "/v1/invoices/%s", id);
  assert_string_equal(r.location, loc);
  assert_string_equal(r.etag, "\"1\"");
  assert_string_equal(jstr(d, "customer_id"), cust);
  assert_string_equal(jstr(d, "external_id"), "erp-1001");
  assert_string_equal(jstr(d, "number"), "INV-1001");
  assert_string_equal(jstr(d, "currency"), "EUR");
  assert_int_equal(jint(d, "original_amount"), 125000);
  assert_int_equal(jint(d, "amount"), 125000);
  assert_int_equal(jint(d, "balance"), 125000);
  assert_int_equal(jint(d, "paid_amount"), 0);
  assert_string_equal(jstr(d, "issued_on"), "2999-01-01");
  assert_string_equal(jstr(d, "due_on"), "2999-01-31");
  assert_string_equal(jstr(d, "po_number"), "PO-7");
  assert_string_equal(jstr(d, "description"), "Widgets");
  assert_true(json_is_true(json_object_get(d, "factored")));
  assert_string_equal(jstr(d, "status"), "open");
  assert_int_equal(jint(d, "days_overdue"), 0);
  assert_true(json_is_false(json_object_get(d, "in_dispute")));
  assert_true(json_is_false(json_object_get(d, "in_plan")));
  assert_true(is_null(d, "receipt_confirmed_at"));
  assert_true(is_null(d, "receipt_confirmed_via"));
  assert_true(is_null(d, "receipt_confirmed_by"));
  assert_int_equal(jint(d, "version"), 1);
  assert_true(ts_shape_ok(jstr(d, "created_at")));
  assert_true(ts_shape_ok(jstr(d, "updated_at")));
  /* Money is a JSON integer, never a string or a real. */
  assert_true(json_is_integer(json_object_get(d, "amount")));
  json_t *created = json_incref(r.json);

  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/invoices/%s", id);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"1\"");
  assert_true(json_equal(r.json, created));
  json_decref(created);

  /* Defaults: optional fields null, factored false; every writer role may create. */
  invoice_body(body, sizeof body, cust, "INV-1002", 1, "2999-01-01", "2999-01-01");
  http(&r, "POST", "/v1/invoices", ROLE_INTEGRATION, body, NULL);
  assert_status(&r, 201);
  assert_true(is_null(r.json, "po_number"));
  assert_true(is_null(r.json, "description"));
  assert_true(is_null(r.json, "external_id"));
  assert_true(json_is_false(json_object_get(r.json, "factored")));
  invoice_body(body, sizeof body, cust, "INV-1003", 9007199254740991LL, "2999-01-01", "2999-01-01");
  http(&r, "POST", "/v1/invoices", ROLE_MANAGER, body, NULL);
  assert_status(&r, 201);
  assert_int_equal(jint(r.json, "amount"), 9007199254740991LL);
  http_resp_clear(&r);
}

static void stored_verbatim(void **state)
{
  (void)state;
  char cust[32];
  sql_customer(cust, "Verbatim Ltd");
  struct http_resp r = {0};
  /* SQL and LIKE metacharacters, quotes, backslashes and non-ASCII text. */
  const char *number = "INV'; DROP TABLE invoices;--";
  const char *description = "100% \\\"quoted\\\" _under_ \\\\ back; Ω ✓ $1 $$x$$";
  char body[1024];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"%s\", \"currency\": \"USD\", \"amount\": 10, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-01-01\", \"description\": \"%s\", "
           "\"po_number\": \"' OR 1=1 --\"}",
           cust, number, description);
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  char id[32];
  snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s", id);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "number"), number);
  assert_string_equal(jstr(r.json, "description"), "100% \"quoted\" _under_ \\ back; Ω ✓ $1 $$x$$");
  assert_string_equal(jstr(r.json, "po_number"), "' OR 1=1 --");
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices WHERE number = 'INV''; DROP TABLE invoices;--'"), 1);
  /* The exact-match filter finds it by the same text. */
  http(&r, "GET", "/v1/invoices?number=INV%27%3B%20DROP%20TABLE%20invoices%3B--", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
  /* Empty description is text; blank number is not. */
  snprintf(body, sizeof body, "{\"description\": \"\"}");
  httpf(&r, "PATCH", ROLE_ADMIN, body, "/v1/invoices/%s", id);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "description"), "");
  http_resp_clear(&r);
}

static void days_overdue_and_status(void **state)
{
  (void)state;
  char cust[32], today[16], yesterday[16], ten_ago[16], month_ago[16], a[32], b[32], c[32], d[32], e[32];
  sql_customer(cust, "Aging Inc");
  day(today, 0);
  day(yesterday, -1);
  day(ten_ago, -10);
  day(month_ago, -30);
  new_invoice(a, .customer = cust, .number = "AGE-1", .amount = 100, .issued_on = month_ago, .due_on = today);
  new_invoice(b, .customer = cust, .number = "AGE-2", .amount = 100, .issued_on = month_ago, .due_on = yesterday);
  new_invoice(c, .customer = cust, .number = "AGE-3", .amount = 100, .issued_on = month_ago, .due_on = ten_ago);
  new_invoice(d, .customer = cust, .number = "AGE-4", .amount = 100, .issued_on = "2019-12-01", .due_on = "2020-01-01");
  new_invoice(e, .customer = cust, .number = "AGE-5", .amount = 100, .issued_on = month_ago, .due_on = ten_ago);
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s", a);
  assert_int_equal(jint(r.json, "days_overdue"), 0);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s", b);
  assert_int_equal(jint(r.json, "days_overdue"), 1);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s", c);
  assert_int_equal(jint(r.json, "days_overdue"), 10);
  long long since_2020 = harness_sql_int("SELECT (now() AT TIME ZONE '%s')::date - date '2020-01-01'", tz());
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s", d);
  assert_int_equal(jint(r.json, "days_overdue"), since_2020);

  /* Paid (balance 0) and void invoices are not overdue. */
  harness_sql("UPDATE invoices SET balance = 0 WHERE id = %s", c);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s", c);
  assert_string_equal(jstr(r.json, "status"), "paid");
  assert_int_equal(jint(r.json, "paid_amount"), 100);
  assert_int_equal(jint(r.json, "days_overdue"), 0);
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", e);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "void");
  assert_int_equal(jint(r.json, "days_overdue"), 0);
  /* A partial balance stays open. */
  harness_sql("UPDATE invoices SET balance = 40 WHERE id = %s", b);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s", b);
  assert_string_equal(jstr(r.json, "status"), "open");
  assert_int_equal(jint(r.json, "paid_amount"), 60);
  assert_int_equal(jint(r.json, "days_overdue"), 1);
  http_resp_clear(&r);
}

static void list_filters_and_pages(void **state)
{
  (void)state;
  char c1[32], c2[32], i1[32], i2[32], i3[32], i4[32], i5[32], path[512];
  sql_customer(c1, "List One");
  sql_customer(c2, "List Two");
  new_invoice(i1, .customer = c1, .number = "L-1", .amount = 100, .issued_on = "2019-12-01", .due_on = "2020-01-01");
  new_invoice(i2, .customer = c1, .number = "L-2", .amount = 200, .issued_on = "2020-01-01", .due_on = "2020-06-01");
  new_invoice(i3, .customer = c1, .number = "L-3", .amount = 300, .issued_on = "2999-01-01", .due_on = "2999-02-01");
  new_invoice(i4, .customer = c2, .number = "L-4", .amount = 400, .issued_on = "2019-12-01", .due_on = "2020-01-01");
  char body[512];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"L-5\", \"currency\": \"EUR\", \"amount\": 500, "
           "\"issued_on\": \"2019-12-01\", \"due_on\": \"2020-01-01\", \"external_id\": \"list-ext-5\"}",
           c2);
  json_t *j = create_ok("/v1/invoices", body);
  snprintf(i5, sizeof i5, "%s", jstr(j, "id"));
  json_decref(j);
  struct http_resp r = {0};

  /* customer_id, and pages of 2 following next_cursor. */
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&limit=2", c1);
  http(&r, "GET", path, ROLE_COLLECTOR, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 2);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), i1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 1), "id"), i2);
  assert_string_equal(jstr(r.json, "next_cursor"), i2);
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&limit=2&cursor=%s", c1, i2);
  http(&r, "GET", path, ROLE_COLLECTOR, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), i3);
  assert_true(is_null(r.json, "next_cursor"));
  /* Exactly a full page: no next page. */
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&limit=3", c1);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 3);
  assert_true(is_null(r.json, "next_cursor"));

  /* overdue_as_of: open and due before that day. */
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&overdue_as_of=2020-03-01", c1);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), i1);
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&overdue_as_of=2020-06-02", c1);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 2);
  /* The due day itself is not overdue. */
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&overdue_as_of=2020-01-01", c1);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 0);
  /* A void invoice is not overdue. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", i1);
  assert_status(&r, 200);
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&overdue_as_of=2020-03-01", c1);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 0);

  /* status */
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&status=void", c1);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&status=open", c1);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 2);
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&status=paid", c1);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 0);

  /* number, external_id, currency */
  http(&r, "GET", "/v1/invoices?number=L-4", ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), i4);
  http(&r, "GET", "/v1/invoices?number=L-", ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 0);
  http(&r, "GET", "/v1/invoices?external_id=list-ext-5", ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), i5);
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&currency=EUR", c2);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&currency=USD", c2);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), i4);

  /* updated_since: only what changed at or after the instant. */
  char *t = harness_sql("SELECT arc_ts(clock_timestamp())");
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"po_number\": \"PO-NEW\"}", "/v1/invoices/%s", i4);
  assert_status(&r, 200);
  snprintf(path, sizeof path, "/v1/invoices?updated_since=%s", t);
  free(t);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), i4);
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&updated_since=2000-01-01T00:00:00Z", c2);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 2);
  http(&r, "GET", "/v1/invoices?updated_since=2999-01-01T00:00:00%2B02:00", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 0);
  /* Filters combine. */
  snprintf(path, sizeof path, "/v1/invoices?customer_id=%s&status=open&currency=EUR&overdue_as_of=2021-01-01", c2);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  /* Default page. */
  http(&r, "GET", "/v1/invoices", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  assert_true(data_size(&r) >= 5 && data_size(&r) <= 50);
  http_resp_clear(&r);
}

static const struct step list_errors[] = {
    {"unknown parameter", "GET", "/v1/invoices?colour=red", ROLE_ADMIN, NULL, 422, "validation", "colour"},
    {"limit 0", "GET", "/v1/invoices?limit=0", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"limit 201", "GET", "/v1/invoices?limit=201", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"limit text", "GET", "/v1/invoices?limit=ten", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"cursor text", "GET", "/v1/invoices?cursor=abc", ROLE_ADMIN, NULL, 422, "validation", "cursor"},
    {"customer_id text", "GET", "/v1/invoices?customer_id=x", ROLE_ADMIN, NULL, 422, "validation", "customer_id"},
    {"status bogus", "GET", "/v1/invoices?status=overdue", ROLE_ADMIN, NULL, 422, "validation", "status"},
    {"currency lower", "GET", "/v1/invoices?currency=usd", ROLE_ADMIN, NULL, 422, "validation", "currency"},
    {"overdue_as_of bad", "GET", "/v1/invoices?overdue_as_of=2020-13-01", ROLE_ADMIN, NULL, 422, "validation",
     "overdue_as_of"},
    {"updated_since date only", "GET", "/v1/invoices?updated_since=2020-01-01", ROLE_ADMIN, NULL, 422, "validation",
     "updated_since"},
    {"number empty", "GET", "/v1/invoices?number=", ROLE_ADMIN, NULL, 422, "validation", "number"},
    {"external_id invalid UTF-8", "GET", "/v1/invoices?external_id=%FF%FE", ROLE_ADMIN, NULL, 400, "bad-request",
     NULL},
    {"no key", "GET", "/v1/invoices", NO_KEY, NULL, 401, "unauthorized", NULL},
    {"list delete", "DELETE", "/v1/invoices", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
};

static void list_errors_test(void **state)
{
  (void)state;
  run_steps(list_errors, sizeof list_errors / sizeof list_errors[0]);
}

/* Each row: a create body that must be refused, and the field it names. */
struct bad_create {
  const char *label;
  const char *fields; /* JSON members after customer_id */
  long status;
  const char *problem, *field;
};

#define GOOD_REST "\"currency\": \"USD\", \"amount\": 100, \"issued_on\": \"2024-01-01\", \"due_on\": \"2024-01-31\""

static const struct bad_create bad_creates[] = {
    {"number missing", GOOD_REST, 422, "validation", "number"},
    {"number null", "\"number\": null, " GOOD_REST, 422, "validation", "number"},
    {"number blank", "\"number\": \"  \", " GOOD_REST, 422, "validation", "number"},
    {"number number", "\"number\": 17, " GOOD_REST, 422, "validation", "number"},
    {"number 65 chars", "\"number\": \"12345678901234567890123456789012345678901234567890123456789012345\", " GOOD_REST,
     422, "validation", "number"},
    {"currency missing", "\"number\": \"B-1\", \"amount\": 100, \"issued_on\": \"2024-01-01\", \"due_on\": \"2024-01-31\"",
     422, "validation", "currency"},
    {"currency lower", "\"number\": \"B-1\", \"currency\": \"usd\", \"amount\": 100, \"issued_on\": \"2024-01-01\", "
     "\"due_on\": \"2024-01-31\"", 422, "validation", "currency"},
    {"currency 4 letters", "\"number\": \"B-1\", \"currency\": \"USDD\", \"amount\": 100, \"issued_on\": \"2024-01-01\", "
     "\"due_on\": \"2024-01-31\"", 422, "validation", "currency"},
    {"amount missing", "\"number\": \"B-1\", \"currency\": \"USD\", \"issued_on\": \"2024-01-01\", \"due_on\": \"2024-01-31\"",
     422, "validation", "amount"},
    {"amount 0", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 0, \"issued_on\": \"2024-01-01\", "
     "\"due_on\": \"2024-01-31\"", 422, "validation", "amount"},
    {"amount negative", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": -5, \"issued_on\": \"2024-01-01\", "
     "\"due_on\": \"2024-01-31\"", 422, "validation", "amount"},
    {"amount fraction", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 12.5, \"issued_on\": \"2024-01-01\", "
     "\"due_on\": \"2024-01-31\"", 422, "validation", "amount"},
    {"amount real integer", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 100.0, \"issued_on\": \"2024-01-01\", "
     "\"due_on\": \"2024-01-31\"", 422, "validation", "amount"},
    {"amount exponent", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 1e2, \"issued_on\": \"2024-01-01\", "
     "\"due_on\": \"2024-01-31\"", 422, "validation", "amount"},
    {"amount string", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": \"100\", \"issued_on\": \"2024-01-01\", "
     "\"due_on\": \"2024-01-31\"", 422, "validation", "amount"},
    {"amount 2^53", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 9007199254740992, \"issued_on\": "
     "\"2024-01-01\", \"due_on\": \"2024-01-31\"", 422, "validation", "amount"},
    {"amount 2^63-1", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 9223372036854775807, \"issued_on\": "
     "\"2024-01-01\", \"due_on\": \"2024-01-31\"", 422, "validation", "amount"},
    {"amount past int64", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 99999999999999999999, \"issued_on\": "
     "\"2024-01-01\", \"due_on\": \"2024-01-31\"", 400, "malformed-json", NULL},
    {"amount 1e400", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 1e400, \"issued_on\": "
     "\"2024-01-01\", \"due_on\": \"2024-01-31\"", 400, "malformed-json", NULL},
    {"amount boolean", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": true, \"issued_on\": \"2024-01-01\", "
     "\"due_on\": \"2024-01-31\"", 422, "validation", "amount"},
    {"issued_on missing", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 100, \"due_on\": \"2024-01-31\"", 422,
     "validation", "issued_on"},
    {"issued_on 30 Feb", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 100, \"issued_on\": \"2024-02-30\", "
     "\"due_on\": \"2024-03-31\"", 422, "validation", "issued_on"},
    {"issued_on short", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 100, \"issued_on\": \"2024-1-1\", "
     "\"due_on\": \"2024-03-31\"", 422, "validation", "issued_on"},
    {"issued_on number", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 100, \"issued_on\": 20240101, "
     "\"due_on\": \"2024-03-31\"", 422, "validation", "issued_on"},
    {"due_on missing", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 100, \"issued_on\": \"2024-01-01\"", 422,
     "validation", "due_on"},
    {"due_on instant", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 100, \"issued_on\": \"2024-01-01\", "
     "\"due_on\": \"2024-01-31T00:00:00Z\"", 422, "validation", "due_on"},
    {"due_on before issued_on", "\"number\": \"B-1\", \"currency\": \"USD\", \"amount\": 100, \"issued_on\": "
     "\"2024-01-02\", \"due_on\": \"2024-01-01\"", 422, "validation", "due_on"},
    {"po_number 101", "\"number\": \"B-1\", " GOOD_REST ", \"po_number\": \"12345678901234567890123456789012345678901"
     "234567890123456789012345678901234567890123456789012345678901\"", 422, "validation", "po_number"},
    {"po_number number", "\"number\": \"B-1\", " GOOD_REST ", \"po_number\": 5", 422, "validation", "po_number"},
    {"description object", "\"number\": \"B-1\", " GOOD_REST ", \"description\": {}", 422, "validation", "description"},
    {"factored string", "\"number\": \"B-1\", " GOOD_REST ", \"factored\": \"yes\"", 422, "validation", "factored"},
    {"factored null", "\"number\": \"B-1\", " GOOD_REST ", \"factored\": null", 422, "validation", "factored"},
    {"external_id empty", "\"number\": \"B-1\", " GOOD_REST ", \"external_id\": \"\"", 422, "validation", "external_id"},
    {"status on create", "\"number\": \"B-1\", " GOOD_REST ", \"status\": \"open\"", 422, "validation", "status"},
    {"balance is read-only", "\"number\": \"B-1\", " GOOD_REST ", \"balance\": 5", 422, "validation", "balance"},
    {"unknown field", "\"number\": \"B-1\", " GOOD_REST ", \"colour\": \"red\"", 422, "validation", "colour"},
    {"NUL in number", "\"number\": \"B\\u0000-1\", " GOOD_REST, 400, "malformed-json", NULL},
    {"duplicate key", "\"number\": \"B-1\", \"number\": \"B-2\", " GOOD_REST, 400, "malformed-json", NULL},
};

static void create_errors(void **state)
{
  (void)state;
  char cust[32];
  sql_customer(cust, "Bad Input");
  long long before = count_invoices();
  struct http_resp r = {0};
  char body[2048];
  for (size_t i = 0; i < sizeof bad_creates / sizeof bad_creates[0]; i++) {
    const struct bad_create *b = &bad_creates[i];
    snprintf(body, sizeof body, "{\"customer_id\": \"%s\", %s}", cust, b->fields);
    http(&r, "POST", "/v1/invoices", ROLE_ADMIN, body, NULL);
    if (r.status != b->status)
      fail_msg("[%s] expected %ld, got %ld: %s", b->label, b->status, r.status, r.body ? r.body : "");
    assert_problem(&r, b->status, b->problem, b->field);
  }

  /* customer_id: missing, wrong type, malformed, unknown. */
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, "{\"number\": \"B-1\", " GOOD_REST "}", NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, "{\"customer_id\": 1, \"number\": \"B-1\", " GOOD_REST "}", NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, "{\"customer_id\": \"01\", \"number\": \"B-1\", " GOOD_REST "}", NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, "{\"customer_id\": \"1 OR 1=1\", \"number\": \"B-1\", " GOOD_REST "}",
       NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, "{\"customer_id\": \"999999999\", \"number\": \"B-1\", " GOOD_REST "}",
       NULL);
  assert_problem(&r, 422, "validation", "customer_id");

  /* Every bad field is named at once. */
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, "{\"amount\": \"1\", \"currency\": \"x\", \"extra\": 1}", NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  assert_problem(&r, 422, "validation", "number");
  assert_problem(&r, 422, "validation", "amount");
  assert_problem(&r, 422, "validation", "currency");
  assert_problem(&r, 422, "validation", "issued_on");
  assert_problem(&r, 422, "validation", "due_on");
  assert_problem(&r, 422, "validation", "extra");

  /* Not an object, empty, malformed, invalid UTF-8, wrong media type, too large. */
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, "[1, 2]", NULL);
  assert_problem(&r, 422, "validation", "(body)");
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, "\"text\"", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http_raw(&r, "POST", "/v1/invoices", ROLE_ADMIN, NULL, 0, NULL, NULL);
  assert_problem(&r, 422, "validation", "number");
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, "{\"number\": ", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, "{\"number\": \"a\"} trailing", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  static const char bad_utf8[] = "{\"number\": \"\xff\xfe\"}";
  http_raw(&r, "POST", "/v1/invoices", ROLE_ADMIN, bad_utf8, sizeof bad_utf8 - 1, "application/json", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"number\": \"B-1\", " GOOD_REST "}", cust);
  http_raw(&r, "POST", "/v1/invoices", ROLE_ADMIN, body, strlen(body), "text/plain", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  http_raw(&r, "POST", "/v1/invoices", ROLE_ADMIN, body, strlen(body), NULL, NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  size_t big_len = (size_t)2 << 20;
  char *big = malloc(big_len + 64);
  int n = snprintf(big, 64, "{\"customer_id\": \"%s\", \"description\": \"", cust);
  memset(big + n, 'x', big_len);
  memcpy(big + n + big_len, "\"}", 3);
  http_raw(&r, "POST", "/v1/invoices", ROLE_ADMIN, big, strlen(big), "application/json", NULL);
  free(big);
  assert_problem(&r, 413, "payload-too-large", NULL);

  /* Roles and keys. */
  http(&r, "POST", "/v1/invoices", ROLE_VIEWER, body, NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", "/v1/invoices", ROLE_COLLECTOR, body, NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", "/v1/invoices", NO_KEY, body, NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  assert_int_equal(count_invoices(), before);

  /* Duplicates: number and external_id. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"DUP-1\", \"external_id\": \"dup-ext\", " GOOD_REST "}", cust);
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"DUP-1\", \"external_id\": \"dup-ext-2\", " GOOD_REST "}", cust);
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 409, "duplicate", "number");
  /* Numbers are exact: case and spaces make another number. */
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"number\": \"dup-1\", " GOOD_REST "}", cust);
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"DUP-2\", \"external_id\": \"dup-ext\", " GOOD_REST "}", cust);
  http(&r, "POST", "/v1/invoices", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 409, "duplicate", "external_id");
  assert_int_equal(count_invoices(), before + 2);
  http_resp_clear(&r);
}

static const struct step item_errors[] = {
    {"unknown id", "GET", "/v1/invoices/999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id zero", "GET", "/v1/invoices/0", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id text", "GET", "/v1/invoices/abc", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id injection", "GET", "/v1/invoices/1%20OR%201=1", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id too long", "GET", "/v1/invoices/99999999999999999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"patch unknown", "PATCH", "/v1/invoices/999999999", ROLE_ADMIN, "{\"description\": \"x\"}", 404, "not-found",
     NULL},
    {"patch malformed id", "PATCH", "/v1/invoices/x1", ROLE_ADMIN, "{}", 404, "not-found", NULL},
    {"delete", "DELETE", "/v1/invoices/1", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
    {"put item", "PUT", "/v1/invoices/1", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
    {"post item", "POST", "/v1/invoices/1", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
    {"get no key", "GET", "/v1/invoices/1", NO_KEY, NULL, 401, "unauthorized", NULL},
    {"patch viewer", "PATCH", "/v1/invoices/1", ROLE_VIEWER, "{}", 403, "forbidden", NULL},
    {"patch collector", "PATCH", "/v1/invoices/1", ROLE_COLLECTOR, "{}", 403, "forbidden", NULL},
    {"upsert viewer", "PUT", "/v1/invoices/external/x", ROLE_VIEWER, "{}", 403, "forbidden", NULL},
    {"upsert collector", "PUT", "/v1/invoices/external/x", ROLE_COLLECTOR, "{}", 403, "forbidden", NULL},
    {"upsert no key", "PUT", "/v1/invoices/external/x", NO_KEY, "{}", 401, "unauthorized", NULL},
    {"upsert get", "GET", "/v1/invoices/external/x", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
    {"upsert patch", "PATCH", "/v1/invoices/external/x", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
};

static void item_errors_test(void **state)
{
  (void)state;
  run_steps(item_errors, sizeof item_errors / sizeof item_errors[0]);
}

static void patch_fields_and_if_match(void **state)
{
  (void)state;
  char cust[32], id[32], other[32];
  sql_customer(cust, "Patch Co");
  new_invoice(id, .customer = cust, .number = "P-1", .amount = 5000, .issued_on = "2999-01-01", .due_on = "2999-01-31");
  new_invoice(other, .customer = cust, .number = "P-2", .amount = 5000, .issued_on = "2999-01-01",
              .due_on = "2999-01-31");
  harness_sql("UPDATE invoices SET external_id = 'p-2-ext' WHERE id = %s", other);
  struct http_resp r = {0};

  /* An empty patch changes nothing, not even the version. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{}", "/v1/invoices/%s", id);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), 1);
  assert_string_equal(r.etag, "\"1\"");

  /* With the current ETag. */
  char path[64];
  snprintf(path, sizeof path, "/v1/invoices/%s", id);
  const char *const match1[] = {"If-Match: \"1\"", NULL};
  http(&r, "PATCH", path, ROLE_MANAGER,
       "{\"number\": \"P-1b\", \"due_on\": \"2999-03-01\", \"po_number\": \"PO-9\", \"description\": \"d\", "
       "\"factored\": true, \"external_id\": \"p-1-ext\", \"issued_on\": \"2999-01-02\"}",
       match1);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"2\"");
  assert_int_equal(jint(r.json, "version"), 2);
  assert_string_equal(jstr(r.json, "number"), "P-1b");
  assert_string_equal(jstr(r.json, "issued_on"), "2999-01-02");
  assert_string_equal(jstr(r.json, "due_on"), "2999-03-01");
  assert_string_equal(jstr(r.json, "po_number"), "PO-9");
  assert_string_equal(jstr(r.json, "description"), "d");
  assert_string_equal(jstr(r.json, "external_id"), "p-1-ext");
  assert_true(json_is_true(json_object_get(r.json, "factored")));
  assert_int_equal(jint(r.json, "amount"), 5000);

  /* The same values again: no new version. */
  http(&r, "PATCH", path, ROLE_INTEGRATION, "{\"number\": \"P-1b\", \"factored\": true}", NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), 2);

  /* A stale ETag: 412, nothing changed. */
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"description\": \"stale\"}", match1);
  assert_problem(&r, 412, "precondition-failed", NULL);
  assert_string_equal(jstr(r.json, "detail"),
                      "If-Match does not name the invoice as it is now (ETag \"2\"); read it again and retry");
  const char *const bare[] = {"If-Match: 2", NULL};
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"description\": \"bare\"}", bare);
  assert_problem(&r, 400, "bad-request", NULL);
  const char *const weak[] = {"If-Match: W/\"2\"", NULL};
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"description\": \"weak\"}", weak);
  assert_problem(&r, 412, "precondition-failed", NULL);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s", id);
  assert_string_equal(jstr(r.json, "description"), "d");
  assert_int_equal(jint(r.json, "version"), 2);
  /* "*" and a list holding the current tag match. */
  const char *const star[] = {"If-Match: *", NULL};
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"description\": null, \"po_number\": null, \"external_id\": null}", star);
  assert_status(&r, 200);
  assert_true(is_null(r.json, "description"));
  assert_true(is_null(r.json, "po_number"));
  assert_true(is_null(r.json, "external_id"));
  assert_int_equal(jint(r.json, "version"), 3);
  const char *const list[] = {"If-Match: \"1\", \"3\"", NULL};
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"factored\": false}", list);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), 4);

  /* Create-only fields: amount points at adjustments. */
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"amount\": 6000}", NULL);
  assert_problem(&r, 422, "validation", "amount");
  assert_non_null(strstr(r.body, "adjustments"));
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"currency\": \"EUR\", \"customer_id\": \"1\"}", NULL);
  assert_problem(&r, 422, "validation", "currency");
  assert_problem(&r, 422, "validation", "customer_id");
  assert_non_null(strstr(r.body, "cannot be changed"));

  /* Dates: both given, or one against the stored other. */
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"issued_on\": \"2999-05-02\", \"due_on\": \"2999-05-01\"}", NULL);
  assert_problem(&r, 422, "validation", "due_on");
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"due_on\": \"2999-01-01\"}", NULL);
  assert_problem(&r, 422, "validation", "due_on");
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"issued_on\": \"2999-03-02\"}", NULL);
  assert_problem(&r, 422, "validation", "issued_on");
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"due_on\": \"2999-01-02\"}", NULL);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "due_on"), "2999-01-02");

  /* Bad values. */
  static const struct {
    const char *body, *field;
  } bad[] = {
      {"{\"number\": null}", "number"},
      {"{\"number\": \"\"}", "number"},
      {"{\"issued_on\": null}", "issued_on"},
      {"{\"due_on\": \"tomorrow\"}", "due_on"},
      {"{\"factored\": 1}", "factored"},
      {"{\"status\": \"open\"}", "status"},
      {"{\"status\": \"paid\"}", "status"},
      {"{\"status\": null}", "status"},
      {"{\"balance\": 0}", "balance"},
      {"{\"id\": \"5\"}", "id"},
      {"{\"version\": 9}", "version"},
  };
  long long version = harness_sql_int("SELECT version FROM invoices WHERE id = %s", id);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    http(&r, "PATCH", path, ROLE_ADMIN, bad[i].body, NULL);
    assert_problem(&r, 422, "validation", bad[i].field);
  }
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"number\": ", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http_raw(&r, "PATCH", path, ROLE_ADMIN, "{}", 2, "application/xml", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);

  /* Another invoice's number or external_id. */
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"number\": \"P-2\"}", NULL);
  assert_problem(&r, 409, "duplicate", "number");
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"external_id\": \"p-2-ext\"}", NULL);
  assert_problem(&r, 409, "duplicate", "external_id");
  assert_int_equal(harness_sql_int("SELECT version FROM invoices WHERE id = %s", id), version);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices WHERE number = 'P-1b'"), 1);
  http_resp_clear(&r);
}

/* A payment of AMOUNT applied to invoice ID, written directly. */
static char *pay(const char *customer, const char *invoice, long long amount)
{
  char *payment = harness_sql("INSERT INTO payments (customer_id, amount, currency, received_on, method, unapplied) "
                              "VALUES (%s, %lld, 'USD', current_date, 'check', 0) RETURNING id",
                              customer, amount);
  char *alloc = harness_sql("INSERT INTO payment_allocations (customer_id, payment_id, invoice_id, amount) "
                            "VALUES (%s, %s, %s, %lld) RETURNING id",
                            customer, payment, invoice, amount);
  free(payment);
  harness_sql("UPDATE invoices SET balance = balance - %lld WHERE id = %s", amount, invoice);
  return alloc;
}

static void void_and_write_off(void **state)
{
  (void)state;
  char cust[32], a[32], b[32], c[32], d[32];
  sql_customer(cust, "Status Co");
  new_invoice(a, .customer = cust, .number = "S-1", .amount = 1000, .issued_on = "2020-01-01", .due_on = "2020-02-01");
  new_invoice(b, .customer = cust, .number = "S-2", .amount = 1000, .issued_on = "2020-01-01", .due_on = "2020-02-01");
  new_invoice(c, .customer = cust, .number = "S-3", .amount = 1000, .issued_on = "2020-01-01", .due_on = "2020-02-01");
  new_invoice(d, .customer = cust, .number = "S-4", .amount = 1000, .issued_on = "2020-01-01", .due_on = "2020-02-01");
  struct http_resp r = {0};

  /* Void an unpaid invoice: the balance is kept as it was; it is no longer owed. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", a);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "void");
  assert_int_equal(jint(r.json, "balance"), 1000);
  assert_int_equal(jint(r.json, "paid_amount"), 0);
  assert_int_equal(jint(r.json, "days_overdue"), 0);
  assert_int_equal(jint(r.json, "version"), 2);
  /* Again, or written off from void: 409. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", a);
  assert_problem(&r, 409, "conflict", "status");
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"written_off\"}", "/v1/invoices/%s", a);
  assert_problem(&r, 409, "conflict", "status");
  /* Other fields of a void invoice may still be corrected. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"description\": \"cancelled order\"}", "/v1/invoices/%s", a);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "void");

  /* A payment applied: void refused, nothing changed. */
  char *alloc = pay(cust, b, 300);
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\", \"description\": \"x\"}", "/v1/invoices/%s", b);
  assert_problem(&r, 409, "conflict", "status");
  assert_non_null(strstr(r.body, "payment"));
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s", b);
  assert_string_equal(jstr(r.json, "status"), "open");
  assert_int_equal(jint(r.json, "balance"), 700);
  assert_int_equal(jint(r.json, "paid_amount"), 300);
  assert_true(is_null(r.json, "description"));
  assert_int_equal(jint(r.json, "version"), 2);
  /* Write-off of a partly paid open invoice is allowed. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"written_off\"}", "/v1/invoices/%s", b);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "written_off");
  assert_int_equal(jint(r.json, "balance"), 700);
  assert_int_equal(jint(r.json, "days_overdue"), 0);
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", b);
  assert_problem(&r, 409, "conflict", "status");
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"written_off\"}", "/v1/invoices/%s", b);
  assert_problem(&r, 409, "conflict", "status");

  /* Once the payment is reversed the invoice may be voided. */
  char *alloc_c = pay(cust, c, 1000);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s", c);
  assert_string_equal(jstr(r.json, "status"), "paid");
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"written_off\"}", "/v1/invoices/%s", c);
  assert_problem(&r, 409, "conflict", "status");
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", c);
  assert_problem(&r, 409, "conflict", "status");
  harness_sql("UPDATE payment_allocations SET reversed_at = now() WHERE id = %s", alloc_c);
  harness_sql("UPDATE invoices SET balance = balance + 1000 WHERE id = %s", c);
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", c);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "void");
  free(alloc);
  free(alloc_c);

  /* Written off with If-Match, stale tag first. */
  char path[64];
  snprintf(path, sizeof path, "/v1/invoices/%s", d);
  const char *const stale[] = {"If-Match: \"7\"", NULL};
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"status\": \"written_off\"}", stale);
  assert_problem(&r, 412, "precondition-failed", NULL);
  const char *const fresh[] = {"If-Match: \"1\"", NULL};
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"status\": \"written_off\"}", fresh);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "written_off");
  /* The status filter sees it. */
  char q[128];
  snprintf(q, sizeof q, "/v1/invoices?customer_id=%s&status=written_off", cust);
  http(&r, "GET", q, ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 2);
  http_resp_clear(&r);
}

static void upsert(void **state)
{
  (void)state;
  char cust[32], other_cust[32], body[1024];
  sql_customer(cust, "Sync Co");
  sql_customer(other_cust, "Other Co");
  struct http_resp r = {0};
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"ERP-1\", \"currency\": \"USD\", \"amount\": 1000, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-02-01\", \"description\": \"first\"}",
           cust);
  http(&r, "PUT", "/v1/invoices/external/erp-1", ROLE_INTEGRATION, body, NULL);
  assert_status(&r, 201);
  char id[32], loc[64];
  snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
  snprintf(loc, sizeof loc, "/v1/invoices/%s", id);
  assert_string_equal(r.location, loc);
  assert_string_equal(jstr(r.json, "external_id"), "erp-1");
  assert_int_equal(jint(r.json, "amount"), 1000);
  char *created_at = strdup(jstr(r.json, "updated_at"));

  /* Unchanged: 200, same version and updated_at, no adjustment. */
  http(&r, "PUT", "/v1/invoices/external/erp-1", ROLE_INTEGRATION, body, NULL);
  assert_status(&r, 200);
  assert_string_equal(r.location, "");
  assert_string_equal(jstr(r.json, "id"), id);
  assert_int_equal(jint(r.json, "version"), 1);
  assert_string_equal(jstr(r.json, "updated_at"), created_at);
  free(created_at);
  /* The body may repeat the external_id. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"ERP-1\", \"currency\": \"USD\", \"amount\": 1000, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-02-01\", \"external_id\": \"erp-1\"}",
           cust);
  http(&r, "PUT", "/v1/invoices/external/erp-1", ROLE_INTEGRATION, body, NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), 1);
  /* Absent optional fields are kept. */
  assert_string_equal(jstr(r.json, "description"), "first");

  /* Updated fields: new version. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"ERP-1A\", \"currency\": \"USD\", \"amount\": 1000, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-03-01\", \"description\": null, \"factored\": true, "
           "\"po_number\": \"PO-1\"}",
           cust);
  http(&r, "PUT", "/v1/invoices/external/erp-1", ROLE_MANAGER, body, NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), 2);
  assert_string_equal(jstr(r.json, "number"), "ERP-1A");
  assert_string_equal(jstr(r.json, "due_on"), "2999-03-01");
  assert_true(is_null(r.json, "description"));
  assert_string_equal(jstr(r.json, "po_number"), "PO-1");
  assert_true(json_is_true(json_object_get(r.json, "factored")));
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoice_adjustments WHERE invoice_id = %s", id), 0);

  /* A new amount: a correction of the difference, balance moved alike. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"ERP-1A\", \"currency\": \"USD\", \"amount\": 1200, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-03-01\"}",
           cust);
  http(&r, "PUT", "/v1/invoices/external/erp-1", ROLE_INTEGRATION, body, NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "original_amount"), 1000);
  assert_int_equal(jint(r.json, "amount"), 1200);
  assert_int_equal(jint(r.json, "balance"), 1200);
  assert_int_equal(jint(r.json, "version"), 3);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoice_adjustments WHERE invoice_id = %s AND kind = "
                                   "'correction' AND amount = 200 AND reason = 'external sync' AND created_by = "
                                   "'integration:crm'",
                                   id),
                   1);
  /* The same again: unchanged, no second correction. */
  http(&r, "PUT", "/v1/invoices/external/erp-1", ROLE_INTEGRATION, body, NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), 3);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoice_adjustments WHERE invoice_id = %s", id), 1);
  /* A local credit survives a re-sync of the same external amount. */
  httpf(&r, "POST", ROLE_ADMIN, "{\"kind\": \"credit\", \"amount\": -100, \"reason\": \"goodwill\"}",
        "/v1/invoices/%s/adjustments", id);
  assert_status(&r, 201);
  http(&r, "PUT", "/v1/invoices/external/erp-1", ROLE_INTEGRATION, body, NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "amount"), 1100);
  assert_int_equal(jint(r.json, "balance"), 1100);
  /* Down to 900 externally: a -300 correction on top of the credit. */
  char *alloc = pay(cust, id, 600);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"ERP-1A\", \"currency\": \"USD\", \"amount\": 900, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-03-01\"}",
           cust);
  http(&r, "PUT", "/v1/invoices/external/erp-1", ROLE_INTEGRATION, body, NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "amount"), 800);
  assert_int_equal(jint(r.json, "balance"), 200);
  assert_int_equal(jint(r.json, "paid_amount"), 600);
  /* Below what was paid: 409 over-allocation, nothing changed. */
  long long version = jint(r.json, "version");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"ERP-1A\", \"currency\": \"USD\", \"amount\": 600, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-03-01\", \"description\": \"lower\"}",
           cust);
  http(&r, "PUT", "/v1/invoices/external/erp-1", ROLE_INTEGRATION, body, NULL);
  assert_problem(&r, 409, "over-allocation", "amount");
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/invoices/%s", id);
  assert_int_equal(jint(r.json, "amount"), 800);
  assert_int_equal(jint(r.json, "balance"), 200);
  assert_int_equal(jint(r.json, "version"), version);
  assert_true(is_null(r.json, "description"));
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoice_adjustments WHERE invoice_id = %s", id), 3);
  /* Exactly to what was paid: balance 0, paid. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"ERP-1A\", \"currency\": \"USD\", \"amount\": 700, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-03-01\"}",
           cust);
  http(&r, "PUT", "/v1/invoices/external/erp-1", ROLE_INTEGRATION, body, NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "amount"), 600);
  assert_int_equal(jint(r.json, "balance"), 0);
  assert_string_equal(jstr(r.json, "status"), "paid");
  free(alloc);

  /* Customer or currency of an existing invoice: 409. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"ERP-1A\", \"currency\": \"USD\", \"amount\": 700, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-03-01\"}",
           other_cust);
  http(&r, "PUT", "/v1/invoices/external/erp-1", ROLE_INTEGRATION, body, NULL);
  assert_problem(&r, 409, "conflict", "customer_id");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"ERP-1A\", \"currency\": \"EUR\", \"amount\": 700, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-03-01\"}",
           cust);
  http(&r, "PUT", "/v1/invoices/external/erp-1", ROLE_INTEGRATION, body, NULL);
  assert_problem(&r, 409, "conflict", "currency");

  /* A number another invoice has. */
  char other[32];
  new_invoice(other, .customer = cust, .number = "ERP-OTHER", .amount = 10, .issued_on = "2999-01-01",
              .due_on = "2999-01-01");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"ERP-OTHER\", \"currency\": \"USD\", \"amount\": 700, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-03-01\"}",
           cust);
  http(&r, "PUT", "/v1/invoices/external/erp-1", ROLE_INTEGRATION, body, NULL);
  assert_problem(&r, 409, "duplicate", "number");
  http(&r, "PUT", "/v1/invoices/external/erp-new", ROLE_INTEGRATION, body, NULL);
  assert_problem(&r, 409, "duplicate", "number");
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices WHERE external_id = 'erp-new'"), 0);

  /* A void invoice keeps its amount. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"ERP-2\", \"currency\": \"USD\", \"amount\": 500, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-03-01\"}",
           cust);
  http(&r, "PUT", "/v1/invoices/external/erp-2", ROLE_INTEGRATION, body, NULL);
  assert_status(&r, 201);
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", jstr(r.json, "id"));
  assert_status(&r, 200);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"ERP-2\", \"currency\": \"USD\", \"amount\": 400, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-03-01\"}",
           cust);
  http(&r, "PUT", "/v1/invoices/external/erp-2", ROLE_INTEGRATION, body, NULL);
  assert_problem(&r, 409, "conflict", NULL);
  assert_non_null(strstr(r.body, "void"));
  http_resp_clear(&r);
}

static void upsert_errors(void **state)
{
  (void)state;
  char cust[32], body[1024];
  sql_customer(cust, "Sync Errors");
  long long before = count_invoices();
  struct http_resp r = {0};
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"UE-1\", \"currency\": \"USD\", \"amount\": 1000, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-02-01\", \"external_id\": \"other\"}",
           cust);
  http(&r, "PUT", "/v1/invoices/external/ue-1", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 422, "validation", "external_id");
  http(&r, "PUT", "/v1/invoices/external/ue-1", ROLE_ADMIN, "{}", NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  assert_problem(&r, 422, "validation", "amount");
  assert_problem(&r, 422, "validation", "due_on");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"UE-1\", \"currency\": \"USD\", \"amount\": 1000.5, "
           "\"issued_on\": \"2999-01-02\", \"due_on\": \"2999-01-01\", \"status\": \"void\"}",
           cust);
  http(&r, "PUT", "/v1/invoices/external/ue-1", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 422, "validation", "amount");
  assert_problem(&r, 422, "validation", "due_on");
  assert_problem(&r, 422, "validation", "status");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"999999999\", \"number\": \"UE-1\", \"currency\": \"USD\", \"amount\": 1000, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-02-01\"}");
  http(&r, "PUT", "/v1/invoices/external/ue-1", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  /* The external_id in the path: too long, not UTF-8, blank. */
  char path[512];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"UE-1\", \"currency\": \"USD\", \"amount\": 1000, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-02-01\"}",
           cust);
  memset(path, 0, sizeof path);
  strcpy(path, "/v1/invoices/external/");
  memset(path + strlen(path), 'e', 201);
  http(&r, "PUT", path, ROLE_ADMIN, body, NULL);
  assert_problem(&r, 422, "validation", "external_id");
  /* The router refuses paths that do not decode to UTF-8. */
  http(&r, "PUT", "/v1/invoices/external/%FF%FE", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 404, "not-found", NULL);
  http(&r, "PUT", "/v1/invoices/external/%20%20", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 422, "validation", "external_id");
  http(&r, "PUT", "/v1/invoices/external/ue-1", ROLE_ADMIN, "{\"customer_id\": ", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http_raw(&r, "PUT", "/v1/invoices/external/ue-1", ROLE_ADMIN, body, strlen(body), "text/csv", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  assert_int_equal(count_invoices(), before);

  /* Path text is stored verbatim: percent-decoded, quotes and all. */
  http(&r, "PUT", "/v1/invoices/external/x'%3B%20DROP%20TABLE%20invoices%3B--%20%CE%A9", ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "external_id"), "x'; DROP TABLE invoices;-- Ω");
  assert_int_equal(count_invoices(), before + 1);
  http_resp_clear(&r);
}

/* The same upsert sent at once from several connections: one creates,
 * the others find it and change nothing. */
static void concurrent_upserts(void **state)
{
  (void)state;
  char cust[32], body[512];
  sql_customer(cust, "Race Sync");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"RACE-1\", \"currency\": \"USD\", \"amount\": 300, "
           "\"issued_on\": \"2999-01-01\", \"due_on\": \"2999-02-01\"}",
           cust);
  enum { N = 8 };
  struct racer rc[N];
  for (int i = 0; i < N; i++) {
    rc[i] = (struct racer){.method = "PUT", .who = ROLE_INTEGRATION};
    snprintf(rc[i].url, sizeof rc[i].url, "%s/v1/invoices/external/race-1", harness_base());
    snprintf(rc[i].body, sizeof rc[i].body, "%s", body);
  }
  run_racers(rc, N);
  int created = 0, found = 0;
  for (int i = 0; i < N; i++) {
    if (rc[i].status == 201)
      created++;
    else if (rc[i].status == 200)
      found++;
    else
      fail_msg("racing upsert answered %ld", rc[i].status);
  }
  assert_int_equal(created, 1);
  assert_int_equal(found, N - 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices WHERE external_id = 'race-1'"), 1);
  assert_int_equal(harness_sql_int("SELECT version FROM invoices WHERE external_id = 'race-1'"), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoice_adjustments a JOIN invoices i ON i.id = a.invoice_id "
                                   "WHERE i.external_id = 'race-1'"),
                   0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(create_and_get),
      cmocka_unit_test(stored_verbatim),
      cmocka_unit_test(days_overdue_and_status),
      cmocka_unit_test(list_filters_and_pages),
      cmocka_unit_test(list_errors_test),
      cmocka_unit_test(create_errors),
      cmocka_unit_test(item_errors_test),
      cmocka_unit_test(patch_fields_and_if_match),
      cmocka_unit_test(void_and_write_off),
      cmocka_unit_test(upsert),
      cmocka_unit_test(upsert_errors),
      cmocka_unit_test(concurrent_upserts),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
