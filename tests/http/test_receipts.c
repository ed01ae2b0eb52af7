/* POST /v1/invoices/{id}/receipt-confirmation (SPEC P1): who at the customer
 * confirmed that an invoice arrived, how and when; a later confirmation
 * replaces an earlier one; refused requests change nothing. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The invoice row's receipt fields and version, as one comparable string. */
static char *receipt_state(const char *invoice)
{
  return harness_sql("SELECT concat_ws('|', version, receipt_confirmed_at, receipt_confirmed_via, receipt_confirmed_by) "
                     "FROM invoices WHERE id = %s",
                     invoice);
}

static void confirm_and_replace(void **state)
{
  (void)state;
  char cus[32], inv[32], path[96];
  snprintf(cus, sizeof cus, "%s", make_customer("Receipt Co"));
  new_invoice(inv, .customer = cus, .number = "RCP-1", .amount = 10000, .issued_in = -3, .due_in = 27);
  snprintf(path, sizeof path, "/v1/invoices/%s/receipt-confirmation", inv);
  struct http_resp r = {0};
  http(&r, "POST", path, ROLE_COLLECTOR, "{\"confirmed_by\": \"Ann Lee (AP)\", \"via\": \"email\"}", NULL);
  assert_status(&r, 200);
  /* The invoice doc comes back, with its new version. */
  assert_string_equal(jstr(r.json, "id"), inv);
  assert_string_equal(jstr(r.json, "number"), "RCP-1");
  assert_string_equal(jstr(r.json, "receipt_confirmed_by"), "Ann Lee (AP)");
  assert_string_equal(jstr(r.json, "receipt_confirmed_via"), "email");
  assert_int_equal(jint(r.json, "version"), 2);
  assert_string_equal(r.etag, "\"2\"");
  assert_int_equal(jint(r.json, "balance"), 10000);
  assert_string_equal(jstr(r.json, "status"), "open");
  /* Default confirmed_at: now (the database's clock). */
  char *secs = harness_sql("SELECT abs(extract(epoch FROM now() - '%s'::timestamptz))::integer",
                           jstr(r.json, "receipt_confirmed_at"));
  assert_true(atoi(secs) < 60);
  free(secs);
  json_t *first = json_incref(r.json);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/invoices/%s", inv);
  assert_status(&r, 200);
  assert_true(json_equal(first, r.json));
  json_decref(first);

  /* A later confirmation replaces it; an offset is rendered in UTC. */
  char *at = harness_sql("SELECT to_char((now() - interval '1 hour') AT TIME ZONE 'Asia/Kolkata', "
                         "'YYYY-MM-DD\"T\"HH24:MI:SS\"+05:30\"')");
  char *utc = harness_sql("SELECT arc_ts('%s'::timestamptz)", at);
  char body[256];
  snprintf(body, sizeof body, "{\"confirmed_by\": \"Raj\", \"via\": \"phone\", \"confirmed_at\": \"%s\"}", at);
  http(&r, "POST", path, ROLE_MANAGER, body, NULL);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "receipt_confirmed_by"), "Raj");
  assert_string_equal(jstr(r.json, "receipt_confirmed_via"), "phone");
  assert_string_equal(jstr(r.json, "receipt_confirmed_at"), utc);
  assert_int_equal(jint(r.json, "version"), 3);
  free(at);
  free(utc);

  /* Every channel is accepted; admins may confirm too. */
  static const char *const vias[] = {"phone", "email", "sms", "letter", "visit", "portal"};
  for (size_t i = 0; i < 6; i++) {
    snprintf(body, sizeof body, "{\"confirmed_by\": \"Ann\", \"via\": \"%s\"}", vias[i]);
    http(&r, "POST", path, ROLE_ADMIN, body, NULL);
    assert_status(&r, 200);
    assert_string_equal(jstr(r.json, "receipt_confirmed_via"), vias[i]);
  }

  /* If-Match: stale refused, current accepted. */
  char *before = receipt_state(inv);
  static const char *const stale[] = {"If-Match: \"1\"", NULL};
  http(&r, "POST", path, ROLE_COLLECTOR, "{\"confirmed_by\": \"Bo\", \"via\": \"sms\"}", stale);
  assert_problem(&r, 412, "precondition-failed", NULL);
  char *after = receipt_state(inv);
  assert_string_equal(before, after);
  free(after);
  free(before);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/invoices/%s", inv);
  char header[80];
  snprintf(header, sizeof header, "If-Match: %s", r.etag);
  const char *current[] = {header, NULL};
  http(&r, "POST", path, ROLE_COLLECTOR, "{\"confirmed_by\": \"Bo\", \"via\": \"sms\"}", current);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "receipt_confirmed_by"), "Bo");

  /* A paid invoice's receipt can still be confirmed (it arrived, and was paid). */
  char paid[32], pay[512], today[16];
  new_invoice(paid, .customer = cus, .issued_in = -3, .due_in = 27);
  day(today, 0);
  snprintf(pay, sizeof pay,
           "{\"customer_id\": \"%s\", \"amount\": 10000, \"currency\": \"USD\", \"received_on\": \"%s\", "
           "\"method\": \"ach\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 10000}]}",
           cus, today, paid);
  json_decref(create_ok("/v1/payments", pay));
  httpf(&r, "POST", ROLE_COLLECTOR, "{\"confirmed_by\": \"Ann\", \"via\": \"portal\"}",
        "/v1/invoices/%s/receipt-confirmation", paid);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "paid");
  http_resp_clear(&r);
}

static void stored_verbatim(void **state)
{
  (void)state;
  char cus[32], inv[32];
  snprintf(cus, sizeof cus, "%s", make_customer("Verbatim Receipts"));
  new_invoice(inv, .customer = cus, .issued_in = -1, .due_in = 30);
  struct http_resp r = {0};
  httpf(&r, "POST", ROLE_COLLECTOR, "{\"confirmed_by\": \"O'Brien'); DROP TABLE invoices;-- \\\\ 100% $$ Ω\", \"via\": \"visit\"}",
        "/v1/invoices/%s/receipt-confirmation", inv);
  assert_status(&r, 200);
  const char *want = "O'Brien'); DROP TABLE invoices;-- \\ 100% $$ Ω";
  assert_string_equal(jstr(r.json, "receipt_confirmed_by"), want);
  char *stored = harness_sql("SELECT receipt_confirmed_by FROM invoices WHERE id = %s", inv);
  assert_string_equal(stored, want);
  free(stored);
  http_resp_clear(&r);
}

struct bad_body {
  const char *label;
  const char *body;
  long status;
  const char *problem, *field;
};

static const struct bad_body bad_bodies[] = {
    {"confirmed_by missing", "{\"via\": \"email\"}", 422, "validation", "confirmed_by"},
    {"confirmed_by blank", "{\"confirmed_by\": \"  \", \"via\": \"email\"}", 422, "validation", "confirmed_by"},
    {"confirmed_by null", "{\"confirmed_by\": null, \"via\": \"email\"}", 422, "validation", "confirmed_by"},
    {"confirmed_by number", "{\"confirmed_by\": 7, \"via\": \"email\"}", 422, "validation", "confirmed_by"},
    {"via missing", "{\"confirmed_by\": \"Ann\"}", 422, "validation", "via"},
    {"via bogus", "{\"confirmed_by\": \"Ann\", \"via\": \"fax\"}", 422, "validation", "via"},
    {"via upper", "{\"confirmed_by\": \"Ann\", \"via\": \"EMAIL\"}", 422, "validation", "via"},
    {"via array", "{\"confirmed_by\": \"Ann\", \"via\": [\"email\"]}", 422, "validation", "via"},
    {"confirmed_at date only", "{\"confirmed_by\": \"Ann\", \"via\": \"email\", \"confirmed_at\": \"2026-01-01\"}", 422,
     "validation", "confirmed_at"},
    {"confirmed_at no zone", "{\"confirmed_by\": \"Ann\", \"via\": \"email\", \"confirmed_at\": \"2026-01-01T10:00:00\"}",
     422, "validation", "confirmed_at"},
    {"confirmed_at number", "{\"confirmed_by\": \"Ann\", \"via\": \"email\", \"confirmed_at\": 1767225600}", 422,
     "validation", "confirmed_at"},
    {"confirmed_at float", "{\"confirmed_by\": \"Ann\", \"via\": \"email\", \"confirmed_at\": 1.5}", 422, "validation",
     "confirmed_at"},
    {"confirmed_at huge", "{\"confirmed_by\": \"Ann\", \"via\": \"email\", \"confirmed_at\": 123456789012345678901234}",
     400, "malformed-json", NULL},
    {"confirmed_at null", "{\"confirmed_by\": \"Ann\", \"via\": \"email\", \"confirmed_at\": null}", 422, "validation",
     "confirmed_at"},
    {"confirmed_at 31 Feb", "{\"confirmed_by\": \"Ann\", \"via\": \"email\", \"confirmed_at\": \"2026-02-31T10:00:00Z\"}",
     422, "validation", "confirmed_at"},
    {"unknown field", "{\"confirmed_by\": \"Ann\", \"via\": \"email\", \"note\": \"x\"}", 422, "validation", "note"},
    {"empty object", "{}", 422, "validation", "confirmed_by"},
    {"array", "[\"Ann\"]", 422, "validation", "(body)"},
    {"malformed", "{\"confirmed_by\": \"Ann\",", 400, "malformed-json", NULL},
    {"duplicate key", "{\"confirmed_by\": \"Ann\", \"confirmed_by\": \"Bo\", \"via\": \"email\"}", 400, "malformed-json",
     NULL},
    {"NUL", "{\"confirmed_by\": \"A\\u0000nn\", \"via\": \"email\"}", 400, "malformed-json", NULL},
};

static void bad_input_changes_nothing(void **state)
{
  (void)state;
  char cus[32], inv[32], path[96], body[512];
  snprintf(cus, sizeof cus, "%s", make_customer("Bad Receipts"));
  new_invoice(inv, .customer = cus, .issued_in = -10, .due_in = 20);
  snprintf(path, sizeof path, "/v1/invoices/%s/receipt-confirmation", inv);
  char *before = receipt_state(inv);
  struct http_resp r = {0};
  for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
    const struct bad_body *b = &bad_bodies[i];
    http(&r, "POST", path, ROLE_COLLECTOR, b->body, NULL);
    if (r.status != b->status)
      fail_msg("[%s] expected %ld, got %ld: %s", b->label, b->status, r.status, r.body ? r.body : "");
    assert_problem(&r, b->status, b->problem, b->field);
  }
  /* 201 characters is one too many. */
  char name[202];
  memset(name, 'n', 201);
  name[201] = '\0';
  snprintf(body, sizeof body, "{\"confirmed_by\": \"%s\", \"via\": \"email\"}", name);
  http(&r, "POST", path, ROLE_COLLECTOR, body, NULL);
  assert_problem(&r, 422, "validation", "confirmed_by");
  /* In the future (past the clock-skew allowance), or before the invoice was issued. */
  char *future = harness_sql("SELECT arc_ts(now() + interval '1 hour')");
  snprintf(body, sizeof body, "{\"confirmed_by\": \"Ann\", \"via\": \"email\", \"confirmed_at\": \"%s\"}", future);
  free(future);
  http(&r, "POST", path, ROLE_COLLECTOR, body, NULL);
  assert_problem(&r, 422, "validation", "confirmed_at");
  char *early = harness_sql("SELECT arc_ts(now() - interval '20 days')");
  snprintf(body, sizeof body, "{\"confirmed_by\": \"Ann\", \"via\": \"email\", \"confirmed_at\": \"%s\"}", early);
  free(early);
  http(&r, "POST", path, ROLE_COLLECTOR, body, NULL);
  assert_problem(&r, 422, "validation", "confirmed_at");
  /* Invalid UTF-8, no body, wrong media type. */
  static const char bad_utf8[] = "{\"confirmed_by\": \"\xed\xa0\x80\", \"via\": \"email\"}";
  http_raw(&r, "POST", path, ROLE_COLLECTOR, bad_utf8, sizeof bad_utf8 - 1, "application/json", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http_raw(&r, "POST", path, ROLE_COLLECTOR, NULL, 0, NULL, NULL);
  assert_problem(&r, 422, "validation", "confirmed_by");
  const char *good = "{\"confirmed_by\": \"Ann\", \"via\": \"email\"}";
  http_raw(&r, "POST", path, ROLE_COLLECTOR, good, strlen(good), "text/plain", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  /* Roles: viewers and integrations read only. */
  http(&r, "POST", path, ROLE_VIEWER, good, NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", path, ROLE_INTEGRATION, good, NULL);
  assert_problem(&r, 403, "forbidden", NULL);
  http(&r, "POST", path, NO_KEY, good, NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 405, "method-not-allowed", NULL);
  char *after = receipt_state(inv);
  assert_string_equal(before, after);
  free(after);
  free(before);
  /* The same good body from a collector: accepted. */
  http(&r, "POST", path, ROLE_COLLECTOR, good, NULL);
  assert_status(&r, 200);
  http_resp_clear(&r);
}

static void void_and_unknown(void **state)
{
  (void)state;
  char cus[32], inv[32];
  snprintf(cus, sizeof cus, "%s", make_customer("Void Receipts"));
  new_invoice(inv, .customer = cus, .issued_in = -10, .due_in = 20);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", inv);
  assert_status(&r, 200);
  char *before = receipt_state(inv);
  httpf(&r, "POST", ROLE_COLLECTOR, "{\"confirmed_by\": \"Ann\", \"via\": \"email\"}", "/v1/invoices/%s/receipt-confirmation",
        inv);
  assert_problem(&r, 409, "conflict", NULL);
  char *after = receipt_state(inv);
  assert_string_equal(before, after);
  free(after);
  free(before);
  static const struct step steps[] = {
      {"unknown invoice", "POST", "/v1/invoices/999999999/receipt-confirmation", ROLE_COLLECTOR,
       "{\"confirmed_by\": \"Ann\", \"via\": \"email\"}", 404, "not-found", NULL},
      {"bad id", "POST", "/v1/invoices/abc/receipt-confirmation", ROLE_COLLECTOR,
       "{\"confirmed_by\": \"Ann\", \"via\": \"email\"}", 404, "not-found", NULL},
      {"id injection", "POST", "/v1/invoices/1%3B--/receipt-confirmation", ROLE_COLLECTOR,
       "{\"confirmed_by\": \"Ann\", \"via\": \"email\"}", 404, "not-found", NULL},
      {"viewer on unknown", "POST", "/v1/invoices/999999999/receipt-confirmation", ROLE_VIEWER,
       "{\"confirmed_by\": \"Ann\", \"via\": \"email\"}", 403, "forbidden", NULL},
      {"patch", "PATCH", "/v1/invoices/1/receipt-confirmation", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
  };
  run_steps(steps, sizeof steps / sizeof steps[0]);
  http_resp_clear(&r);
}

/* The confirmation is an invoice change: it appears in the feed as
 * invoice.updated with the receipt fields and the actor. */
static void event(void **state)
{
  (void)state;
  char cus[32], inv[32], qs[128], path[256];
  snprintf(cus, sizeof cus, "%s", make_customer("Eventful Receipts"));
  new_invoice(inv, .customer = cus, .issued_in = -2, .due_in = 28);
  struct http_resp r = {0};
  httpf(&r, "POST", ROLE_COLLECTOR, "{\"confirmed_by\": \"Ann\", \"via\": \"letter\"}",
        "/v1/invoices/%s/receipt-confirmation", inv);
  assert_status(&r, 200);
  snprintf(qs, sizeof qs, "type=invoice.updated&customer_id=%s", cus);
  json_t *data = NULL;
  for (int tries = 0; tries < 200; tries++) {
    snprintf(path, sizeof path, "/v1/events?%s", qs);
    http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
    assert_status(&r, 200);
    data = json_object_get(r.json, "data");
    if (json_array_size(data) >= 1)
      break;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(json_array_size(data), 1);
  json_t *e = json_array_get(data, 0);
  assert_string_equal(jstr(e, "resource_id"), inv);
  assert_string_equal(jstr(e, "actor"), "collector@example.com");
  assert_string_equal(jstr(json_object_get(e, "data"), "receipt_confirmed_by"), "Ann");
  assert_string_equal(jstr(json_object_get(e, "data"), "receipt_confirmed_via"), "letter");
  http_resp_clear(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(confirm_and_replace),
      cmocka_unit_test(stored_verbatim),
      cmocka_unit_test(bad_input_changes_nothing),
      cmocka_unit_test(void_and_unknown),
      cmocka_unit_test(event),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
