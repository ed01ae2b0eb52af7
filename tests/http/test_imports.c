/* POST /v1/imports and its job: CSV of customers, invoices and payments
 * upserted by external_id; per-row errors; all_or_nothing and valid_rows;
 * progress while the job runs; unreadable CSV; the request's own errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arc/config.h"
#include "arc/imports.h"
#include "harness.h"

static struct config g_cfg;
static struct import_worker *g_worker;

static int setup(void **state)
{
  /* Small enough to test 413 with a few MB; the worker looks every second. */
  setenv("ARC_IMPORT_MAX_BYTES", "8388608", 1);
  setenv("ARC_IMPORT_POLL_S", "1", 1);
  if (harness_setup(state) != 0 || config_load(&g_cfg) != 0)
    return -1;
  g_worker = import_worker_start(&g_cfg);
  return g_worker ? 0 : -1;
}

static int teardown(void **state)
{
  import_worker_stop(g_worker);
  config_free(&g_cfg);
  return harness_teardown(state);
}

static long post_csv(struct http_resp *r, const char *query, enum role who, const char *csv)
{
  char path[256];
  snprintf(path, sizeof path, "/v1/imports%s", query);
  return http_raw(r, "POST", path, who, csv, strlen(csv), "text/csv", NULL);
}

/* Uploads CSV, expects 202, waits for the job; returns its document. */
static json_t *import_ok(const char *query, const char *csv)
{
  struct http_resp r = {0};
  post_csv(&r, query, ROLE_INTEGRATION, csv);
  if (r.status != 202)
    fprintf(stderr, "%s\n", r.body ? r.body : "");
  assert_status(&r, 202);
  char loc[64];
  snprintf(loc, sizeof loc, "/v1/imports/%s", jstr(r.json, "id"));
  assert_string_equal(r.location, loc);
  char id[24];
  snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
  http_resp_clear(&r);
  return import_wait(id);
}

/* The job's errors as "row:field:message" lines, all pages (limit 2). */
static char *errors_of(const char *id)
{
  size_t cap = 1 << 16, used = 0;
  char *out = calloc(1, cap);
  char cursor[32] = "";
  for (;;) {
    struct http_resp r = {0};
    if (*cursor)
      httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/imports/%s/errors?limit=2&cursor=%s", id, cursor);
    else
      httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/imports/%s/errors?limit=2", id);
    assert_status(&r, 200);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r.json, "data"), i, e)
    {
      const char *field = json_string_value(json_object_get(e, "field"));
      used += (size_t)snprintf(out + used, cap - used, "%lld:%s:%s\n", jint(e, "row"), field ? field : "-",
                               jstr(e, "message"));
    }
    json_t *next = json_object_get(r.json, "next_cursor");
    int more = json_is_string(next);
    if (more)
      snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
    http_resp_clear(&r);
    if (!more)
      break;
  }
  return out;
}

static void assert_contains(const char *hay, const char *needle)
{
  if (!strstr(hay, needle))
    fail_msg("expected to find \"%s\" in:\n%s", needle, hay);
}

static void test_customers(void **state)
{
  (void)state;
  /* An export as spreadsheets write it: a BOM, CRLF line ends, quotes
   * around fields holding commas, doubled quotes, a line break. */
  const char *csv = "\xEF\xBB\xBF" "external_id,name,kind,email,preferred_contact_days,cadence_days,notes\r\n"
                    "imp-c1,\"Acme, Inc.\",commercial,ap@acme.example,\"mon,thu\",5,\"says \"\"hi\"\"\nand bye\"\r\n"
                    "imp-c2,Robert'); DROP TABLE customers;--,consumer,,,,\r\n"
                    "imp-c3,\"Zed\",,zed@zed.example,fri,,\r\n";
  json_t *job = import_ok("?kind=customers", csv);
  assert_string_equal(jstr(job, "status"), "succeeded");
  assert_string_equal(jstr(job, "mode"), "all_or_nothing");
  assert_int_equal(jint(job, "rows_total"), 3);
  assert_int_equal(jint(job, "rows_done"), 3);
  assert_int_equal(jint(job, "rows_applied"), 3);
  assert_int_equal(jint(job, "rows_failed"), 0);
  assert_string_equal(jstr(job, "created_by"), "integration:crm");
  json_decref(job);

  struct http_resp r = {0};
  http(&r, "GET", "/v1/customers?external_id=imp-c1", ROLE_VIEWER, NULL, NULL);
  json_t *c = json_array_get(json_object_get(r.json, "data"), 0);
  assert_string_equal(jstr(c, "name"), "Acme, Inc.");
  assert_string_equal(jstr(c, "notes"), "says \"hi\"\nand bye");
  assert_string_equal(jstr(c, "email"), "ap@acme.example");
  assert_int_equal(jint(c, "cadence_days"), 5);
  assert_int_equal(json_array_size(json_object_get(c, "preferred_contact_days")), 2);
  http_resp_clear(&r);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE external_id = 'imp-c2' "
                                   "AND name = 'Robert''); DROP TABLE customers;--' AND kind = 'consumer' "
                                   "AND email IS NULL"), 1);
  /* An empty kind is the default; every new customer has its event. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE external_id = 'imp-c3' AND kind = 'commercial'"),
                   1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events e JOIN customers c ON e.resource_id = c.id::text "
                                   "WHERE e.type = 'customer.created' AND c.external_id LIKE 'imp-c%%' "
                                   "AND e.actor = 'integration:crm' AND e.data->>'name' = c.name"), 3);

  /* Again, as an upsert: imp-c1 changes (an empty email clears it, an
   * absent column leaves notes alone), imp-c3 is the same as before. */
  const char *again = "external_id,name,email,cadence_days\n"
                      "imp-c1,\"Acme, Inc.\",,7\n"
                      "imp-c3,Zed,zed@zed.example,\n";
  long long v3 = harness_sql_int("SELECT version FROM customers WHERE external_id = 'imp-c3'");
  job = import_ok("?kind=customers&mode=valid_rows", again);
  assert_string_equal(jstr(job, "status"), "succeeded");
  assert_int_equal(jint(job, "rows_applied"), 2);
  json_decref(job);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE external_id = 'imp-c1' AND email IS NULL "
                                   "AND cadence_days = 7 AND notes LIKE 'says%%' AND version = 2"), 1);
  assert_int_equal(harness_sql_int("SELECT version FROM customers WHERE external_id = 'imp-c3'"), v3);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events e JOIN customers c ON e.resource_id = c.id::text "
                                   "WHERE e.type = 'customer.updated' AND c.external_id LIKE 'imp-c%%'"), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE external_id LIKE 'imp-c%%'"), 3);
}

/* One file with good rows and rows wrong in every way a cell can be. */
static const char *mixed_customers =
    "external_id,name,kind,email,timezone,preferred_contact_days,cadence_days,cease_communication\n"
    "mix-1,Good One,commercial,a@b.example,Europe/Paris,mon,3,false\n"                 /* row 2 */
    "mix-2,,retail,not-an-email,Mars/Olympus,funday,0,maybe\n"                          /* row 3 */
    "mix-1,Twice,,,,,,\n"                                                               /* row 4 */
    ",No Id,,,,,,\n"                                                                    /* row 5 */
    "mix-5,Good Two,consumer,,UTC,\"thu, fri\",99999999999999999999,yes\n"             /* row 6 */
    "mix-6,Good Three,,,,\"mon,mon\",3.5,\n";                                           /* row 7 */

static void check_mixed_errors(const char *id)
{
  char *e = errors_of(id);
  assert_contains(e, "3:name:is required\n");
  assert_contains(e, "3:kind:must be one of: commercial, consumer\n");
  assert_contains(e, "3:email:must be an e-mail address\n");
  assert_contains(e, "3:timezone:");
  assert_contains(e, "3:preferred_contact_days:");
  assert_contains(e, "3:cadence_days:must be an integer between 1 and 365\n");
  assert_contains(e, "3:cease_communication:");
  assert_contains(e, "4:external_id:repeats the external_id of row 2\n");
  assert_contains(e, "5:external_id:is required\n");
  assert_contains(e, "6:cadence_days:");
  assert_contains(e, "7:preferred_contact_days:");
  assert_contains(e, "7:cadence_days:");
  /* File order, whatever order they were found in. */
  assert_true(strstr(e, "3:name") < strstr(e, "4:external_id"));
  assert_true(strstr(e, "4:external_id") < strstr(e, "5:external_id"));
  free(e);
}

static void test_all_or_nothing(void **state)
{
  (void)state;
  long long before = harness_sql_int("SELECT count(*) FROM customers");
  long long events = harness_sql_int("SELECT count(*) FROM events");
  json_t *job = import_ok("?kind=customers&mode=all_or_nothing", mixed_customers);
  assert_string_equal(jstr(job, "status"), "failed");
  assert_int_equal(jint(job, "rows_total"), 6);
  assert_int_equal(jint(job, "rows_done"), 6);
  assert_int_equal(jint(job, "rows_applied"), 0);
  assert_int_equal(jint(job, "rows_failed"), 5);
  assert_true(jint(job, "error_count") >= 12);
  check_mixed_errors(jstr(job, "id"));
  json_decref(job);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers"), before);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events"), events);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM import_customer_rows"), 0);
}

static void test_valid_rows(void **state)
{
  (void)state;
  json_t *job = import_ok("?kind=customers&mode=valid_rows", mixed_customers);
  assert_string_equal(jstr(job, "status"), "partially_applied");
  assert_int_equal(jint(job, "rows_applied"), 1);
  assert_int_equal(jint(job, "rows_failed"), 5);
  check_mixed_errors(jstr(job, "id"));
  json_decref(job);
  /* Row 2 only: the first mix-1, not the repeat. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE external_id LIKE 'mix-%%'"), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE external_id = 'mix-1' AND name = 'Good One' "
                                   "AND timezone = 'Europe/Paris'"), 1);

  /* Every row bad: nothing to apply is a failure. */
  job = import_ok("?kind=customers&mode=valid_rows", "external_id,name\n,x\n");
  assert_string_equal(jstr(job, "status"), "failed");
  json_decref(job);
}

static void test_invoices(void **state)
{
  (void)state;
  json_t *job = import_ok("?kind=customers", "external_id,name\ninv-cust,Invoice Co\ninv-other,Other Co\n");
  json_decref(job);
  char today[16], later[16];
  day(today, 0);
  day(later, 30);
  char csv[2048];
  snprintf(csv, sizeof csv,
           "external_id,customer_external_id,number,currency,amount,issued_on,due_on,po_number,description,factored\n"
           "inv-1,inv-cust,INV-1,USD,125000,%s,%s,PO-9,\"Widgets, blue\",no\n"
           "inv-2,inv-cust,INV-2,EUR,500,%s,%s,,,true\n",
           today, later, today, later);
  job = import_ok("?kind=invoices", csv);
  assert_string_equal(jstr(job, "status"), "succeeded");
  json_decref(job);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices i JOIN customers c ON c.id = i.customer_id "
                                   "WHERE c.external_id = 'inv-cust' AND i.number = 'INV-1' AND i.amount = 125000 "
                                   "AND i.balance = 125000 AND i.po_number = 'PO-9' AND i.description = 'Widgets, blue' "
                                   "AND NOT i.factored"), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices WHERE number = 'INV-2' AND factored"), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE type = 'invoice.created' "
                                   "AND data->>'number' IN ('INV-1', 'INV-2')"), 2);

  /* The same invoice with a new amount: an "external sync" correction, as
   * PUT /v1/invoices/external/{id} makes; the customer_id column works too. */
  long long cust = harness_sql_int("SELECT id FROM customers WHERE external_id = 'inv-cust'");
  snprintf(csv, sizeof csv,
           "external_id,customer_id,number,currency,amount,issued_on,due_on\n"
           "inv-1,%lld,INV-1,USD,120000,%s,%s\n",
           cust, today, later);
  job = import_ok("?kind=invoices", csv);
  assert_string_equal(jstr(job, "status"), "succeeded");
  json_decref(job);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices WHERE number = 'INV-1' AND amount = 120000 "
                                   "AND balance = 120000 AND original_amount = 125000 AND po_number = 'PO-9'"), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoice_adjustments a JOIN invoices i ON i.id = a.invoice_id "
                                   "WHERE i.number = 'INV-1' AND a.kind = 'correction' AND a.amount = -5000 "
                                   "AND a.reason = 'external sync'"), 1);

  /* Errors an invoice row can have. */
  snprintf(csv, sizeof csv,
           "external_id,customer_external_id,number,currency,amount,issued_on,due_on\n"
           "inv-3,nobody,INV-3,USD,100,%s,%s\n"            /* 2: no such customer */
           "inv-4,inv-cust,INV-1,USD,100,%s,%s\n"          /* 3: number of inv-1 */
           "inv-5,inv-cust,INV-5,usd,12.50,%s,%s\n"        /* 4: currency, amount */
           "inv-6,inv-cust,INV-6,USD,9007199254740992,2026-02-30,%s\n" /* 5: amount, issued_on */
           "inv-7,inv-cust,INV-7,USD,100,%s,%s\n"          /* 6: due before issued */
           "inv-1,inv-other,INV-1,EUR,100,%s,%s\n"         /* 7: another customer's, another currency */
           "inv-8,inv-cust,INV-8,USD,-3,%s,%s\n",          /* 8: amount */
           today, later, today, later, today, later, later, later, today, today, later, today, later);
  long long invoices = harness_sql_int("SELECT count(*) FROM invoices");
  job = import_ok("?kind=invoices&mode=valid_rows", csv);
  assert_string_equal(jstr(job, "status"), "failed");
  char *e = errors_of(jstr(job, "id"));
  json_decref(job);
  assert_contains(e, "2:customer_external_id:names no customer\n");
  assert_contains(e, "3:number:is already the number of another invoice\n");
  assert_contains(e, "4:currency:");
  assert_contains(e, "4:amount:must be an integer number of minor units (cents), not a fraction\n");
  assert_contains(e, "5:amount:must be between 1 and 9007199254740991\n");
  assert_contains(e, "5:issued_on:must be a date YYYY-MM-DD\n");
  assert_contains(e, "6:due_on:must be on or after issued_on");
  assert_contains(e, "7:customer_external_id:the invoice with this external_id belongs to another customer\n");
  assert_contains(e, "7:currency:the invoice with this external_id is in USD\n");
  assert_contains(e, "8:amount:must be between 1 and 9007199254740991\n");
  free(e);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices"), invoices);
}

static void test_payments(void **state)
{
  (void)state;
  json_t *job = import_ok("?kind=customers", "external_id,name\npay-cust,Payer\n");
  json_decref(job);
  char today[16], old[16], older[16], tomorrow[16];
  day(today, 0);
  day(old, -40);
  day(older, -50);
  day(tomorrow, 1);
  char csv[2048];
  snprintf(csv, sizeof csv,
           "external_id,customer_external_id,number,currency,amount,issued_on,due_on\n"
           "pay-i1,pay-cust,PAY-1,USD,1000,%s,%s\n"
           "pay-i2,pay-cust,PAY-2,USD,3000,%s,%s\n",
           older, old, older, today);
  job = import_ok("?kind=invoices", csv);
  assert_string_equal(jstr(job, "status"), "succeeded");
  json_decref(job);

  /* P1 names PAY-2 by number; P2 names none: the oldest open invoice first. */
  snprintf(csv, sizeof csv,
           "external_id,customer_external_id,amount,currency,received_on,method,reference,invoice_number\n"
           "pay-p1,pay-cust,2000,USD,%s,check,\"chk 12, batch 3\",PAY-2\n"
           "pay-p2,pay-cust,1500,USD,%s,ach,,\n",
           today, today);
  job = import_ok("?kind=payments", csv);
  assert_string_equal(jstr(job, "status"), "succeeded");
  assert_int_equal(jint(job, "rows_applied"), 2);
  json_decref(job);
  assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE number = 'PAY-2'"), 500);
  assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE number = 'PAY-1'"), 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payments WHERE external_id = 'pay-p1' "
                                   "AND reference = 'chk 12, batch 3' AND unapplied = 0 AND version = 1"), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payments p JOIN payment_allocations a ON a.payment_id = p.id "
                                   "JOIN invoices i ON i.id = a.invoice_id WHERE p.external_id = 'pay-p2' "
                                   "AND ((i.number = 'PAY-1' AND a.amount = 1000) OR (i.number = 'PAY-2' AND a.amount = 500))"),
                   2);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE type = 'payment.received' "
                                   "AND data->>'external_id' IN ('pay-p1', 'pay-p2')"), 2);

  /* The same file again changes nothing (an idempotent upsert); a payment
   * that disagrees on its amount is refused as PUT refuses it, found by
   * applying its batch row by row; one in the future is refused upfront. */
  long long events = harness_sql_int("SELECT count(*) FROM events");
  snprintf(csv, sizeof csv,
           "external_id,customer_external_id,amount,currency,received_on,method,reference,invoice_number\n"
           "pay-p1,pay-cust,2000,USD,%s,check,\"chk 12, batch 3\",PAY-2\n"
           "pay-p2,pay-cust,1600,USD,%s,ach,,\n"
           "pay-p3,pay-cust,100,USD,%s,wire,,\n"
           "pay-p4,pay-cust,100,USD,%s,bitcoin,,NOPE\n",
           today, today, tomorrow, today);
  job = import_ok("?kind=payments&mode=valid_rows", csv);
  assert_string_equal(jstr(job, "status"), "partially_applied");
  assert_int_equal(jint(job, "rows_applied"), 1);
  char *e = errors_of(jstr(job, "id"));
  json_decref(job);
  assert_contains(e, "3:amount:payment pay-p2 was recorded with amount USD 15.00; reverse it to change the amount\n");
  assert_contains(e, "4:received_on:must not be later than today\n");
  assert_contains(e, "5:method:must be one of: ach, wire, check, card, cash, other\n");
  assert_contains(e, "5:invoice_number:names no invoice\n");
  free(e);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events"), events);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payments WHERE external_id LIKE 'pay-p%%'"), 2);
  assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE number = 'PAY-2'"), 500);
}

static void test_bad_csv(void **state)
{
  (void)state;
  static const struct {
    const char *label, *csv, *message;
    long long row;
  } cases[] = {
      /* PostgreSQL names the line it stopped at: the end of the file. */
      {"unterminated quote", "external_id,name\nb-1,ok\nb-2,\"never closed\n", "unterminated CSV quoted field", 4},
      {"ragged row", "external_id,name\nb-1,ok\nb-2,ok,extra\n", "extra data after last expected column", 3},
      {"short row", "external_id,name\nb-1\n", "missing data for column", 2},
      {"invalid UTF-8", "external_id,name\nb-1,ok\nb-2,caf\xC3(\n", "invalid byte sequence", 3},
  };
  long long before = harness_sql_int("SELECT count(*) FROM customers");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct http_resp r = {0};
    post_csv(&r, "?kind=customers&mode=valid_rows", ROLE_ADMIN, cases[i].csv);
    if (r.status != 202)
      fail_msg("%s: %ld %s", cases[i].label, r.status, r.body);
    /* Refused while uploading: the job is failed from the start. */
    assert_string_equal(jstr(r.json, "status"), "failed");
    const char *err = jstr(r.json, "error");
    if (!strstr(err, cases[i].message))
      fail_msg("%s: %s", cases[i].label, err);
    char *e = errors_of(jstr(r.json, "id"));
    char want[32];
    snprintf(want, sizeof want, "%lld:-:", cases[i].row);
    if (!strstr(e, want))
      fail_msg("%s: expected row %lld in %s", cases[i].label, cases[i].row, e);
    free(e);
    http_resp_clear(&r);
  }
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers"), before);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM import_customer_rows"), 0);
}

static void test_request_errors(void **state)
{
  (void)state;
  long long jobs = harness_sql_int("SELECT count(*) FROM imports");
  struct http_resp r = {0};
  const char *csv = "external_id,name\nx,y\n";
  http_raw(&r, "POST", "/v1/imports?kind=customers", ROLE_ADMIN, csv, strlen(csv), "application/json", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  http_resp_clear(&r);
  http_raw(&r, "POST", "/v1/imports?kind=customers", ROLE_ADMIN, csv, strlen(csv), "text/plain", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  http_resp_clear(&r);
  http_raw(&r, "POST", "/v1/imports?kind=customers", ROLE_ADMIN, csv, strlen(csv), "text/csv; charset=latin1", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  http_resp_clear(&r);
  http_raw(&r, "POST", "/v1/imports?kind=customers", ROLE_ADMIN, csv, strlen(csv), "text/csv; charset=utf-8", NULL);
  assert_status(&r, 202);
  http_resp_clear(&r);
  jobs++;

  static const struct {
    const char *query, *csv, *field;
  } bad[] = {
      {"", "external_id,name\nx,y\n", "kind"},
      {"?kind=contacts", "external_id,name\nx,y\n", "kind"},
      {"?kind=customers&mode=some", "external_id,name\nx,y\n", "mode"},
      {"?kind=customers&dry_run=1", "external_id,name\nx,y\n", "dry_run"},
      {"?kind=customers", "external_id,name,emial\nx,y,z\n", "emial"},
      {"?kind=customers", "external_id,name,name\nx,y,z\n", "name"},
      {"?kind=customers", "external_id,email\nx,y\n", "name"},
      {"?kind=customers", "external_id,,name\nx,,y\n", "(header)[1]"},
      {"?kind=invoices", "external_id,number,currency,amount,issued_on,due_on\n", "customer_external_id"},
      {"?kind=payments", "external_id,customer_id,amount,currency,received_on\n", "method"},
      {"?kind=customers", "external_id,\"na,me\"\nx,y\n", "(header)"},
      {"?kind=customers", "", "(body)"},
      {"?kind=customers", "\xEF\xBB\xBF", "(body)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    post_csv(&r, bad[i].query, ROLE_ADMIN, bad[i].csv);
    if (r.status != 422)
      fail_msg("case %zu: %ld %s", i, r.status, r.body);
    assert_problem(&r, 422, "validation", bad[i].field);
    http_resp_clear(&r);
  }
  /* Several unknown columns are all named. */
  post_csv(&r, "?kind=customers", ROLE_ADMIN, "external_id,name,foo,bar\n");
  assert_problem(&r, 422, "validation", "foo");
  assert_problem(&r, 422, "validation", "bar");
  http_resp_clear(&r);

  /* Roles: managers, admins and integrations import; the others read. */
  post_csv(&r, "?kind=customers", ROLE_COLLECTOR, csv);
  assert_problem(&r, 403, "forbidden", NULL);
  http_resp_clear(&r);
  post_csv(&r, "?kind=customers", ROLE_VIEWER, csv);
  assert_problem(&r, 403, "forbidden", NULL);
  http_resp_clear(&r);
  post_csv(&r, "?kind=customers", NO_KEY, csv);
  assert_problem(&r, 401, "unauthorized", NULL);
  http_resp_clear(&r);
  post_csv(&r, "?kind=customers", ROLE_MANAGER, csv);
  assert_status(&r, 202);
  http_resp_clear(&r);
  jobs++;

  /* Larger than ARC_IMPORT_MAX_BYTES (8 MiB here): announced, and chunked. */
  size_t n = (8u << 20) + 10;
  char *big = malloc(n);
  memset(big, 'a', n);
  memcpy(big, "external_id,name\n", 17);
  http_raw(&r, "POST", "/v1/imports?kind=customers", ROLE_ADMIN, big, n, "text/csv", NULL);
  assert_problem(&r, 413, "payload-too-large", NULL);
  http_resp_clear(&r);
  const char *const chunked[] = {"Transfer-Encoding: chunked", NULL};
  http_raw(&r, "POST", "/v1/imports?kind=customers", ROLE_ADMIN, big, n, "text/csv", chunked);
  assert_problem(&r, 413, "payload-too-large", NULL);
  http_resp_clear(&r);
  free(big);
  /* A header row that never ends. */
  n = 70 * 1024;
  big = malloc(n);
  memset(big, 'a', n);
  http_raw(&r, "POST", "/v1/imports?kind=customers", ROLE_ADMIN, big, n, "text/csv", NULL);
  assert_problem(&r, 422, "validation", "(header)");
  http_resp_clear(&r);
  free(big);

  assert_int_equal(harness_sql_int("SELECT count(*) FROM imports"), jobs);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM import_customer_rows WHERE import_id NOT IN "
                                   "(SELECT id FROM imports)"), 0);

  /* Reads. */
  http(&r, "GET", "/v1/imports/999999", ROLE_VIEWER, NULL, NULL);
  assert_problem(&r, 404, "not-found", NULL);
  http_resp_clear(&r);
  http(&r, "GET", "/v1/imports/999999/errors", ROLE_VIEWER, NULL, NULL);
  assert_problem(&r, 404, "not-found", NULL);
  http_resp_clear(&r);
  http(&r, "GET", "/v1/imports/abc", ROLE_VIEWER, NULL, NULL);
  assert_problem(&r, 404, "not-found", NULL);
  http_resp_clear(&r);
  http(&r, "GET", "/v1/imports?status=bogus", ROLE_VIEWER, NULL, NULL);
  assert_problem(&r, 422, "validation", "status");
  http_resp_clear(&r);
  http(&r, "GET", "/v1/imports?kind=customers&status=failed&limit=1", ROLE_COLLECTOR, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 1);
  assert_true(json_is_string(json_object_get(r.json, "next_cursor")));
  http_resp_clear(&r);
  http(&r, "GET", "/v1/imports", NO_KEY, NULL, NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  http_resp_clear(&r);
  http(&r, "DELETE", "/v1/imports/1", ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 405, "method-not-allowed", NULL);
  http_resp_clear(&r);
}

static void test_idempotency(void **state)
{
  (void)state;
  const char *csv = "external_id,name\nidem-1,Once\n";
  const char *const key[] = {"Idempotency-Key: import-once-1", NULL};
  struct http_resp a = {0}, b = {0}, c = {0};
  http_raw(&a, "POST", "/v1/imports?kind=customers", ROLE_ADMIN, csv, strlen(csv), "text/csv", key);
  assert_status(&a, 202);
  http_raw(&b, "POST", "/v1/imports?kind=customers", ROLE_ADMIN, csv, strlen(csv), "text/csv", key);
  assert_status(&b, 202);
  assert_string_equal(jstr(a.json, "id"), jstr(b.json, "id"));
  const char *other = "external_id,name\nidem-1,Twice\n";
  http_raw(&c, "POST", "/v1/imports?kind=customers", ROLE_ADMIN, other, strlen(other), "text/csv", key);
  assert_problem(&c, 422, "idempotency-key-reused", "Idempotency-Key");
  assert_int_equal(harness_sql_int("SELECT count(*) FROM imports WHERE columns = '{external_id,name}' "
                                   "AND id >= %s", jstr(a.json, "id")), 1);
  json_decref(import_wait(jstr(a.json, "id")));
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE external_id = 'idem-1' AND name = 'Once'"), 1);
  http_resp_clear(&a);
  http_resp_clear(&b);
  http_resp_clear(&c);
}

/* A large file: the job shows its progress while it runs. */
static void test_progress(void **state)
{
  (void)state;
  const int rows = 30000;
  size_t cap = (size_t)rows * 80 + 64, used = 0;
  char *csv = malloc(cap);
  used += (size_t)snprintf(csv + used, cap - used, "external_id,name,email,notes\n");
  for (int i = 0; i < rows; i++)
    used += (size_t)snprintf(csv + used, cap - used, "big-%d,\"Big %d, Ltd\",ap%d@big.example,\"x\"\"y\"\n", i, i, i);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  struct http_resp r = {0};
  http_raw(&r, "POST", "/v1/imports?kind=customers", ROLE_ADMIN, csv, used, "text/csv", NULL);
  assert_status(&r, 202);
  assert_int_equal(jint(r.json, "rows_total"), rows);
  char id[24];
  snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
  http_resp_clear(&r);
  free(csv);
  int seen_midway = 0;
  long long last_done = 0;
  for (;;) {
    httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/imports/%s", id);
    const char *st = jstr(r.json, "status");
    long long done = jint(r.json, "rows_done");
    assert_true(done >= last_done);
    last_done = done;
    if (strcmp(st, "running") == 0 && done > 0 && done < rows)
      seen_midway = 1;
    int over = strcmp(st, "queued") != 0 && strcmp(st, "running") != 0;
    if (over)
      assert_string_equal(st, "succeeded");
    http_resp_clear(&r);
    if (over)
      break;
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  fprintf(stderr, "imports: %d customers uploaded and imported in %.2f s (%.0f rows/s)\n", rows, s, rows / s);
  assert_true(seen_midway);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE external_id LIKE 'big-%%'"), rows);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM import_customer_rows"), 0);
}

/* A job interrupted by a stop or crash (still running, its lock free) is
 * run again by the next worker; one interrupted three times fails. */
static void test_resume(void **state)
{
  (void)state;
  import_worker_stop(g_worker);
  g_worker = NULL;
  struct http_resp r = {0};
  post_csv(&r, "?kind=customers", ROLE_ADMIN, "external_id,name\nres-1,Resumed\n");
  assert_status(&r, 202);
  char id[24];
  snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
  http_resp_clear(&r);
  post_csv(&r, "?kind=customers", ROLE_ADMIN, "external_id,name\nres-2,Given up\n");
  assert_status(&r, 202);
  char id2[24];
  snprintf(id2, sizeof id2, "%s", jstr(r.json, "id"));
  http_resp_clear(&r);
  /* As a crashed worker leaves them. */
  free(harness_sql("UPDATE imports SET status = 'running', attempts = 1, rows_done = 1 WHERE id = %s", id));
  free(harness_sql("UPDATE imports SET status = 'running', attempts = 3 WHERE id = %s", id2));
  g_worker = import_worker_start(&g_cfg);
  json_t *job = import_wait(id);
  assert_string_equal(jstr(job, "status"), "succeeded");
  assert_int_equal(jint(job, "attempts"), 2);
  json_decref(job);
  job = import_wait(id2);
  assert_string_equal(jstr(job, "status"), "failed");
  assert_non_null(strstr(jstr(job, "error"), "interrupted"));
  json_decref(job);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE external_id = 'res-1'"), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE external_id = 'res-2'"), 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM import_customer_rows"), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_customers),     cmocka_unit_test(test_all_or_nothing),
      cmocka_unit_test(test_valid_rows),    cmocka_unit_test(test_invoices),
      cmocka_unit_test(test_payments),      cmocka_unit_test(test_bad_csv),
      cmocka_unit_test(test_request_errors), cmocka_unit_test(test_idempotency),
      cmocka_unit_test(test_progress),      cmocka_unit_test(test_resume),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
