/* /v1/payment-plans (SPEC P7): making a plan (explicit and generated
 * schedules, every check on the body and on the data, one active plan per
 * customer and per invoice, also under concurrency), the invoice's in_plan,
 * installments filled by payments and un-filled by reversals, completion
 * and reopening, cancelling and annotating, lists, the call sheet, events,
 * roles, and the sweep's rules replayed day by day with as_of: a plan
 * kept, a miss caught up, a plan defaulted. */
#include "harness.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COLLECTOR "maria@example.com"

/* ---------------------------------------------------------------- helpers */

static void new_customer(char out[32], const char *name, const char *extra)
{
  char body[512];
  snprintf(body, sizeof body, "{\"name\": \"%s\", \"collector\": \"" COLLECTOR "\"%s%s}", name, *extra ? ", " : "",
           extra);
  json_t *j = create_ok("/v1/customers", body);
  snprintf(out, 32, "%s", jstr(j, "id"));
  json_decref(j);
}

/* Pays AMOUNT on INVOICE today; the payment's id goes to OUT (may be NULL). */
static void pay(char out[32], const char *cus, const char *invoice, long long amount)
{
  char body[512], today[16];
  day(today, 0);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": %lld, \"currency\": \"USD\", \"received_on\": \"%s\", "
           "\"method\": \"check\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": %lld}]}",
           cus, amount, today, invoice, amount);
  json_t *j = create_ok("/v1/payments", body);
  if (out)
    snprintf(out, 32, "%s", jstr(j, "id"));
  json_decref(j);
}

static void reverse(const char *payment)
{
  struct http_resp r = {0};
  httpf(&r, "POST", ROLE_ADMIN, "{\"reason\": \"check bounced\"}", "/v1/payments/%s/reversal", payment);
  assert_status(&r, 200);
  http_resp_clear(&r);
}

/* POST /v1/payment-plans as a manager; asserts 201; the id goes to OUT and
 * the document is returned (caller decrefs). */
static json_t *make_plan(char out[32], const char *body)
{
  struct http_resp r = {0};
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_status(&r, 201);
  snprintf(out, 32, "%s", jstr(r.json, "id"));
  json_t *j = json_incref(r.json);
  http_resp_clear(&r);
  return j;
}

/* A plan over one invoice with explicit installments of AMOUNT each, due
 * FIRST, FIRST + STEP, ... days from today. */
static void plan_over(char out[32], const char *cus, const char *inv, int n, long long amount, int first, int step,
                      const char *extra)
{
  char body[2048], due[16];
  int used = snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"installments\": [",
                      cus, inv);
  for (int i = 0; i < n; i++) {
    day(due, first + i * step);
    used += snprintf(body + used, sizeof body - (size_t)used, "%s{\"due_on\": \"%s\", \"amount\": %lld}",
                     i ? ", " : "", due, amount);
  }
  snprintf(body + used, sizeof body - (size_t)used, "]%s%s}", *extra ? ", " : "", extra);
  json_decref(make_plan(out, body));
}

/* GET PREFIX + ID + SUFFIX as a viewer; the document (caller decrefs). */
static json_t *get_json(const char *prefix, const char *id, const char *suffix)
{
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_VIEWER, NULL, "%s%s%s", prefix, id, suffix);
  assert_status(&r, 200);
  json_t *j = json_incref(r.json);
  http_resp_clear(&r);
  return j;
}

static json_t *get_plan(const char *id) { return get_json("/v1/payment-plans/", id, ""); }
static json_t *get_invoice(const char *id) { return get_json("/v1/invoices/", id, ""); }
static json_t *get_sheet(const char *customer) { return get_json("/v1/customers/", customer, "/call-sheet"); }

static json_t *installment(const json_t *plan, size_t i)
{
  return json_array_get(json_object_get(plan, "installments"), i);
}

static long long count_plans(void) { return harness_sql_int("SELECT count(*) FROM payment_plans"); }

/* Every plan, installment and invoice: "nothing changed". */
static const char *const plan_tables[] = {"payment_plans", "payment_plan_installments", "invoices", NULL};
static char *digest(void) { return tables_fingerprint(plan_tables); }

static void expect_unchanged(const char *before, const char *when)
{
  char *after = digest();
  if (strcmp(before, after) != 0)
    fail_msg("%s: a refused write changed plans, installments or invoices", when);
  free(after);
}


/* The sweep for 09:00 on today + DAYS; returns the run document. */
static json_t *sweep_doc(int days)
{
  char today[16];
  day(today, 0);
  return sweep_at_doc(today, days);
}

static void sweep(int days) { json_decref(sweep_doc(days)); }

static long long run_count(const json_t *run, const char *kind, const char *reason)
{
  return json_integer_value(json_object_get(json_object_get(run, kind), reason));
}

/* GET /v1/follow-ups/{id} of customer CUS's newest follow-up for REASON. */
static json_t *follow_up(const char *cus, const char *reason)
{
  char *id = harness_sql("SELECT max(id) FROM follow_ups WHERE customer_id = %s AND reason = '%s'", cus, reason);
  if (!id)
    fail_msg("customer %s has no %s follow-up", cus, reason);
  json_t *j = get_json("/v1/follow-ups/", id, "");
  free(id);
  return j;
}

static long long events_of(const char *type, const char *resource_id)
{
  return harness_sql_int("SELECT count(*) FROM events WHERE type = '%s' AND resource_id = '%s'", type, resource_id);
}

/* ------------------------------------------------------------- creating */

static void create_explicit(void **state)
{
  (void)state;
  char cus[32], a[32], b[32], id[32], body[1024], d1[16], d2[16], loc[64], ids[96];
  new_customer(cus, "Explicit Plan Ltd", "");
  new_invoice(a, .customer = cus, .amount = 10000, .issued_in = -60, .due_in = -30);
  new_invoice(b, .customer = cus, .amount = 5000, .issued_in = -60, .due_in = -30);
  day(d1, 7);
  day(d2, 21);
  long long va = harness_sql_int("SELECT version FROM invoices WHERE id = %s", a);
  long long updated_before = events_of("invoice.updated", a);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\", \"%s\"], \"installments\": ["
           "{\"due_on\": \"%s\", \"amount\": 6000}, {\"due_on\": \"%s\", \"amount\": 9000}], "
           "\"grace_days\": 5, \"max_missed\": 3, \"notes\": \"agreed with Pat on the phone\"}",
           cus, a, b, d1, d2);
  struct http_resp r = {0};
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_status(&r, 201);
  const json_t *p = r.json;
  snprintf(id, sizeof id, "%s", jstr(p, "id"));
  snprintf(loc, sizeof loc, "/v1/payment-plans/%s", id);
  assert_string_equal(r.location, loc);
  assert_string_equal(r.etag, "\"1\"");
  assert_string_equal(jstr(p, "customer_id"), cus);
  snprintf(ids, sizeof ids, "[\"%s\",\"%s\"]", a, b);
  expect_json(p, "invoice_ids", ids);
  assert_string_equal(jstr(p, "currency"), "USD");
  assert_int_equal(jint(p, "total"), 15000);
  assert_int_equal(jint(p, "paid_amount"), 0);
  assert_int_equal(jint(p, "remaining"), 15000);
  assert_int_equal(jint(p, "balance"), 15000);
  assert_true(is_null(p, "frequency"));
  assert_int_equal(jint(p, "grace_days"), 5);
  assert_int_equal(jint(p, "max_missed"), 3);
  assert_string_equal(jstr(p, "status"), "active");
  assert_int_equal(jint(p, "missed_count"), 0);
  assert_string_equal(jstr(p, "next_due_on"), d1);
  assert_string_equal(jstr(p, "notes"), "agreed with Pat on the phone");
  assert_string_equal(jstr(p, "created_by"), "manager@example.com");
  static const char *const unset[] = {"completed_at", "defaulted_at", "cancelled_at", "cancelled_by", "cancel_reason"};
  for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++)
    if (!is_null(p, unset[i]))
      fail_msg("%s should be null", unset[i]);
  assert_int_equal(jint(p, "version"), 1);
  assert_true(ts_shape_ok(jstr(p, "created_at")));
  assert_true(ts_shape_ok(jstr(p, "updated_at")));
  assert_int_equal(json_array_size(json_object_get(p, "installments")), 2);
  const char *dues[] = {d1, d2};
  const long long amounts[] = {6000, 9000};
  for (size_t i = 0; i < 2; i++) {
    json_t *in = installment(p, i);
    assert_true(json_is_string(json_object_get(in, "id")));
    assert_int_equal(jint(in, "seq"), (long long)i + 1);
    assert_string_equal(jstr(in, "due_on"), dues[i]);
    assert_int_equal(jint(in, "amount"), amounts[i]);
    assert_int_equal(jint(in, "paid_amount"), 0);
    assert_string_equal(jstr(in, "status"), "pending");
    assert_true(is_null(in, "missed_at"));
    assert_true(is_null(in, "paid_at"));
  }
  json_t *created = json_incref(r.json);
  httpf(&r, "GET", ROLE_INTEGRATION, NULL, "/v1/payment-plans/%s", id);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"1\"");
  assert_true(json_equal(r.json, created));
  json_decref(created);
  http_resp_clear(&r);

  /* The invoices are in the plan: a new version and an invoice.updated
   * event that says so. */
  json_t *inv = get_invoice(a);
  assert_true(json_is_true(json_object_get(inv, "in_plan")));
  assert_string_equal(jstr(inv, "plan_id"), id);
  assert_int_equal(jint(inv, "version"), va + 1);
  json_decref(inv);
  assert_int_equal(events_of("invoice.updated", a), updated_before + 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE type = 'invoice.updated' AND resource_id = '%s' "
                                   "AND data->>'in_plan' = 'true' AND data->>'plan_id' = '%s'",
                                   a, id),
                   1);
  assert_int_equal(events_of("payment_plan.created", id), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE type = 'payment_plan.created' AND resource_id = "
                                   "'%s' AND actor = 'manager@example.com' AND customer_id = %s "
                                   "AND jsonb_array_length(data->'installments') = 2",
                                   id, cus),
                   1);
  /* An invoice of another customer is not in it. */
  char other[32], oinv[32];
  new_customer(other, "Explicit Plan Other Ltd", "");
  new_invoice(oinv, .customer = other, .amount = 100, .issued_in = -60, .due_in = -30);
  inv = get_invoice(oinv);
  assert_false(json_is_true(json_object_get(inv, "in_plan")));
  assert_true(is_null(inv, "plan_id"));
  json_decref(inv);
}

/* Without grace_days and max_missed the playbook's defaults apply (3, 2);
 * an admin may make a plan too. */
static void create_defaults(void **state)
{
  (void)state;
  char cus[32], inv[32], due[16], body[512];
  new_customer(cus, "Default Terms Ltd", "");
  new_invoice(inv, .customer = cus, .amount = 700, .issued_in = -60, .due_in = -30);
  day(due, 0);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"installments\": [{\"due_on\": \"%s\", "
           "\"amount\": 700}], \"notes\": null}",
           cus, inv, due);
  json_t *p = create_ok("/v1/payment-plans", body);
  assert_int_equal(jint(p, "grace_days"), 3);
  assert_int_equal(jint(p, "max_missed"), 2);
  assert_true(is_null(p, "notes"));
  assert_string_equal(jstr(p, "created_by"), "admin@example.com");
  json_decref(p);
}

/* Generated schedules: weekly +7, biweekly +14, monthly from the first due
 * date with the end of shorter months; the remainder on the last. */
static void create_generated(void **state)
{
  (void)state;
  char first[16], body[512];
  day(first, 3);
  static const struct {
    const char *frequency;
    int step;
  } kinds[] = {{"weekly", 7}, {"biweekly", 14}};
  for (size_t k = 0; k < 2; k++) {
    char cus[32], inv[32], id[32];
    new_customer(cus, kinds[k].frequency, "");
    new_invoice(inv, .customer = cus, .amount = 10000, .issued_in = -60, .due_in = -30);
    snprintf(body, sizeof body,
             "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"count\": 3, \"frequency\": \"%s\", "
             "\"first_due_on\": \"%s\"}",
             cus, inv, kinds[k].frequency, first);
    json_t *p = make_plan(id, body);
    assert_string_equal(jstr(p, "frequency"), kinds[k].frequency);
    assert_int_equal(jint(p, "total"), 10000);
    static const long long want[] = {3333, 3333, 3334};
    for (size_t i = 0; i < 3; i++) {
      char due[16];
      day(due, 3 + (int)i * kinds[k].step);
      assert_string_equal(jstr(installment(p, i), "due_on"), due);
      assert_int_equal(jint(installment(p, i), "amount"), want[i]);
    }
    json_decref(p);
  }
  /* Monthly from the next 31 January: 31 Jan, end of February, 31 Mar, 30 Apr. */
  char *jan31 = harness_sql("SELECT to_char(min(d), 'YYYY-MM-DD') FROM generate_series((now() AT TIME ZONE '%s')::date, "
                            "(now() AT TIME ZONE '%s')::date + 400, interval '1 day') d "
                            "WHERE extract(month FROM d) = 1 AND extract(day FROM d) = 31",
                            tz(), tz());
  char *feb = harness_sql("SELECT to_char(('%s'::date + interval '1 month')::date, 'YYYY-MM-DD')", jan31);
  char year[8];
  snprintf(year, sizeof year, "%.4s", jan31);
  char cus[32], inv[32], id[32];
  new_customer(cus, "Monthly Ltd", "");
  new_invoice(inv, .customer = cus, .amount = 1000, .issued_in = -60, .due_in = -30);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"count\": 4, \"frequency\": \"monthly\", "
           "\"first_due_on\": \"%s\"}",
           cus, inv, jan31);
  json_t *p = make_plan(id, body);
  char want[4][16];
  snprintf(want[0], 16, "%s", jan31);
  snprintf(want[1], 16, "%s", feb);
  snprintf(want[2], 16, "%s-03-31", year);
  snprintf(want[3], 16, "%s-04-30", year);
  assert_true(strcmp(feb + 5, "02-28") == 0 || strcmp(feb + 5, "02-29") == 0);
  for (size_t i = 0; i < 4; i++) {
    assert_string_equal(jstr(installment(p, i), "due_on"), want[i]);
    assert_int_equal(jint(installment(p, i), "amount"), 250);
  }
  assert_string_equal(jstr(p, "next_due_on"), jan31);
  json_decref(p);
  free(jan31);
  free(feb);
  /* One installment per unit owed is the most there can be. */
  char small[32], sinv[32];
  new_customer(small, "Small Ltd", "");
  new_invoice(sinv, .customer = small, .amount = 3, .issued_in = -60, .due_in = -30);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"count\": 3, \"frequency\": \"weekly\", "
           "\"first_due_on\": \"%s\"}",
           small, sinv, first);
  p = make_plan(id, body);
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(jint(installment(p, i), "amount"), 1);
  json_decref(p);
}

/* Each row: a body that must be refused; "%s" stands for the invoice id. */
struct bad_body {
  const char *label;
  const char *fmt;
  long status;
  const char *problem, *field;
};

#define CUS "\"customer_id\": \"1\", "
#define INVS "\"invoice_ids\": [\"%s\"], "
#define ONE "\"installments\": [{\"due_on\": \"2999-01-01\", \"amount\": 100}]"

static const struct bad_body bad_creates[] = {
    {"customer_id missing", "{" INVS ONE "}", 422, "validation", "customer_id"},
    {"customer_id number", "{\"customer_id\": 1, " INVS ONE "}", 422, "validation", "customer_id"},
    {"customer_id injection", "{\"customer_id\": \"1; DROP TABLE payment_plans\", " INVS ONE "}", 422, "validation",
     "customer_id"},
    {"customer_id null", "{\"customer_id\": null, " INVS ONE "}", 422, "validation", "customer_id"},
    {"invoice_ids missing", "{" CUS ONE "}", 422, "validation", "invoice_ids"},
    {"invoice_ids empty", "{" CUS "\"invoice_ids\": [], " ONE "}", 422, "validation", "invoice_ids"},
    {"invoice_ids string", "{" CUS "\"invoice_ids\": \"%s\", " ONE "}", 422, "validation", "invoice_ids"},
    {"invoice_ids number item", "{" CUS "\"invoice_ids\": [5], " ONE "}", 422, "validation", "invoice_ids[0]"},
    {"invoice_ids bad item", "{" CUS "\"invoice_ids\": [\"%s\", \"x\"], " ONE "}", 422, "validation",
     "invoice_ids[1]"},
    {"invoice_ids null item", "{" CUS "\"invoice_ids\": [null], " ONE "}", 422, "validation", "invoice_ids[0]"},
    {"installments not array", "{" CUS INVS "\"installments\": {}}", 422, "validation", "installments"},
    {"installments empty", "{" CUS INVS "\"installments\": []}", 422, "validation", "installments"},
    {"installment not object", "{" CUS INVS "\"installments\": [5]}", 422, "validation", "installments[0]"},
    {"installment due_on missing", "{" CUS INVS "\"installments\": [{\"amount\": 100}]}", 422, "validation",
     "installments[0].due_on"},
    {"installment amount missing", "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-01-01\"}]}", 422, "validation",
     "installments[0].amount"},
    {"installment due_on bad", "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-02-30\", \"amount\": 1}]}", 422,
     "validation", "installments[0].due_on"},
    {"installment due_on number", "{" CUS INVS "\"installments\": [{\"due_on\": 20990101, \"amount\": 1}]}", 422,
     "validation", "installments[0].due_on"},
    {"installment amount 0", "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-01-01\", \"amount\": 0}]}", 422,
     "validation", "installments[0].amount"},
    {"installment amount negative", "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-01-01\", \"amount\": -5}]}",
     422, "validation", "installments[0].amount"},
    {"installment amount fraction", "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-01-01\", \"amount\": 10.5}]}",
     422, "validation", "installments[0].amount"},
    {"installment amount real", "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-01-01\", \"amount\": 10.0}]}", 422,
     "validation", "installments[0].amount"},
    {"installment amount exponent", "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-01-01\", \"amount\": 1e2}]}",
     422, "validation", "installments[0].amount"},
    {"installment amount string", "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-01-01\", \"amount\": \"10\"}]}",
     422, "validation", "installments[0].amount"},
    {"installment amount 2^53",
     "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-01-01\", \"amount\": 9007199254740992}]}", 422, "validation",
     "installments[0].amount"},
    {"installment amount past int64",
     "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-01-01\", \"amount\": 99999999999999999999}]}", 400,
     "malformed-json", NULL},
    {"installment unknown field",
     "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-01-01\", \"amount\": 1, \"paid\": true}]}", 422, "validation",
     "installments[0].paid"},
    {"installments same day",
     "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-01-01\", \"amount\": 1}, {\"due_on\": \"2999-01-01\", "
     "\"amount\": 1}]}",
     422, "validation", "installments[1].due_on"},
    {"installments descending",
     "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-01-02\", \"amount\": 1}, {\"due_on\": \"2999-01-03\", "
     "\"amount\": 1}, {\"due_on\": \"2999-01-01\", \"amount\": 1}]}",
     422, "validation", "installments[2].due_on"},
    {"both forms", "{" CUS INVS ONE ", \"count\": 2}", 422, "validation", "count"},
    {"both forms, all three",
     "{" CUS INVS ONE ", \"count\": 2, \"frequency\": \"weekly\", \"first_due_on\": \"2999-01-01\"}", 422,
     "validation", "first_due_on"},
    {"neither form", "{" CUS "\"invoice_ids\": [\"%s\"]}", 422, "validation", "installments"},
    {"count alone", "{" CUS INVS "\"count\": 2}", 422, "validation", "frequency"},
    {"count and frequency", "{" CUS INVS "\"count\": 2, \"frequency\": \"weekly\"}", 422, "validation",
     "first_due_on"},
    {"frequency and first", "{" CUS INVS "\"frequency\": \"weekly\", \"first_due_on\": \"2999-01-01\"}", 422,
     "validation", "count"},
    {"count 0", "{" CUS INVS "\"count\": 0, \"frequency\": \"weekly\", \"first_due_on\": \"2999-01-01\"}", 422,
     "validation", "count"},
    {"count 121", "{" CUS INVS "\"count\": 121, \"frequency\": \"weekly\", \"first_due_on\": \"2999-01-01\"}", 422,
     "validation", "count"},
    {"count real", "{" CUS INVS "\"count\": 2.0, \"frequency\": \"weekly\", \"first_due_on\": \"2999-01-01\"}", 422,
     "validation", "count"},
    {"count string", "{" CUS INVS "\"count\": \"2\", \"frequency\": \"weekly\", \"first_due_on\": \"2999-01-01\"}", 422,
     "validation", "count"},
    {"frequency bogus", "{" CUS INVS "\"count\": 2, \"frequency\": \"daily\", \"first_due_on\": \"2999-01-01\"}", 422,
     "validation", "frequency"},
    {"frequency upper", "{" CUS INVS "\"count\": 2, \"frequency\": \"WEEKLY\", \"first_due_on\": \"2999-01-01\"}", 422,
     "validation", "frequency"},
    {"first_due_on bad", "{" CUS INVS "\"count\": 2, \"frequency\": \"weekly\", \"first_due_on\": \"01/02/2999\"}", 422,
     "validation", "first_due_on"},
    {"grace_days -1", "{" CUS INVS ONE ", \"grace_days\": -1}", 422, "validation", "grace_days"},
    {"grace_days 61", "{" CUS INVS ONE ", \"grace_days\": 61}", 422, "validation", "grace_days"},
    {"grace_days string", "{" CUS INVS ONE ", \"grace_days\": \"3\"}", 422, "validation", "grace_days"},
    {"grace_days null", "{" CUS INVS ONE ", \"grace_days\": null}", 422, "validation", "grace_days"},
    {"max_missed 0", "{" CUS INVS ONE ", \"max_missed\": 0}", 422, "validation", "max_missed"},
    {"max_missed 101", "{" CUS INVS ONE ", \"max_missed\": 101}", 422, "validation", "max_missed"},
    {"max_missed huge", "{" CUS INVS ONE ", \"max_missed\": 9223372036854775807}", 422, "validation", "max_missed"},
    {"notes number", "{" CUS INVS ONE ", \"notes\": 5}", 422, "validation", "notes"},
    {"status given", "{" CUS INVS ONE ", \"status\": \"completed\"}", 422, "validation", "status"},
    {"total given", "{" CUS INVS ONE ", \"total\": 100}", 422, "validation", "total"},
    {"unknown field", "{" CUS INVS ONE ", \"colour\": \"red\"}", 422, "validation", "colour"},
    {"duplicate key", "{" CUS INVS ONE ", \"notes\": \"a\", \"notes\": \"b\"}", 400, "malformed-json", NULL},
    {"NUL in notes", "{" CUS INVS ONE ", \"notes\": \"a\\u0000b\"}", 400, "malformed-json", NULL},
    {"array body", "[1]", 422, "validation", "(body)"},
    {"string body", "\"plan\"", 400, "malformed-json", NULL},
    {"empty object", "{}", 422, "validation", "installments"},
    {"malformed", "{\"customer_id\": ", 400, "malformed-json", NULL},
    {"trailing garbage", "{" CUS INVS ONE "} x", 400, "malformed-json", NULL},
    {"amount 1e400", "{" CUS INVS "\"installments\": [{\"due_on\": \"2999-01-01\", \"amount\": 1e400}]}", 400,
     "malformed-json", NULL},
};

static void create_bad_bodies(void **state)
{
  (void)state;
  char cus[32], inv[32], body[2048];
  new_customer(cus, "Bad Bodies Ltd", "");
  new_invoice(inv, .customer = cus, .amount = 10000, .issued_in = -60, .due_in = -30);
  char *before = digest();
  long long n = count_plans();
  struct http_resp r = {0};
  for (size_t i = 0; i < sizeof bad_creates / sizeof bad_creates[0]; i++) {
    const struct bad_body *b = &bad_creates[i];
    fill_template(body, sizeof body, b->fmt, inv);
    http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
    if (r.status != b->status)
      fail_msg("[%s] expected %ld, got %ld: %s", b->label, b->status, r.status, r.body ? r.body : "");
    assert_problem(&r, b->status, b->problem, b->field);
  }
  /* Duplicated invoices, more than 100 invoices, more than 120 installments. */
  snprintf(body, sizeof body, "{" CUS "\"invoice_ids\": [\"%s\", \"%s\"], " ONE "}", inv, inv);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 422, "validation", "invoice_ids[1]");
  char *big = malloc(40100);
  int k = snprintf(big, 64, "{" CUS "\"invoice_ids\": [");
  for (int i = 0; i < 101; i++)
    k += snprintf(big + k, 32, "%s\"%d\"", i ? "," : "", i + 1);
  snprintf(big + k, 200, "], " ONE "}");
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, big, NULL);
  assert_problem(&r, 422, "validation", "invoice_ids");
  k = snprintf(big, 200, "{" CUS "\"invoice_ids\": [\"%s\"], \"installments\": [", inv);
  for (int i = 0; i < 121; i++)
    k += snprintf(big + k, 80, "%s{\"due_on\": \"2999-01-%02d\", \"amount\": 1}", i ? "," : "", i % 28 + 1);
  snprintf(big + k, 8, "]}");
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, big, NULL);
  assert_problem(&r, 422, "validation", "installments");
  /* Notes: at most 10000 characters, counted as characters. */
  k = snprintf(big, 200, "{" CUS INVS ONE ", \"notes\": \"", inv);
  for (int i = 0; i < 10001; i++) {
    memcpy(big + k, "\xce\xa9", 2);
    k += 2;
  }
  memcpy(big + k, "\"}", 3);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, big, NULL);
  assert_problem(&r, 422, "validation", "notes");
  free(big);
  /* Every bad field at once. */
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER,
       "{\"customer_id\": 7, \"invoice_ids\": [], \"installments\": [{\"due_on\": \"x\", \"amount\": 1.5}], "
       "\"count\": 0, \"grace_days\": 99, \"extra\": 1}",
       NULL);
  static const char *const all[] = {"extra", "customer_id", "invoice_ids", "installments[0].due_on",
                                    "installments[0].amount", "count", "grace_days"};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    assert_problem(&r, 422, "validation", all[i]);
  /* Invalid UTF-8, no body, wrong media type. */
  snprintf(body, sizeof body, "{" CUS INVS ONE ", \"notes\": \"\xff\xfe\"}", inv);
  http_raw(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, strlen(body), "application/json", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http_raw(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, NULL, 0, NULL, NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  snprintf(body, sizeof body, "{" CUS INVS ONE "}", inv);
  http_raw(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, strlen(body), "text/plain", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  http_resp_clear(&r);
  assert_int_equal(count_plans(), n);
  expect_unchanged(before, "bad bodies");
  free(before);
}

/* What only the data can tell: every problem named at once, 422 before
 * 409, and nothing written. */
static void create_refused_by_data(void **state)
{
  (void)state;
  char cus[32], other[32], ok[32], paid[32], voided[32], disputed[32], factored[32], euro[32], foreign[32], body[2048];
  char today[16], yesterday[16], soon[16], later[16];
  new_customer(cus, "Refused Plans Ltd", "");
  new_customer(other, "Someone Else Ltd", "");
  new_invoice(ok, .customer = cus, .amount = 10000, .issued_in = -60, .due_in = -30);
  new_invoice(paid, .customer = cus, .amount = 500, .issued_in = -60, .due_in = -30);
  pay(NULL, cus, paid, 500);
  new_invoice(voided, .customer = cus, .amount = 500, .issued_in = -60, .due_in = -30);
  new_invoice(disputed, .customer = cus, .amount = 500, .issued_in = -60, .due_in = -30);
  new_invoice(euro, .customer = cus, .currency = "EUR", .amount = 500, .issued_in = -60, .due_in = -30);
  new_invoice(foreign, .customer = other, .amount = 500, .issued_in = -60, .due_in = -30);
  char *fid = harness_sql("INSERT INTO invoices (customer_id, number, currency, original_amount, amount, balance, "
                          "issued_on, due_on, factored) VALUES (%s, 'PLN-F1', 'USD', 500, 500, 500, current_date - 60, "
                          "current_date - 30, true) RETURNING id",
                          cus);
  snprintf(factored, sizeof factored, "%s", fid);
  free(fid);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", voided);
  assert_status(&r, 200);
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 100}", disputed);
  json_decref(create_ok("/v1/disputes", body));
  day(today, 0);
  day(yesterday, -1);
  day(soon, 5);
  day(later, 10);
  char tiny[32];
  new_invoice(tiny, .customer = cus, .amount = 2, .issued_in = -60, .due_in = -30);
  char *before = digest();
  long long n = count_plans();

  /* Each invoice's problem, at its index; the past due date too. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\", \"999999999\", \"%s\", \"%s\", \"%s\", \"%s\", \"%s\", "
           "\"%s\", \"%s\"], \"installments\": [{\"due_on\": \"%s\", \"amount\": 5}, {\"due_on\": \"%s\", "
           "\"amount\": 5}]}",
           cus, ok, foreign, paid, voided, disputed, factored, euro, ok, yesterday, soon);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 422, "validation", "invoice_ids[8]"); /* listed twice: the shape check */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\", \"999999999\", \"%s\", \"%s\", \"%s\", \"%s\", \"%s\", "
           "\"%s\"], \"installments\": [{\"due_on\": \"%s\", \"amount\": 5}, {\"due_on\": \"%s\", \"amount\": 5}]}",
           cus, ok, foreign, paid, voided, disputed, factored, euro, yesterday, soon);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  static const char *const named[] = {"invoice_ids[1]", "invoice_ids[2]", "invoice_ids[3]", "invoice_ids[4]",
                                      "invoice_ids[5]", "invoice_ids[6]", "invoice_ids[7]", "installments[0].due_on"};
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
    assert_problem(&r, 422, "validation", named[i]);
  assert_int_equal(json_array_size(json_object_get(r.json, "errors")), 8);
  /* The messages say why. */
  char *text = json_dumps(json_object_get(r.json, "errors"), JSON_COMPACT);
  static const char *const why[] = {"no invoice with id 999999999", "belongs to another customer", "is paid",
                                    "is void", "open dispute", "factored", "a plan is in one currency",
                                    "must be today"};
  for (size_t i = 0; i < sizeof why / sizeof why[0]; i++)
    if (!strstr(text, why[i]))
      fail_msg("no error says \"%s\": %s", why[i], text);
  free(text);

  /* The installments must add up to what is owed; the detail shows both. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"installments\": [{\"due_on\": \"%s\", \"amount\": "
           "5000}, {\"due_on\": \"%s\", \"amount\": 4999}]}",
           cus, ok, soon, later);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 422, "validation", "installments");
  text = json_dumps(json_object_get(r.json, "errors"), JSON_COMPACT);
  if (!strstr(text, "add up to USD 99.99, but the covered invoices owe USD 100.00"))
    fail_msg("the sum error does not show both amounts as money: %s", text);
  free(text);
  /* More than owed, too. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"installments\": [{\"due_on\": \"%s\", \"amount\": "
           "10001}]}",
           cus, ok, soon);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 422, "validation", "installments");
  /* Generated: first_due_on in the past, more installments than units owed,
   * a schedule past 20 years. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"count\": 2, \"frequency\": \"weekly\", "
           "\"first_due_on\": \"%s\"}",
           cus, ok, yesterday);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 422, "validation", "first_due_on");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"count\": 3, \"frequency\": \"weekly\", "
           "\"first_due_on\": \"%s\"}",
           cus, tiny, today);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 422, "validation", "count");
  char far[16];
  day(far, 365 * 19);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"count\": 24, \"frequency\": \"monthly\", "
           "\"first_due_on\": \"%s\"}",
           cus, ok, far);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 422, "validation", "count");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"installments\": [{\"due_on\": \"2999-01-01\", "
           "\"amount\": 10000}]}",
           cus, ok);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 422, "validation", "installments[0].due_on");
  /* An unknown customer (its invoices are then another's). */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"999999999\", \"invoice_ids\": [\"%s\"], \"installments\": [{\"due_on\": \"%s\", "
           "\"amount\": 10000}]}",
           ok, soon);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  assert_problem(&r, 422, "validation", "invoice_ids[0]");
  http_resp_clear(&r);
  assert_int_equal(count_plans(), n);
  expect_unchanged(before, "refused by the data");
  free(before);
}

/* One active plan per invoice and per customer (409); a cancelled plan
 * frees both. */
static void one_active_plan(void **state)
{
  (void)state;
  char cus[32], a[32], b[32], id[32], body[1024], soon[16], path[64];
  new_customer(cus, "One Plan Ltd", "");
  new_invoice(a, .customer = cus, .amount = 1000, .issued_in = -60, .due_in = -30);
  new_invoice(b, .customer = cus, .amount = 2000, .issued_in = -60, .due_in = -30);
  plan_over(id, cus, a, 1, 1000, 5, 0, "");
  day(soon, 5);
  char *before = digest();
  struct http_resp r = {0};
  /* The same invoice again: 409 naming it, and the customer. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\", \"%s\"], \"installments\": [{\"due_on\": \"%s\", "
           "\"amount\": 3000}]}",
           cus, b, a, soon);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 409, "conflict", "invoice_ids[1]");
  assert_problem(&r, 409, "conflict", "customer_id");
  if (!strstr(jstr(r.json, "detail"), "already in payment plan"))
    fail_msg("detail: %s", jstr(r.json, "detail"));
  /* Another invoice of the same customer: one active plan per customer. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"installments\": [{\"due_on\": \"%s\", "
           "\"amount\": 2000}]}",
           cus, b, soon);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 409, "conflict", "customer_id");
  /* A problem with the request itself comes first: 422. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"installments\": [{\"due_on\": \"%s\", "
           "\"amount\": 1}]}",
           cus, a, soon);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 422, "validation", "installments");
  expect_unchanged(before, "second plan");
  free(before);
  /* Cancelled, the old plan frees the invoice and the customer. */
  snprintf(path, sizeof path, "/v1/payment-plans/%s", id);
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"status\": \"cancelled\", \"cancel_reason\": \"new arrangement\"}", NULL);
  assert_status(&r, 200);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\", \"%s\"], \"installments\": [{\"due_on\": \"%s\", "
           "\"amount\": 3000}]}",
           cus, b, a, soon);
  http(&r, "POST", "/v1/payment-plans", ROLE_MANAGER, body, NULL);
  assert_status(&r, 201);
  assert_int_equal(jint(r.json, "total"), 3000);
  http_resp_clear(&r);
}

/* ------------------------------------------------------ filling, money */

/* Payments fill installments in order (partial ones shown); a reversal
 * un-fills; paid off, the plan completes and the invoices leave it; a
 * bounced payment reopens it. */
static void filling_and_completion(void **state)
{
  (void)state;
  char cus[32], a[32], b[32], id[32], body[1024], d1[16], d2[16], d3[16], p1[32], p2[32], p3[32];
  new_customer(cus, "Filling Ltd", "");
  new_invoice(a, .customer = cus, .amount = 6000, .issued_in = -60, .due_in = -30);
  new_invoice(b, .customer = cus, .amount = 4000, .issued_in = -60, .due_in = -30);
  /* Paid before the plan: already off what the plan covers. */
  pay(NULL, cus, a, 1000);
  day(d1, 10);
  day(d2, 20);
  day(d3, 30);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\", \"%s\"], \"installments\": [{\"due_on\": \"%s\", "
           "\"amount\": 3000}, {\"due_on\": \"%s\", \"amount\": 3000}, {\"due_on\": \"%s\", \"amount\": 3000}]}",
           cus, a, b, d1, d2, d3);
  json_decref(make_plan(id, body));

  pay(p1, cus, a, 2000);
  json_t *p = get_plan(id);
  assert_int_equal(jint(p, "paid_amount"), 2000);
  assert_int_equal(jint(p, "remaining"), 7000);
  assert_int_equal(jint(p, "balance"), 7000);
  assert_int_equal(jint(installment(p, 0), "paid_amount"), 2000);
  assert_string_equal(jstr(installment(p, 0), "status"), "pending");
  assert_int_equal(jint(installment(p, 1), "paid_amount"), 0);
  assert_string_equal(jstr(p, "next_due_on"), d1);
  assert_int_equal(jint(p, "version"), 2);
  json_decref(p);
  assert_int_equal(events_of("payment_plan.updated", id), 1);

  /* Over the first installment into the second, on the other invoice. */
  pay(p2, cus, b, 2500);
  p = get_plan(id);
  assert_int_equal(jint(p, "paid_amount"), 4500);
  assert_int_equal(jint(installment(p, 0), "paid_amount"), 3000);
  assert_string_equal(jstr(installment(p, 0), "status"), "paid");
  assert_true(ts_shape_ok(jstr(installment(p, 0), "paid_at")));
  assert_true(is_null(installment(p, 0), "missed_at"));
  assert_int_equal(jint(installment(p, 1), "paid_amount"), 1500);
  assert_string_equal(jstr(installment(p, 1), "status"), "pending");
  assert_string_equal(jstr(p, "next_due_on"), d2);
  json_decref(p);

  /* Bounced: back to what the first payment alone paid. */
  reverse(p1);
  p = get_plan(id);
  assert_int_equal(jint(p, "paid_amount"), 2500);
  assert_int_equal(jint(installment(p, 0), "paid_amount"), 2500);
  assert_string_equal(jstr(installment(p, 0), "status"), "pending");
  assert_true(is_null(installment(p, 0), "paid_at"));
  assert_int_equal(jint(installment(p, 1), "paid_amount"), 0);
  assert_string_equal(jstr(p, "next_due_on"), d1);
  json_decref(p);

  /* Paid off: completed at once, the invoices leave the plan. */
  long long va = harness_sql_int("SELECT version FROM invoices WHERE id = %s", a);
  pay(p3, cus, a, 5000);
  p = get_plan(id);
  assert_string_equal(jstr(p, "status"), "active");
  assert_int_equal(jint(p, "paid_amount"), 7500);
  json_decref(p);
  pay(NULL, cus, b, 1500);
  p = get_plan(id);
  assert_string_equal(jstr(p, "status"), "completed");
  assert_true(ts_shape_ok(jstr(p, "completed_at")));
  assert_int_equal(jint(p, "paid_amount"), 9000);
  assert_int_equal(jint(p, "remaining"), 0);
  assert_int_equal(jint(p, "balance"), 0);
  assert_true(is_null(p, "next_due_on"));
  for (size_t i = 0; i < 3; i++)
    assert_string_equal(jstr(installment(p, i), "status"), "paid");
  json_decref(p);
  assert_int_equal(events_of("payment_plan.completed", id), 1);
  json_t *inv = get_invoice(a);
  assert_false(json_is_true(json_object_get(inv, "in_plan")));
  assert_true(is_null(inv, "plan_id"));
  assert_string_equal(jstr(inv, "status"), "paid");
  assert_true(jint(inv, "version") > va);
  json_decref(inv);
  /* The invoice's last event already shows it out of the plan. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE resource_type = 'invoice' AND resource_id = '%s' "
                                   "AND id = (SELECT max(id) FROM events WHERE resource_type = 'invoice' "
                                   "AND resource_id = '%s') AND data->>'in_plan' = 'false'",
                                   a, a),
                   1);

  /* A bounced payment un-fills it while the invoice owes again: active
   * again, the invoices back in it. */
  reverse(p3);
  p = get_plan(id);
  assert_string_equal(jstr(p, "status"), "active");
  assert_true(is_null(p, "completed_at"));
  assert_int_equal(jint(p, "paid_amount"), 4000);
  assert_string_equal(jstr(installment(p, 1), "status"), "pending");
  json_decref(p);
  assert_int_equal(events_of("payment_plan.reopened", id), 1);
  inv = get_invoice(a);
  assert_true(json_is_true(json_object_get(inv, "in_plan")));
  assert_string_equal(jstr(inv, "plan_id"), id);
  json_decref(inv);
  inv = get_invoice(b);
  assert_true(json_is_true(json_object_get(inv, "in_plan")));
  json_decref(inv);
}

/* Credits lower what is owed without filling installments: a plan whose
 * invoices owe nothing any more is completed all the same. */
static void credit_completes(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32];
  new_customer(cus, "Credited Ltd", "");
  new_invoice(inv, .customer = cus, .amount = 3000, .issued_in = -60, .due_in = -30);
  plan_over(id, cus, inv, 3, 1000, 7, 7, "");
  pay(NULL, cus, inv, 1000);
  struct http_resp r = {0};
  httpf(&r, "POST", ROLE_ADMIN, "{\"kind\": \"credit\", \"amount\": -2000, \"reason\": \"goodwill\"}",
        "/v1/invoices/%s/adjustments", inv);
  assert_status(&r, 201);
  http_resp_clear(&r);
  json_t *p = get_plan(id);
  assert_string_equal(jstr(p, "status"), "completed");
  assert_int_equal(jint(p, "paid_amount"), 1000);
  assert_int_equal(jint(p, "balance"), 0);
  assert_string_equal(jstr(installment(p, 1), "status"), "pending");
  json_decref(p);
}

/* Payments racing on two invoices of one plan all count; plans racing for
 * one invoice: exactly one is made. */
static void concurrency(void **state)
{
  (void)state;
  enum { N = 8 };
  struct racer rc[N];
  char today[16], soon[16];
  day(today, 0);
  day(soon, 9);
  for (int round = 0; round < 3; round++) {
    char cus[32], inv[32];
    new_customer(cus, "Racing Plans Ltd", "");
    new_invoice(inv, .customer = cus, .amount = 8000, .issued_in = -60, .due_in = -30);
    for (int i = 0; i < N; i++) {
      memset(&rc[i], 0, sizeof rc[i]);
      snprintf(rc[i].url, sizeof rc[i].url, "%s/v1/payment-plans", harness_base());
      rc[i].method = "POST";
      rc[i].who = i % 2 ? ROLE_MANAGER : ROLE_ADMIN;
      snprintf(rc[i].body, sizeof rc[i].body,
               "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"installments\": [{\"due_on\": \"%s\", "
               "\"amount\": 8000}], \"notes\": \"racer %d\"}",
               cus, inv, soon, i);
    }
    run_racers(rc, N);
    int created = 0;
    for (int i = 0; i < N; i++) {
      if (rc[i].status == 201)
        created++;
      else if (rc[i].status != 409)
        fail_msg("racing plan answered %ld", rc[i].status);
    }
    assert_int_equal(created, 1);
    assert_int_equal(harness_sql_int("SELECT count(*) FROM payment_plans WHERE customer_id = %s", cus), 1);
    assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices WHERE id = %s AND plan_id = "
                                     "(SELECT id FROM payment_plans WHERE customer_id = %s)",
                                     inv, cus),
                     1);
  }

  /* Eight payments at once over the two invoices of one plan: each
   * commit settles the plan, none may miss another's money. */
  for (int round = 0; round < 5; round++) {
  char cus[32], a[32], b[32], id[32], body[512];
  new_customer(cus, "Racing Payments Ltd", "");
  new_invoice(a, .customer = cus, .amount = 4000, .issued_in = -60, .due_in = -30);
  new_invoice(b, .customer = cus, .amount = 4000, .issued_in = -60, .due_in = -30);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\", \"%s\"], \"count\": 4, \"frequency\": \"weekly\", "
           "\"first_due_on\": \"%s\"}",
           cus, a, b, soon);
  json_decref(make_plan(id, body));
  for (int i = 0; i < N; i++) {
    memset(&rc[i], 0, sizeof rc[i]);
    snprintf(rc[i].url, sizeof rc[i].url, "%s/v1/payments", harness_base());
    rc[i].method = "POST";
    rc[i].who = ROLE_ADMIN;
    snprintf(rc[i].body, sizeof rc[i].body,
             "{\"customer_id\": \"%s\", \"amount\": %d, \"currency\": \"USD\", \"received_on\": \"%s\", "
             "\"method\": \"wire\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": %d}]}",
             cus, 300 + i, today, i % 2 ? a : b, 300 + i);
  }
  run_racers(rc, N);
  long long sum = 0;
  for (int i = 0; i < N; i++) {
    if (rc[i].status != 201)
      fail_msg("racing payment answered %ld", rc[i].status);
    sum += 300 + i;
  }
  json_t *p = get_plan(id);
  assert_int_equal(jint(p, "paid_amount"), sum);
  assert_int_equal(jint(installment(p, 0), "paid_amount"), 2000);
  assert_int_equal(jint(installment(p, 1), "paid_amount"), sum - 2000);
  json_decref(p);
  }
}

/* SQL run on its own connection in a thread, for transactions that must
 * overlap in a set order. */
struct sql_job {
  char sql[1024];
  int ok;
  volatile int done;
};

static void *sql_thread(void *arg)
{
  struct sql_job *j = arg;
  PGconn *c = PQconnectdb(getenv("DATABASE_URL"));
  PGresult *r = PQexec(c, j->sql);
  j->ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!j->ok)
    fprintf(stderr, "sql_thread: %s", PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
  j->done = 1;
  return NULL;
}

/* Waits (up to 10 s) until N sessions of the test database wait for a
 * lock, or JOB (when not NULL) is done. */
static void wait_for_waiters(long long n, const struct sql_job *job)
{
  for (int i = 0; i < 400 && !(job && job->done); i++) {
    if (harness_sql_int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'") >= n)
      return;
    struct timespec ts = {0, 25 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

/* A payment on one invoice of a plan and a credit on the other, whose
 * commits overlap: the credit's settling starts while the payment's is
 * under way (held up by a third session holding the plan).  Together they
 * leave nothing owed, so the plan must complete: the plan is locked before
 * the sums and balances are read, so the second sees the first. */
static void settle_overlapping_commits(void **state)
{
  (void)state;
  char cus[32], a[32], b[32], id[32], body[512], today[16], soon[16];
  day(today, 0);
  day(soon, 9);
  new_customer(cus, "Overlapping Ltd", "");
  new_invoice(a, .customer = cus, .amount = 1000, .issued_in = -60, .due_in = -30);
  new_invoice(b, .customer = cus, .amount = 1000, .issued_in = -60, .due_in = -30);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\", \"%s\"], \"count\": 2, \"frequency\": \"weekly\", "
           "\"first_due_on\": \"%s\"}",
           cus, a, b, soon);
  json_decref(make_plan(id, body));
  PGconn *holder = PQconnectdb(getenv("DATABASE_URL"));
  PQclear(PQexec(holder, "BEGIN"));
  char lock[128];
  snprintf(lock, sizeof lock, "SELECT 1 FROM payment_plans WHERE id = %s FOR UPDATE", id);
  PGresult *held = PQexec(holder, lock);
  assert_int_equal(PQresultStatus(held), PGRES_TUPLES_OK);
  PQclear(held);
  struct sql_job jobs[2];
  memset(jobs, 0, sizeof jobs);
  snprintf(jobs[0].sql, sizeof jobs[0].sql,
           "BEGIN; SELECT arc_payment_record('{\"customer_id\": \"%s\", \"amount\": 1000, \"currency\": \"USD\", "
           "\"received_on\": \"%s\", \"method\": \"wire\", \"allocations\": [{\"invoice_id\": \"%s\", "
           "\"amount\": 1000}]}', 'racer'); COMMIT",
           cus, today, a);
  snprintf(jobs[1].sql, sizeof jobs[1].sql,
           "BEGIN; SELECT arc_invoice_adjust(%s, 'credit', -1000, 'goodwill', 'racer'); COMMIT", b);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    assert_int_equal(pthread_create(&th[i], NULL, sql_thread, &jobs[i]), 0);
    wait_for_waiters(i + 1, i ? &jobs[i] : NULL);
  }
  PQclear(PQexec(holder, "COMMIT"));
  PQfinish(holder);
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    assert_true(jobs[i].ok);
  }
  json_t *p = get_plan(id);
  assert_string_equal(jstr(p, "status"), "completed");
  assert_int_equal(jint(p, "paid_amount"), 1000);
  assert_int_equal(jint(p, "balance"), 0);
  json_decref(p);
}

/* ------------------------------------------------------------- changing */

static const struct bad_body bad_patches[] = {
    {"status active", "{\"status\": \"active\"}", 422, "validation", "status"},
    {"status completed", "{\"status\": \"completed\", \"cancel_reason\": \"x\"}", 422, "validation", "status"},
    {"status defaulted", "{\"status\": \"defaulted\"}", 422, "validation", "status"},
    {"status null", "{\"status\": null}", 422, "validation", "status"},
    {"status number", "{\"status\": 1}", 422, "validation", "status"},
    {"cancel without reason", "{\"status\": \"cancelled\"}", 422, "validation", "cancel_reason"},
    {"cancel with empty reason", "{\"status\": \"cancelled\", \"cancel_reason\": \"  \"}", 422, "validation",
     "cancel_reason"},
    {"reason without status", "{\"cancel_reason\": \"x\"}", 422, "validation", "status"},
    {"reason number", "{\"status\": \"cancelled\", \"cancel_reason\": 5}", 422, "validation", "cancel_reason"},
    {"notes number", "{\"notes\": 5}", 422, "validation", "notes"},
    {"customer fixed", "{\"customer_id\": \"1\"}", 422, "validation", "customer_id"},
    {"invoices fixed", "{\"invoice_ids\": [\"1\"]}", 422, "validation", "invoice_ids"},
    {"installments fixed", "{\"installments\": []}", 422, "validation", "installments"},
    {"count fixed", "{\"count\": 2}", 422, "validation", "count"},
    {"frequency fixed", "{\"frequency\": \"weekly\"}", 422, "validation", "frequency"},
    {"first_due_on fixed", "{\"first_due_on\": \"2999-01-01\"}", 422, "validation", "first_due_on"},
    {"grace fixed", "{\"grace_days\": 5}", 422, "validation", "grace_days"},
    {"max_missed fixed", "{\"max_missed\": 5}", 422, "validation", "max_missed"},
    {"paid_amount", "{\"paid_amount\": 5}", 422, "validation", "paid_amount"},
    {"unknown", "{\"colour\": \"red\"}", 422, "validation", "colour"},
    {"array body", "[]", 422, "validation", "(body)"},
    {"malformed", "{\"notes\": ", 400, "malformed-json", NULL},
    {"duplicate key", "{\"notes\": \"a\", \"notes\": \"b\"}", 400, "malformed-json", NULL},
};

static void patch_rules(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], path[64];
  new_customer(cus, "Patched Plan Ltd", "");
  new_invoice(inv, .customer = cus, .amount = 2000, .issued_in = -60, .due_in = -30);
  plan_over(id, cus, inv, 2, 1000, 3, 7, "");
  snprintf(path, sizeof path, "/v1/payment-plans/%s", id);
  char *before = digest();
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
  http_raw(&r, "PATCH", path, ROLE_MANAGER, "{}", 2, "text/plain", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  static const enum role refused[] = {ROLE_COLLECTOR, ROLE_VIEWER, ROLE_INTEGRATION};
  for (size_t i = 0; i < 3; i++) {
    http(&r, "PATCH", path, refused[i], "{\"status\": \"cancelled\", \"cancel_reason\": \"x\"}", NULL);
    assert_problem(&r, 403, "forbidden", NULL);
  }
  http(&r, "PATCH", path, NO_KEY, "{\"notes\": \"x\"}", NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  expect_unchanged(before, "refused patches");
  free(before);

  /* An empty PATCH changes nothing; notes do. */
  http(&r, "PATCH", path, ROLE_MANAGER, "{}", NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), 1);
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"notes\": \"pays on Fridays\"}", NULL);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "notes"), "pays on Fridays");
  assert_string_equal(r.etag, "\"2\"");
  assert_int_equal(events_of("payment_plan.updated", id), 1);
  /* If-Match: stale refused (nothing changes), current passes. */
  static const char *const stale[] = {"If-Match: \"1\"", NULL};
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"status\": \"cancelled\", \"cancel_reason\": \"x\"}", stale);
  assert_problem(&r, 412, "precondition-failed", NULL);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payment_plans WHERE id = %s AND version = 2 AND status = "
                                   "'active'",
                                   id),
                   1);
  json_t *inv_before = get_invoice(inv);
  static const char *const current[] = {"If-Match: \"2\"", NULL};
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"status\": \"cancelled\", \"cancel_reason\": \"customer went bankrupt\"}",
       current);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "cancelled");
  assert_string_equal(jstr(r.json, "cancel_reason"), "customer went bankrupt");
  assert_string_equal(jstr(r.json, "cancelled_by"), "admin@example.com");
  assert_true(ts_shape_ok(jstr(r.json, "cancelled_at")));
  assert_true(is_null(r.json, "next_due_on"));
  assert_int_equal(jint(r.json, "version"), 3);
  assert_int_equal(events_of("payment_plan.cancelled", id), 1);
  json_t *inv_after = get_invoice(inv);
  assert_false(json_is_true(json_object_get(inv_after, "in_plan")));
  assert_true(is_null(inv_after, "plan_id"));
  assert_int_equal(jint(inv_after, "version"), jint(inv_before, "version") + 1);
  json_decref(inv_before);
  json_decref(inv_after);
  /* Only an active plan is cancelled; notes may still be added. */
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"status\": \"cancelled\", \"cancel_reason\": \"again\"}", NULL);
  assert_problem(&r, 409, "conflict", "status");
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"notes\": \"handed to the lawyers\"}", NULL);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "cancelled");
  assert_string_equal(jstr(r.json, "cancel_reason"), "customer went bankrupt");
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"notes\": null}", NULL);
  assert_status(&r, 200);
  assert_true(is_null(r.json, "notes"));
  /* Payments after the end change nothing in a cancelled plan. */
  pay(NULL, cus, inv, 1000);
  json_t *p = get_plan(id);
  assert_int_equal(jint(p, "paid_amount"), 0);
  json_decref(p);
  http_resp_clear(&r);
}

static void stored_verbatim(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], body[1024], soon[16];
  new_customer(cus, "Verbatim Plans Ltd", "");
  new_invoice(inv, .customer = cus, .amount = 100, .issued_in = -60, .due_in = -30);
  day(soon, 3);
  const char *notes = "'); DROP TABLE payment_plans;-- 100% \\\"q\\\" _x_ \\\\ $1 $$y$$ Ω";
  const char *stored = "'); DROP TABLE payment_plans;-- 100% \"q\" _x_ \\ $1 $$y$$ Ω";
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"installments\": [{\"due_on\": \"%s\", "
           "\"amount\": 100}], \"notes\": \"%s\"}",
           cus, inv, soon, notes);
  json_t *p = make_plan(id, body);
  assert_string_equal(jstr(p, "notes"), stored);
  json_decref(p);
  char *db = harness_sql("SELECT notes FROM payment_plans WHERE id = %s", id);
  assert_string_equal(db, stored);
  free(db);
  snprintf(body, sizeof body, "{\"status\": \"cancelled\", \"cancel_reason\": \"%s\"}", notes);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_MANAGER, body, "/v1/payment-plans/%s", id);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "cancel_reason"), stored);
  http_resp_clear(&r);
  assert_true(count_plans() >= 1);
}

/* ------------------------------------------------------- reading, lists */

static const struct step item_errors[] = {
    {"unknown id", "GET", "/v1/payment-plans/999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id zero", "GET", "/v1/payment-plans/0", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id text", "GET", "/v1/payment-plans/abc", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id injection", "GET", "/v1/payment-plans/1%20OR%201=1", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id too long", "GET", "/v1/payment-plans/99999999999999999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"patch unknown", "PATCH", "/v1/payment-plans/999999999", ROLE_MANAGER, "{\"notes\": \"x\"}", 404, "not-found",
     NULL},
    {"patch bad id", "PATCH", "/v1/payment-plans/x1", ROLE_MANAGER, "{}", 404, "not-found", NULL},
    {"get no key", "GET", "/v1/payment-plans/1", NO_KEY, NULL, 401, "unauthorized", NULL},
    {"delete", "DELETE", "/v1/payment-plans/1", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
    {"put", "PUT", "/v1/payment-plans/1", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
    {"post item", "POST", "/v1/payment-plans/1", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
    {"list delete", "DELETE", "/v1/payment-plans", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
    {"list patch", "PATCH", "/v1/payment-plans", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
    {"list no key", "GET", "/v1/payment-plans", NO_KEY, NULL, 401, "unauthorized", NULL},
    {"post no key", "POST", "/v1/payment-plans", NO_KEY, "{}", 401, "unauthorized", NULL},
    {"post collector", "POST", "/v1/payment-plans", ROLE_COLLECTOR, "{}", 403, "forbidden", NULL},
    {"post viewer", "POST", "/v1/payment-plans", ROLE_VIEWER, "{}", 403, "forbidden", NULL},
    {"post integration", "POST", "/v1/payment-plans", ROLE_INTEGRATION, "{}", 403, "forbidden", NULL},
    {"unknown parameter", "GET", "/v1/payment-plans?colour=red", ROLE_ADMIN, NULL, 422, "validation", "colour"},
    {"limit 0", "GET", "/v1/payment-plans?limit=0", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"limit 201", "GET", "/v1/payment-plans?limit=201", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"cursor text", "GET", "/v1/payment-plans?cursor=abc", ROLE_ADMIN, NULL, 422, "validation", "cursor"},
    {"customer_id text", "GET", "/v1/payment-plans?customer_id=x", ROLE_ADMIN, NULL, 422, "validation", "customer_id"},
    {"invoice_id injection", "GET", "/v1/payment-plans?invoice_id=1%27%3B--", ROLE_ADMIN, NULL, 422, "validation",
     "invoice_id"},
    {"status bogus", "GET", "/v1/payment-plans?status=late", ROLE_ADMIN, NULL, 422, "validation", "status"},
};

static void item_and_list_errors(void **state)
{
  (void)state;
  long long n = count_plans();
  run_steps(item_errors, sizeof item_errors / sizeof item_errors[0]);
  assert_int_equal(count_plans(), n);
}

static void list_filters_and_pages(void **state)
{
  (void)state;
  char cus[32], other[32], a[32], b[32], c[32], first[32], second[32], third[32];
  new_customer(cus, "Listed Plans Ltd", "");
  new_customer(other, "Listed Other Ltd", "");
  new_invoice(a, .customer = cus, .amount = 1000, .issued_in = -60, .due_in = -30);
  new_invoice(b, .customer = cus, .amount = 1000, .issued_in = -60, .due_in = -30);
  new_invoice(c, .customer = other, .amount = 1000, .issued_in = -60, .due_in = -30);
  plan_over(first, cus, a, 1, 1000, 3, 0, "");
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"cancelled\", \"cancel_reason\": \"replaced\"}",
        "/v1/payment-plans/%s", first);
  assert_status(&r, 200);
  char body[512], soon[16];
  day(soon, 3);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\", \"%s\"], \"installments\": [{\"due_on\": \"%s\", "
           "\"amount\": 2000}]}",
           cus, a, b, soon);
  json_decref(make_plan(second, body));
  plan_over(third, other, c, 1, 1000, 3, 0, "");

  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/payment-plans?customer_id=%s", cus);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 2);
  assert_string_equal(data_id(&r, 0), first);
  assert_string_equal(data_id(&r, 1), second);
  assert_true(is_null(r.json, "next_cursor"));
  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/payment-plans?customer_id=%s&status=active", cus);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), second);
  httpf(&r, "GET", ROLE_INTEGRATION, NULL, "/v1/payment-plans?customer_id=%s&status=cancelled", cus);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), first);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/payment-plans?invoice_id=%s", b);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), second);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/payment-plans?invoice_id=%s", a);
  assert_int_equal(data_size(&r), 2);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/payment-plans?invoice_id=%s&customer_id=%s", c, cus);
  assert_int_equal(data_size(&r), 0);
  /* Pages: one at a time, in id order, no gap and no repeat. */
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/payment-plans?limit=1&customer_id=%s", cus);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), first);
  char cursor[64];
  snprintf(cursor, sizeof cursor, "%s", jstr(r.json, "next_cursor"));
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/payment-plans?limit=1&customer_id=%s&cursor=%s", cus, cursor);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), second);
  assert_true(is_null(r.json, "next_cursor"));
  /* The list shows the same documents as GET. */
  json_t *one = get_plan(second);
  assert_true(json_equal(json_array_get(json_object_get(r.json, "data"), 0), one));
  json_decref(one);
  http_resp_clear(&r);
}

/* The call sheet shows the active plan, else one that ended in the last 90
 * days, else null. */
static void call_sheet(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32];
  new_customer(cus, "Sheet Plan Ltd", "");
  new_invoice(inv, .customer = cus, .amount = 1500, .issued_in = -60, .due_in = -30);
  json_t *sheet = get_sheet(cus);
  assert_true(is_null(sheet, "plan"));
  json_decref(sheet);
  plan_over(id, cus, inv, 3, 500, 7, 7, "");
  sheet = get_sheet(cus);
  json_t *plan = get_plan(id);
  assert_true(json_equal(json_object_get(sheet, "plan"), plan));
  assert_int_equal(json_array_size(json_object_get(json_object_get(sheet, "plan"), "installments")), 3);
  json_decref(plan);
  json_decref(sheet);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"cancelled\", \"cancel_reason\": \"x\"}", "/v1/payment-plans/%s", id);
  assert_status(&r, 200);
  http_resp_clear(&r);
  sheet = get_sheet(cus);
  assert_string_equal(jstr(json_object_get(sheet, "plan"), "status"), "cancelled");
  json_decref(sheet);
  harness_sql("UPDATE payment_plans SET cancelled_at = now() - interval '91 days' WHERE id = %s", id);
  sheet = get_sheet(cus);
  assert_true(is_null(sheet, "plan"));
  json_decref(sheet);
}

/* ------------------------------------------------------------ scenarios */

/* (a) A plan kept: covered invoices are not dunned while it runs though
 * they are long past due; each installment paid on time; completed. */
static void scenario_kept(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32];
  new_customer(cus, "Kept Plan Ltd", "");
  new_invoice(inv, .customer = cus, .amount = 30000, .issued_in = -60, .due_in = -30);
  sweep(0);
  expect_story("before the plan", cus, "overdue", NULL, "open:-29");
  plan_over(id, cus, inv, 3, 10000, 10, 10, "");
  json_t *run = sweep_doc(1);
  expect_story("plan made", cus, "overdue", NULL, "done:-29:cause_gone");
  assert_true(run_count(run, "closed", "overdue") >= 1);
  json_decref(run);

  pay(NULL, cus, inv, 10000);
  sweep(14);
  pay(NULL, cus, inv, 10000);
  sweep(24);
  expect_story("two paid", cus, "installment_missed", NULL, "");
  expect_story("two paid", cus, "overdue", NULL, "done:-29:cause_gone");
  expect_story("two paid", cus, "retry", NULL, "");
  json_t *p = get_plan(id);
  assert_string_equal(jstr(p, "status"), "active");
  assert_int_equal(jint(p, "missed_count"), 0);
  json_decref(p);
  pay(NULL, cus, inv, 10000);
  p = get_plan(id);
  assert_string_equal(jstr(p, "status"), "completed");
  for (size_t i = 0; i < 3; i++) {
    assert_string_equal(jstr(installment(p, i), "status"), "paid");
    assert_true(is_null(installment(p, i), "missed_at"));
  }
  json_decref(p);
  sweep(34);
  sweep(40);
  expect_story("kept", cus, "installment_missed", NULL, "");
  expect_story("kept", cus, "overdue", NULL, "done:-29:cause_gone");
  json_t *inv_doc = get_invoice(inv);
  assert_string_equal(jstr(inv_doc, "status"), "paid");
  assert_false(json_is_true(json_object_get(inv_doc, "in_plan")));
  json_decref(inv_doc);
  assert_int_equal(events_of("payment_plan.completed", id), 1);
  assert_int_equal(events_of("payment_plan.installment_missed", id), 0);
}

/* (b) One miss, then caught up: unpaid grace_days after its due date the
 * installment is missed and followed up the next day; part payments lower
 * the follow-up's amount; paid in full, the follow-up closes (cause gone),
 * the plan goes on, and the installment keeps missed_at.  A bounce makes
 * it missed again and followed up again. */
static void scenario_caught_up(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], as_of[40], path[64];
  new_customer(cus, "Caught Up Ltd", "");
  new_invoice(inv, .customer = cus, .amount = 20000, .issued_in = -60, .due_in = -30);
  plan_over(id, cus, inv, 2, 10000, 10, 10, "");
  snprintf(path, sizeof path, "/v1/payment-plans/%s", id);

  /* Due on day 10, grace 3: payable through day 13. */
  sweep(13);
  expect_story("last day of grace", cus, "installment_missed", NULL, "");
  json_t *p = get_plan(id);
  assert_string_equal(jstr(installment(p, 0), "status"), "pending");
  json_decref(p);
  json_t *run = sweep_doc(14);
  assert_true(run_count(run, "created", "installment_missed") >= 1);
  json_decref(run);
  expect_story("missed", cus, "installment_missed", NULL, "open:14");
  expect_story("missed", cus, "overdue", NULL, "");
  p = get_plan(id);
  assert_string_equal(jstr(p, "status"), "active");
  assert_int_equal(jint(p, "missed_count"), 1);
  assert_string_equal(jstr(installment(p, 0), "status"), "missed");
  /* Recorded in real time, not at the replayed as_of. */
  assert_true(recorded_now(jstr(installment(p, 0), "missed_at")));
  snprintf(as_of, sizeof as_of, "%s", jstr(installment(p, 0), "missed_at"));
  assert_string_equal(jstr(installment(p, 1), "status"), "pending");
  json_decref(p);
  assert_int_equal(events_of("payment_plan.installment_missed", id), 1);
  json_t *f = follow_up(cus, "installment_missed");
  char ids[48];
  snprintf(ids, sizeof ids, "[\"%s\"]", inv);
  expect_json(f, "invoice_ids", ids);
  assert_int_equal(jint(f, "amount_overdue"), 10000);
  assert_string_equal(jstr(f, "currency"), "USD");
  assert_string_equal(jstr(f, "assignee"), COLLECTOR);
  assert_int_equal(jint(f, "priority"), 2);
  json_decref(f);
  char *inst = harness_sql("SELECT id FROM payment_plan_installments WHERE plan_id = %s AND seq = 1", id);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM follow_ups WHERE customer_id = %s AND reason = "
                                   "'installment_missed' AND cause_key = 'installment:%s' AND plan_id = %s "
                                   "AND installment_id = %s",
                                   cus, inst, id, inst),
                   1);
  /* The same sweep again makes and changes nothing. */
  static const char *const follow_ups[] = {"follow_ups", NULL};
  char *fu_before = tables_fingerprint(follow_ups);
  char *before = digest();
  run = sweep_doc(14);
  expect_json(run, "created", "{}");
  expect_json(run, "closed", "{}");
  json_decref(run);
  char *fu_after = tables_fingerprint(follow_ups);
  assert_string_equal(fu_before, fu_after);
  expect_unchanged(before, "the same sweep twice");
  free(fu_before);
  free(fu_after);
  free(before);

  /* Part of it: the follow-up asks for the rest. */
  pay(NULL, cus, inv, 6000);
  sweep(15);
  expect_story("part paid", cus, "installment_missed", NULL, "open:14");
  f = follow_up(cus, "installment_missed");
  assert_int_equal(jint(f, "amount_overdue"), 4000);
  json_decref(f);
  p = get_plan(id);
  assert_int_equal(jint(installment(p, 0), "paid_amount"), 6000);
  assert_string_equal(jstr(installment(p, 0), "status"), "missed");
  json_decref(p);

  /* Caught up. */
  char last[32];
  pay(last, cus, inv, 4000);
  p = get_plan(id);
  assert_string_equal(jstr(installment(p, 0), "status"), "paid");
  assert_string_equal(jstr(installment(p, 0), "missed_at"), as_of);
  assert_true(ts_shape_ok(jstr(installment(p, 0), "paid_at")));
  assert_int_equal(jint(p, "missed_count"), 0);
  assert_string_equal(jstr(p, "status"), "active");
  json_decref(p);
  run = sweep_doc(16);
  assert_true(run_count(run, "closed", "installment_missed") >= 1);
  json_decref(run);
  expect_story("caught up", cus, "installment_missed", NULL, "done:14:cause_gone");
  f = follow_up(cus, "installment_missed");
  assert_true(recorded_now(jstr(f, "closed_at")));
  json_decref(f);
  p = get_plan(id);
  assert_string_equal(jstr(p, "status"), "active");
  json_decref(p);
  expect_story("caught up", cus, "overdue", NULL, "");

  /* The last payment bounces: missed again, followed up again. */
  reverse(last);
  p = get_plan(id);
  assert_string_equal(jstr(installment(p, 0), "status"), "missed");
  assert_int_equal(jint(p, "missed_count"), 1);
  json_decref(p);
  sweep(17);
  expect_story("bounced", cus, "installment_missed", NULL, "done:14:cause_gone open:14");
  free(inst);
}

/* (c) Defaulted: max_missed (2) installments missed at once; the plan
 * defaults, its invoice leaves it and is dunned as overdue in the same
 * sweep; the installment_missed follow-up closes. */
static void scenario_defaulted(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32];
  new_customer(cus, "Defaulted Ltd", "");
  new_invoice(inv, .customer = cus, .amount = 30000, .issued_in = -60, .due_in = -30);
  plan_over(id, cus, inv, 3, 10000, 5, 5, "");
  sweep(9);
  expect_story("first miss", cus, "installment_missed", NULL, "open:9");
  expect_story("first miss", cus, "overdue", NULL, "");
  json_t *p = get_plan(id);
  assert_string_equal(jstr(p, "status"), "active");
  assert_int_equal(jint(p, "missed_count"), 1);
  json_decref(p);
  long long version = harness_sql_int("SELECT version FROM invoices WHERE id = %s", inv);
  long long updated = events_of("invoice.updated", inv);

  json_t *run = sweep_doc(14);
  assert_true(run_count(run, "created", "overdue") >= 1);
  assert_true(run_count(run, "closed", "installment_missed") >= 1);
  json_decref(run);
  p = get_plan(id);
  assert_string_equal(jstr(p, "status"), "defaulted");
  assert_true(recorded_now(jstr(p, "defaulted_at")));
  assert_int_equal(jint(p, "missed_count"), 2);
  assert_true(is_null(p, "next_due_on"));
  json_decref(p);
  assert_int_equal(events_of("payment_plan.defaulted", id), 1);
  json_t *doc = get_invoice(inv);
  assert_false(json_is_true(json_object_get(doc, "in_plan")));
  assert_true(is_null(doc, "plan_id"));
  assert_int_equal(jint(doc, "version"), version + 1);
  json_decref(doc);
  assert_int_equal(events_of("invoice.updated", inv), updated + 1);
  expect_story("defaulted", cus, "installment_missed", NULL, "done:9:cause_gone");
  expect_story("defaulted", cus, "overdue", NULL, "open:-29");
  json_t *f = follow_up(cus, "overdue");
  assert_int_equal(jint(f, "amount_overdue"), 30000);
  json_decref(f);
  /* Nothing more of the plan: the next sweeps leave it as it ended. */
  sweep(20);
  p = get_plan(id);
  assert_string_equal(jstr(p, "status"), "defaulted");
  assert_string_equal(jstr(installment(p, 2), "status"), "pending");
  json_decref(p);
  expect_story("later", cus, "installment_missed", NULL, "done:9:cause_gone");
}

/* A cancelled plan: the next sweep closes its installment_missed follow-up
 * and dunning resumes.  Customers who asked us to stop get no
 * installment_missed follow-up, though the plan counts the miss; nor do
 * customers handed off to legal (an open escalation at legal). */
static void scenario_cancelled_and_quiet(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], quiet[32], qinv[32], qid[32], off[32], oinv[32], oid[32];
  new_customer(cus, "Cancelled Plan Ltd", "");
  new_invoice(inv, .customer = cus, .amount = 2000, .issued_in = -60, .due_in = -30);
  plan_over(id, cus, inv, 2, 1000, 2, 10, "\"grace_days\": 0, \"max_missed\": 2");
  new_customer(quiet, "Quiet Plan Ltd", "\"cease_communication\": true");
  new_invoice(qinv, .customer = quiet, .amount = 2000, .issued_in = -60, .due_in = -30);
  plan_over(qid, quiet, qinv, 2, 1000, 2, 10, "\"grace_days\": 0");
  new_customer(off, "Handed Off Plan Ltd", "");
  new_invoice(oinv, .customer = off, .amount = 2000, .issued_in = -60, .due_in = -30);
  plan_over(oid, off, oinv, 2, 1000, 2, 10, "\"grace_days\": 0");
  sweep(3);
  expect_story("missed, no grace", cus, "installment_missed", NULL, "open:3");
  expect_story("missed, no grace", off, "installment_missed", NULL, "open:3");
  expect_story("asked to stop", quiet, "installment_missed", NULL, "");
  free(harness_sql("INSERT INTO escalations (customer_id, level, reason, status, proposed_by, opened_at, opened_by) "
                   "VALUES (%s, 'legal', 'test: handed off', 'open', 'test', now(), 'test')",
                   off));
  json_t *p = get_plan(qid);
  assert_int_equal(jint(p, "missed_count"), 1);
  json_decref(p);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"cancelled\", \"cancel_reason\": \"will pay all on the 30th\"}",
        "/v1/payment-plans/%s", id);
  assert_status(&r, 200);
  http_resp_clear(&r);
  sweep(4);
  expect_story("cancelled", cus, "installment_missed", NULL, "done:3:cause_gone");
  expect_story("cancelled", cus, "overdue", NULL, "open:-29");
  expect_story("asked to stop", quiet, "overdue", NULL, "");
  expect_story("handed off", off, "installment_missed", NULL, "done:3:cause_gone");
  json_t *p2 = get_plan(oid);
  assert_string_equal(jstr(p2, "status"), "active");
  json_decref(p2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(create_explicit),
      cmocka_unit_test(create_defaults),
      cmocka_unit_test(create_generated),
      cmocka_unit_test(create_bad_bodies),
      cmocka_unit_test(create_refused_by_data),
      cmocka_unit_test(one_active_plan),
      cmocka_unit_test(filling_and_completion),
      cmocka_unit_test(credit_completes),
      cmocka_unit_test(concurrency),
      cmocka_unit_test(settle_overlapping_commits),
      cmocka_unit_test(patch_rules),
      cmocka_unit_test(stored_verbatim),
      cmocka_unit_test(item_and_list_errors),
      cmocka_unit_test(list_filters_and_pages),
      cmocka_unit_test(call_sheet),
      cmocka_unit_test(scenario_kept),
      cmocka_unit_test(scenario_caught_up),
      cmocka_unit_test(scenario_defaulted),
      cmocka_unit_test(scenario_cancelled_and_quiet),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
