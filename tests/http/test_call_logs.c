/* /v1/call-logs: append-only records of contacts with customers — every
 * field, the defaults, which outcomes fit which channel and direction, the
 * checks against the customer, the promise and dispute made in a call,
 * events, lists, and bad input of every kind (refused writes change
 * nothing). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void new_contact(char out[32], const char *customer, const char *name)
{
  char *id = harness_sql("INSERT INTO contacts (customer_id, name, role) VALUES (%s, '%s', 'accounts_payable') "
                         "RETURNING id",
                         customer, name);
  snprintf(out, 32, "%s", id);
  free(id);
}

/* Everything a refused call log could have written. */
static const char *const watched[] = {"call_logs", "promises", "disputes", "invoices", "events", NULL};

static void refused(const char *method, const char *path, enum role who, const char *body, long status,
                    const char *slug, const char *field)
{
  assert_refused(watched, method, path, who, body, NULL, status, slug, field);
}

/* POST a call log as ROLE; asserts 201 and returns the body (decref it). */
static json_t *log_ok(enum role who, const char *body)
{
  struct http_resp r = {0};
  http(&r, "POST", "/v1/call-logs", who, body, NULL);
  if (r.status != 201)
    fail_msg("POST /v1/call-logs %s: expected 201, got %ld: %s", body, r.status, r.body ? r.body : "");
  json_t *j = json_incref(r.json);
  http_resp_clear(&r);
  return j;
}

static void create_with_every_field(void **state)
{
  (void)state;
  char cust[32], inv1[32], inv2[32], contact[32], body[2048];
  sql_customer(cust, "Call Co");
  sql_invoice(inv1, .customer = cust, .amount = 1000);
  sql_invoice(inv2, .customer = cust, .amount = 2000);
  new_contact(contact, cust, "Ann Smith");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\", \"%s\"], \"channel\": \"phone\", "
           "\"direction\": \"outbound\", \"outcome\": \"reached\", \"contact_id\": \"%s\", "
           "\"contact_name\": \"Ann Smith (AP desk)\", \"notes\": \"Will pay Friday by wire.\", "
           "\"occurred_at\": \"2025-06-01T09:30:00+02:00\", \"logged_by\": \"maria@example.com\", "
           "\"satisfaction\": 4}",
           cust, inv2, inv1, contact);
  struct http_resp r = {0};
  http(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, body, NULL);
  assert_status(&r, 201);
  const json_t *d = r.json;
  char id[32], loc[64];
  snprintf(id, sizeof id, "%s", jstr(d, "id"));
  snprintf(loc, sizeof loc, "/v1/call-logs/%s", id);
  assert_string_equal(r.location, loc);
  assert_string_equal(r.etag, "\"1\"");
  assert_string_equal(jstr(d, "customer_id"), cust);
  const json_t *ids = json_object_get(d, "invoice_ids");
  assert_int_equal(json_array_size(ids), 2);
  assert_string_equal(json_string_value(json_array_get(ids, 0)), inv2);
  assert_string_equal(json_string_value(json_array_get(ids, 1)), inv1);
  assert_string_equal(jstr(d, "channel"), "phone");
  assert_string_equal(jstr(d, "direction"), "outbound");
  assert_string_equal(jstr(d, "outcome"), "reached");
  assert_true(json_is_true(json_object_get(d, "successful")));
  assert_string_equal(jstr(d, "contact_id"), contact);
  /* The name given wins over the contact's. */
  assert_string_equal(jstr(d, "contact_name"), "Ann Smith (AP desk)");
  assert_string_equal(jstr(d, "notes"), "Will pay Friday by wire.");
  assert_string_equal(jstr(d, "occurred_at"), "2025-06-01T07:30:00.000000Z");
  assert_string_equal(jstr(d, "logged_by"), "maria@example.com");
  assert_int_equal(jint(d, "satisfaction"), 4);
  assert_true(is_null(d, "promise_id"));
  assert_true(is_null(d, "dispute_id"));
  assert_int_equal(jint(d, "version"), 1);
  assert_true(ts_shape_ok(jstr(d, "created_at")));
  assert_true(ts_shape_ok(jstr(d, "updated_at")));
  /* The POST answer also carries the promise and dispute made (none). */
  assert_true(is_null(d, "promise"));
  assert_true(is_null(d, "dispute"));
  assert_int_equal(json_array_size(json_object_get(d, "closed_follow_up_ids")), 0);
  assert_int_equal(json_object_size(d), 21);

  json_t *created = json_deep_copy(r.json);
  json_object_del(created, "promise");
  json_object_del(created, "dispute");
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/call-logs/%s", id);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"1\"");
  assert_true(json_equal(r.json, created));
  json_decref(created);
  /* HEAD answers like GET, without a body. */
  httpf(&r, "HEAD", ROLE_VIEWER, NULL, "/v1/call-logs/%s", id);
  assert_status(&r, 200);
  http_resp_clear(&r);
}

static void defaults(void **state)
{
  (void)state;
  char cust[32], contact[32], body[1024];
  sql_customer(cust, "Defaults Ltd");
  new_contact(contact, cust, "Bob Jones");
  /* Only contact_id: the name is the contact's; logged_by is the key's
   * actor; occurred_at now; the rest empty. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"email\", \"direction\": \"outbound\", \"outcome\": \"sent\", "
           "\"contact_id\": \"%s\"}",
           cust, contact);
  json_t *d = log_ok(ROLE_COLLECTOR, body);
  assert_string_equal(jstr(d, "contact_name"), "Bob Jones");
  assert_string_equal(jstr(d, "logged_by"), "collector@example.com");
  assert_false(json_is_true(json_object_get(d, "successful")));
  assert_int_equal(json_array_size(json_object_get(d, "invoice_ids")), 0);
  assert_true(json_is_array(json_object_get(d, "invoice_ids")));
  assert_true(is_null(d, "notes"));
  assert_true(is_null(d, "satisfaction"));
  assert_int_equal(harness_sql_int("SELECT (abs(extract(epoch FROM now() - '%s'::timestamptz)) < 60)::int",
                                   jstr(d, "occurred_at")),
                   1);
  json_decref(d);

  /* Only a name; a CRM logs it as the integration; explicit nulls. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"sms\", \"direction\": \"inbound\", \"outcome\": \"reached\", "
           "\"contact_name\": \"Someone at reception\", \"contact_id\": null, \"notes\": null, "
           "\"satisfaction\": null, \"promise\": null, \"dispute\": null}",
           cust);
  d = log_ok(ROLE_INTEGRATION, body);
  assert_true(is_null(d, "contact_id"));
  assert_string_equal(jstr(d, "contact_name"), "Someone at reception");
  assert_string_equal(jstr(d, "logged_by"), "integration:crm");
  /* Inbound: successful whatever the channel. */
  assert_true(json_is_true(json_object_get(d, "successful")));
  json_decref(d);

  /* A little clock skew is not the future; admins and managers log too. */
  char *soon = harness_sql("SELECT arc_ts(now() + interval '2 minutes')");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"visit\", \"direction\": \"outbound\", \"outcome\": \"refused\", "
           "\"contact_name\": \"Guard\", \"occurred_at\": \"%s\", \"notes\": \"\"}",
           cust, soon);
  d = log_ok(ROLE_MANAGER, body);
  assert_string_equal(jstr(d, "occurred_at"), soon);
  assert_string_equal(jstr(d, "logged_by"), "manager@example.com");
  assert_string_equal(jstr(d, "notes"), "");
  free(soon);
  json_decref(d);
  d = log_ok(ROLE_ADMIN, body);
  assert_string_equal(jstr(d, "logged_by"), "admin@example.com");
  json_decref(d);
  /* Viewers only read. */
  refused("POST", "/v1/call-logs", ROLE_VIEWER, body, 403, "forbidden", NULL);
  refused("POST", "/v1/call-logs", NO_KEY, body, 401, "unauthorized", NULL);
}

static void append_only(void **state)
{
  (void)state;
  char cust[32], body[512], path[64];
  sql_customer(cust, "Append Only Inc");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"letter\", \"direction\": \"outbound\", \"outcome\": \"sent\", "
           "\"contact_name\": \"Accounts\"}",
           cust);
  json_t *d = log_ok(ROLE_ADMIN, body);
  snprintf(path, sizeof path, "/v1/call-logs/%s", jstr(d, "id"));
  json_decref(d);
  struct http_resp r = {0};
  static const char *const methods[] = {"PATCH", "DELETE", "PUT", "POST"};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    char *before = tables_fingerprint(watched);
    http(&r, methods[i], path, ROLE_ADMIN, strcmp(methods[i], "DELETE") ? "{\"notes\": \"changed\"}" : NULL, NULL);
    assert_problem(&r, 405, "method-not-allowed", NULL);
    assert_string_equal(r.allow, "GET, HEAD");
    char *after = tables_fingerprint(watched);
    assert_string_equal(before, after);
    free(before);
    free(after);
  }
  http(&r, "DELETE", "/v1/call-logs", ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 405, "method-not-allowed", NULL);
  assert_string_equal(r.allow, "GET, HEAD, POST");
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), 1);
  assert_true(is_null(r.json, "notes"));
  http_resp_clear(&r);
}

/* Outbound fits, by channel, in the order of outcomes[] below (the
 * shared design's table); inbound fits reached only. */
static const char *const channels[] = {"phone", "email", "sms", "letter", "visit", "portal"};
static const char *const outcomes[] = {"reached", "no_answer", "voicemail", "wrong_number", "sent", "bounced",
                                       "refused"};
static const int outbound_fits[6][7] = {
    {1, 1, 1, 1, 0, 0, 1}, {1, 0, 0, 0, 1, 1, 1}, {1, 0, 0, 1, 1, 1, 1},
    {0, 0, 0, 0, 1, 1, 0}, {1, 1, 0, 0, 0, 0, 1}, {1, 0, 0, 0, 1, 0, 0},
};

static void outcome_fits_channel(void **state)
{
  (void)state;
  char cust[32], body[512];
  sql_customer(cust, "Channels Co");
  struct http_resp r = {0};
  int created = 0;
  for (size_t c = 0; c < 6; c++)
    for (int inbound = 0; inbound < 2; inbound++)
      for (size_t o = 0; o < 7; o++) {
        snprintf(body, sizeof body,
                 "{\"customer_id\": \"%s\", \"channel\": \"%s\", \"direction\": \"%s\", \"outcome\": \"%s\", "
                 "\"contact_name\": \"X\"}",
                 cust, channels[c], inbound ? "inbound" : "outbound", outcomes[o]);
        int fits = inbound ? o == 0 : outbound_fits[c][o];
        if (fits) {
          http(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, body, NULL);
          if (r.status != 201)
            fail_msg("%s: expected 201, got %ld: %s", body, r.status, r.body);
          assert_true(json_is_true(json_object_get(r.json, "successful")) == (inbound || o == 0));
          created++;
        } else {
          refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "outcome");
        }
      }
  assert_int_equal(created, 21 + 6);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM call_logs WHERE customer_id = %s", cust), 27);

  /* The message says what would fit. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"letter\", \"direction\": \"outbound\", \"outcome\": "
           "\"reached\", \"contact_name\": \"X\"}",
           cust);
  http(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, body, NULL);
  assert_problem(&r, 422, "validation", "outcome");
  assert_non_null(strstr(r.body, "sent, bounced"));
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"inbound\", \"outcome\": "
           "\"no_answer\", \"contact_name\": \"X\"}",
           cust);
  http(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, body, NULL);
  assert_problem(&r, 422, "validation", "outcome");
  assert_non_null(strstr(r.body, "inbound"));
  http_resp_clear(&r);
}

static void checked_against_customer(void **state)
{
  (void)state;
  char cust[32], other[32], inv[32], other_inv[32], contact[32], other_contact[32], body[1024];
  sql_customer(cust, "Checked Co");
  sql_customer(other, "Other Co");
  sql_invoice(inv, .customer = cust, .amount = 1000);
  sql_invoice(other_inv, .customer = other, .amount = 1000);
  new_contact(contact, cust, "Cara");
  new_contact(other_contact, other, "Dan");
#define CALL(extra) \
  "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", \"outcome\": \"reached\"" extra "}"

  snprintf(body, sizeof body, CALL(", \"contact_id\": \"%s\""), cust, other_contact);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "contact_id");
  snprintf(body, sizeof body, CALL(", \"contact_id\": \"999999999\", \"contact_name\": \"Cara\""), cust);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "contact_id");
  snprintf(body, sizeof body, CALL(", \"contact_name\": \"Cara\", \"invoice_ids\": [\"%s\"]"), cust, other_inv);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "invoice_ids[0]");
  snprintf(body, sizeof body, CALL(", \"contact_name\": \"Cara\", \"invoice_ids\": [\"%s\", \"999999999\"]"), cust, inv);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "invoice_ids[1]");
  snprintf(body, sizeof body, CALL(""), cust);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "contact_id");
  snprintf(body, sizeof body, CALL(", \"contact_id\": null, \"contact_name\": null"), cust);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "contact_id");
  char *later = harness_sql("SELECT arc_ts(now() + interval '1 hour')");
  snprintf(body, sizeof body, CALL(", \"contact_name\": \"Cara\", \"occurred_at\": \"%s\""), cust, later);
  free(later);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "occurred_at");
  snprintf(body, sizeof body, CALL(", \"contact_name\": \"Cara\", \"occurred_at\": \"2999-01-01T00:00:00Z\""), cust);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "occurred_at");
  snprintf(body, sizeof body, CALL(", \"contact_name\": \"Cara\""), "999999999");
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "customer_id");
  /* The same with the right customer's invoice and contact passes. */
  snprintf(body, sizeof body, CALL(", \"contact_id\": \"%s\", \"invoice_ids\": [\"%s\"]"), cust, contact, inv);
  json_t *d = log_ok(ROLE_COLLECTOR, body);
  assert_string_equal(jstr(d, "contact_name"), "Cara");
  json_decref(d);
  /* Any of the customer's invoices, paid or not, may be named. */
  harness_sql("UPDATE invoices SET balance = 0 WHERE id = %s", inv);
  d = log_ok(ROLE_COLLECTOR, body);
  json_decref(d);
}

/* Each: members after customer_id (with contact_name and a fitting
 * outcome unless the row is about them) and the field named. */
struct bad_body {
  const char *label, *members;
  long status;
  const char *problem, *field;
};

#define OK_CALL "\"channel\": \"phone\", \"direction\": \"outbound\", \"outcome\": \"reached\", \"contact_name\": \"Eve\""

static const struct bad_body bad_bodies[] = {
    {"channel missing", "\"direction\": \"outbound\", \"outcome\": \"sent\", \"contact_name\": \"E\"", 422,
     "validation", "channel"},
    {"channel unknown", "\"channel\": \"fax\", \"direction\": \"outbound\", \"outcome\": \"sent\", \"contact_name\": "
     "\"E\"", 422, "validation", "channel"},
    {"channel a number", "\"channel\": 5, \"direction\": \"outbound\", \"outcome\": \"sent\", \"contact_name\": \"E\"",
     422, "validation", "channel"},
    {"direction missing", "\"channel\": \"phone\", \"outcome\": \"reached\", \"contact_name\": \"E\"", 422,
     "validation", "direction"},
    {"direction unknown", "\"channel\": \"phone\", \"direction\": \"both\", \"outcome\": \"reached\", "
     "\"contact_name\": \"E\"", 422, "validation", "direction"},
    {"outcome missing", "\"channel\": \"phone\", \"direction\": \"outbound\", \"contact_name\": \"E\"", 422,
     "validation", "outcome"},
    {"outcome upper case", "\"channel\": \"phone\", \"direction\": \"outbound\", \"outcome\": \"REACHED\", "
     "\"contact_name\": \"E\"", 422, "validation", "outcome"},
    {"invoice_ids a string", OK_CALL ", \"invoice_ids\": \"1\"", 422, "validation", "invoice_ids"},
    {"invoice id a number", OK_CALL ", \"invoice_ids\": [1]", 422, "validation", "invoice_ids[0]"},
    {"invoice id twice", OK_CALL ", \"invoice_ids\": [\"7\", \"7\"]", 422, "validation", "invoice_ids[1]"},
    {"contact_id a number", OK_CALL ", \"contact_id\": 3", 422, "validation", "contact_id"},
    {"contact_name blank", "\"channel\": \"phone\", \"direction\": \"outbound\", \"outcome\": \"reached\", "
     "\"contact_name\": \"   \"", 422, "validation", "contact_name"},
    {"contact_name 201", "\"channel\": \"phone\", \"direction\": \"outbound\", \"outcome\": \"reached\", "
     "\"contact_name\": \"123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
     "12345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
     "1\"", 422, "validation", "contact_name"},
    {"notes a number", OK_CALL ", \"notes\": 12", 422, "validation", "notes"},
    {"occurred_at a date", OK_CALL ", \"occurred_at\": \"2025-01-01\"", 422, "validation", "occurred_at"},
    {"occurred_at no zone", OK_CALL ", \"occurred_at\": \"2025-01-01T10:00:00\"", 422, "validation", "occurred_at"},
    {"occurred_at null", OK_CALL ", \"occurred_at\": null", 422, "validation", "occurred_at"},
    {"logged_by null", OK_CALL ", \"logged_by\": null", 422, "validation", "logged_by"},
    {"logged_by empty", OK_CALL ", \"logged_by\": \"\"", 422, "validation", "logged_by"},
    {"satisfaction 0", OK_CALL ", \"satisfaction\": 0", 422, "validation", "satisfaction"},
    {"satisfaction 6", OK_CALL ", \"satisfaction\": 6", 422, "validation", "satisfaction"},
    {"satisfaction float", OK_CALL ", \"satisfaction\": 2.5", 422, "validation", "satisfaction"},
    {"satisfaction 3.0", OK_CALL ", \"satisfaction\": 3.0", 422, "validation", "satisfaction"},
    {"satisfaction 1e0", OK_CALL ", \"satisfaction\": 1e0", 422, "validation", "satisfaction"},
    {"satisfaction string", OK_CALL ", \"satisfaction\": \"4\"", 422, "validation", "satisfaction"},
    {"satisfaction 2^63-1", OK_CALL ", \"satisfaction\": 9223372036854775807", 422, "validation", "satisfaction"},
    {"satisfaction past int64", OK_CALL ", \"satisfaction\": 99999999999999999999", 400, "malformed-json", NULL},
    {"unknown field", OK_CALL ", \"mood\": \"good\"", 422, "validation", "mood"},
    {"successful is read-only", OK_CALL ", \"successful\": true", 422, "validation", "successful"},
    {"promise not an object", OK_CALL ", \"promise\": 5", 422, "validation", "promise"},
    {"promise unknown field", OK_CALL ", \"promise\": {\"amount\": 1, \"promised_on\": \"2999-01-01\", "
     "\"colour\": \"red\"}", 422, "validation", "promise.colour"},
    {"promise customer_id", OK_CALL ", \"promise\": {\"amount\": 1, \"promised_on\": \"2999-01-01\", "
     "\"customer_id\": \"1\"}", 422, "validation", "promise.customer_id"},
    {"promise amount missing", OK_CALL ", \"promise\": {\"promised_on\": \"2999-01-01\"}", 422, "validation",
     "promise.amount"},
    {"promise amount float", OK_CALL ", \"promise\": {\"amount\": 10.5, \"promised_on\": \"2999-01-01\"}", 422,
     "validation", "promise.amount"},
    {"promise amount 2^53", OK_CALL ", \"promise\": {\"amount\": 9007199254740992, \"promised_on\": \"2999-01-01\"}",
     422, "validation", "promise.amount"},
    {"promise promised_on bad", OK_CALL ", \"promise\": {\"amount\": 1, \"promised_on\": \"2999-13-01\"}", 422,
     "validation", "promise.promised_on"},
    {"promise method bad", OK_CALL ", \"promise\": {\"amount\": 1, \"promised_on\": \"2999-01-01\", \"method\": "
     "\"iou\"}", 422, "validation", "promise.method"},
    {"promise invoice id bad", OK_CALL ", \"promise\": {\"amount\": 1, \"promised_on\": \"2999-01-01\", "
     "\"invoice_ids\": [\"x\"]}", 422, "validation", "promise.invoice_ids[0]"},
    {"dispute not an object", OK_CALL ", \"dispute\": []", 422, "validation", "dispute"},
    {"dispute unknown field", OK_CALL ", \"dispute\": {\"invoice_id\": \"1\", \"reason\": \"pricing\", \"amount\": 1, "
     "\"colour\": \"red\"}", 422, "validation", "dispute.colour"},
    {"dispute reason missing", OK_CALL ", \"dispute\": {\"invoice_id\": \"1\", \"amount\": 1}", 422, "validation",
     "dispute.reason"},
    {"dispute reason unknown", OK_CALL ", \"dispute\": {\"invoice_id\": \"1\", \"reason\": \"mood\", \"amount\": 1}",
     422, "validation", "dispute.reason"},
    {"dispute amount 0", OK_CALL ", \"dispute\": {\"invoice_id\": \"1\", \"reason\": \"pricing\", \"amount\": 0}", 422,
     "validation", "dispute.amount"},
    {"dispute invoice_id missing", OK_CALL ", \"dispute\": {\"reason\": \"pricing\", \"amount\": 1}", 422,
     "validation", "dispute.invoice_id"},
    {"NUL in notes", OK_CALL ", \"notes\": \"a\\u0000b\"", 400, "malformed-json", NULL},
    {"duplicate key", OK_CALL ", \"notes\": \"a\", \"notes\": \"b\"", 400, "malformed-json", NULL},
    {"truncated", OK_CALL ", \"notes\": ", 400, "malformed-json", NULL},
};

/* A call log says which follow-ups it closed, and each follow-up which
 * call closed it. */
static json_t *work_events(const char *customer, size_t min, char *out, size_t size);

static void closes_follow_ups_and_says_so(void **state)
{
  (void)state;
  char cust[32], inv[32], today[16], body[512];
  day(today, 0);
  sql_customer(cust, "Linked Calls Ltd");
  new_invoice(inv, .customer = cust, .amount = 4000, .from = today, .issued_in = -40, .due_in = -10);
  sweep_at(today, 0);
  char *fu = harness_sql("SELECT id FROM follow_ups WHERE customer_id = %s AND status = 'open'", cust);
  assert_non_null(fu);
  struct http_resp r = {0};
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", \"outcome\": \"no_answer\"}",
           cust);
  http(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, body, NULL);
  assert_status(&r, 201);
  char log[32];
  snprintf(log, sizeof log, "%s", jstr(r.json, "id"));
  json_t *closed = json_object_get(r.json, "closed_follow_up_ids");
  assert_int_equal(json_array_size(closed), 1);
  assert_string_equal(json_string_value(json_array_get(closed, 0)), fu);
  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/follow-ups/%s", fu);
  assert_string_equal(jstr(r.json, "closed_reason"), "contact_logged");
  assert_string_equal(jstr(r.json, "closed_by_call_log_id"), log);
  /* The call log reads the same later; a second call has nothing left to close. */
  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/call-logs/%s", log);
  assert_int_equal(json_array_size(json_object_get(r.json, "closed_follow_up_ids")), 1);
  /* Its event carries that same document, the closed follow-up with it. */
  char types[256];
  json_t *events = work_events(cust, 1, types, sizeof types);
  assert_string_equal(types, "call_log.created");
  assert_true(json_equal(json_object_get(json_array_get(events, 0), "data"), r.json));
  json_decref(events);
  http(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, body, NULL);
  assert_status(&r, 201);
  assert_int_equal(json_array_size(json_object_get(r.json, "closed_follow_up_ids")), 0);
  free(fu);
  http_resp_clear(&r);
}

/* A dialer's no-answer or a bounced e-mail names nobody; a conversation
 * (reached, or anything inbound) must say who was spoken to. */
static void nobody_to_name_without_a_conversation(void **state)
{
  (void)state;
  char cust[32], body[512];
  sql_customer(cust, "Unanswered Co");
  struct http_resp r = {0};
  static const char *const attempts[][3] = {
      {"phone", "outbound", "no_answer"}, {"phone", "outbound", "voicemail"}, {"email", "outbound", "bounced"}};
  for (size_t i = 0; i < 3; i++) {
    snprintf(body, sizeof body,
             "{\"customer_id\": \"%s\", \"channel\": \"%s\", \"direction\": \"%s\", \"outcome\": \"%s\"}", cust,
             attempts[i][0], attempts[i][1], attempts[i][2]);
    http(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, body, NULL);
    if (r.status != 201)
      fail_msg("%s %s: %ld %s", attempts[i][0], attempts[i][2], r.status, r.body ? r.body : "");
    assert_true(is_null(r.json, "contact_id"));
    assert_true(is_null(r.json, "contact_name"));
    assert_false(json_is_true(json_object_get(r.json, "successful")));
  }
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"inbound\", \"outcome\": \"reached\"}",
           cust);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "contact_id");
  assert_int_equal(harness_sql_int("SELECT count(*) FROM call_logs WHERE customer_id = %s", cust), 3);
  /* The table says the same to writers other than the API. */
  PGconn *c = PQconnectdb(getenv("DATABASE_URL"));
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  char sql[256];
  snprintf(sql, sizeof sql,
           "INSERT INTO call_logs (customer_id, channel, direction, outcome, occurred_at, logged_by) "
           "VALUES (%s, 'phone', 'outbound', 'reached', now(), 'x')",
           cust);
  PGresult *res = PQexec(c, sql);
  assert_string_equal(PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME), "call_logs_contact_name_check");
  PQclear(res);
  PQfinish(c);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM call_logs WHERE customer_id = %s", cust), 3);
  http_resp_clear(&r);
}

static void bad_input(void **state)
{
  (void)state;
  char cust[32], body[4096];
  sql_customer(cust, "Bad Input Ltd");
  for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
    const struct bad_body *b = &bad_bodies[i];
    if (strcmp(b->label, "truncated") == 0)
      snprintf(body, sizeof body, "{\"customer_id\": \"%s\", %s", cust, b->members);
    else
      snprintf(body, sizeof body, "{\"customer_id\": \"%s\", %s}", cust, b->members);
    refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, b->status, b->problem, b->field);
  }
  /* customer_id: missing, a number, malformed. */
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, "{" OK_CALL "}", 422, "validation", "customer_id");
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, "{\"customer_id\": 1, " OK_CALL "}", 422, "validation",
          "customer_id");
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, "{\"customer_id\": \"1; DROP TABLE call_logs\", " OK_CALL "}", 422,
          "validation", "customer_id");
  /* Notes and logged_by at and past their limits. */
  size_t n = 10001;
  char *big = malloc(n + 256);
  int len = snprintf(big, 256, "{\"customer_id\": \"%s\", " OK_CALL ", \"notes\": \"", cust);
  memset(big + len, 'n', n);
  memcpy(big + len + n, "\"}", 3);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, big, 422, "validation", "notes");
  memcpy(big + len + n - 1, "\"}", 3);
  json_t *d = log_ok(ROLE_COLLECTOR, big);
  assert_int_equal(strlen(jstr(d, "notes")), 10000);
  json_decref(d);
  free(big);
  char name[256];
  memset(name, 'x', 201);
  name[201] = '\0';
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", " OK_CALL ", \"logged_by\": \"%s\"}", cust, name);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "logged_by");

  /* Every bad field at once. */
  struct http_resp r = {0};
  http(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR,
       "{\"channel\": \"fax\", \"direction\": 1, \"satisfaction\": 9, \"extra\": true, \"promise\": {\"x\": 1}}", NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  assert_problem(&r, 422, "validation", "channel");
  assert_problem(&r, 422, "validation", "direction");
  assert_problem(&r, 422, "validation", "outcome");
  assert_problem(&r, 422, "validation", "satisfaction");
  assert_problem(&r, 422, "validation", "extra");
  assert_problem(&r, 422, "validation", "contact_id");
  assert_problem(&r, 422, "validation", "promise.x");
  assert_problem(&r, 422, "validation", "promise.amount");
  assert_problem(&r, 422, "validation", "promise.promised_on");

  /* Bytes that are not a JSON object. */
  char *before = tables_fingerprint(watched);
  static const char bad_utf8[] = "{\"customer_id\": \"1\", \"notes\": \"\xc3\x28\"}";
  http_raw(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, bad_utf8, sizeof bad_utf8 - 1, "application/json", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, "[]", NULL);
  assert_problem(&r, 422, "validation", "(body)");
  http(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, "\"call\"", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http_raw(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, NULL, 0, NULL, NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", " OK_CALL "}", cust);
  http_raw(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, body, strlen(body), "text/plain", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  char *after = tables_fingerprint(watched);
  assert_string_equal(before, after);
  free(before);
  free(after);
  http_resp_clear(&r);
}

static void stored_verbatim(void **state)
{
  (void)state;
  char cust[32], body[2048];
  sql_customer(cust, "Verbatim Calls");
  const char *notes = "'; DROP TABLE call_logs; -- 100% \\\"sure\\\" _x_ \\\\ $1 $$q$$ Ω ✓";
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"portal\", \"direction\": \"outbound\", \"outcome\": \"sent\", "
           "\"contact_name\": \"O'Brien \\\"Jr\\\"\", \"notes\": \"%s\", \"logged_by\": \"' OR 1=1 --\"}",
           cust, notes);
  json_t *d = log_ok(ROLE_COLLECTOR, body);
  assert_string_equal(jstr(d, "notes"), "'; DROP TABLE call_logs; -- 100% \"sure\" _x_ \\ $1 $$q$$ Ω ✓");
  assert_string_equal(jstr(d, "contact_name"), "O'Brien \"Jr\"");
  assert_string_equal(jstr(d, "logged_by"), "' OR 1=1 --");
  char id[32];
  snprintf(id, sizeof id, "%s", jstr(d, "id"));
  json_decref(d);
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/call-logs/%s", id);
  assert_string_equal(jstr(r.json, "notes"), "'; DROP TABLE call_logs; -- 100% \"sure\" _x_ \\ $1 $$q$$ Ω ✓");
  /* The exact-match filter finds it by the same text. */
  http(&r, "GET", "/v1/call-logs?logged_by=%27%20OR%201%3D1%20--", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), id);
  http_resp_clear(&r);
}

static void promise_in_call(void **state)
{
  (void)state;
  char cust[32], other[32], inv[32], paid[32], eur[32], other_inv[32], contact[32], on[16], yesterday[16];
  char body[2048];
  sql_customer(cust, "Promising Call Co");
  sql_customer(other, "Not This One");
  sql_invoice(inv, .customer = cust, .amount = 50000);
  sql_invoice(paid, .customer = cust, .amount = 10000);
  sql_invoice(eur, .customer = cust, .currency = "EUR", .amount = 7000);
  sql_invoice(other_inv, .customer = other, .amount = 1000);
  harness_sql("UPDATE invoices SET balance = 0 WHERE id = %s", paid);
  new_contact(contact, cust, "Fay");
  day(on, 5);
  day(yesterday, -1);

  /* A reached call: the promise covers the call's open invoices, in their
   * currency, and both sides name each other. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\", \"%s\"], \"channel\": \"phone\", \"direction\": "
           "\"outbound\", \"outcome\": \"reached\", \"contact_id\": \"%s\", \"notes\": \"promised\", "
           "\"promise\": {\"amount\": 30000, \"promised_on\": \"%s\", \"method\": \"check\"}}",
           cust, paid, inv, contact, on);
  struct http_resp r = {0};
  http(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, body, NULL);
  assert_status(&r, 201);
  char log[32], prom[32];
  snprintf(log, sizeof log, "%s", jstr(r.json, "id"));
  const json_t *p = json_object_get(r.json, "promise");
  assert_true(json_is_object(p));
  snprintf(prom, sizeof prom, "%s", jstr(p, "id"));
  assert_string_equal(jstr(r.json, "promise_id"), prom);
  assert_string_equal(jstr(p, "call_log_id"), log);
  assert_string_equal(jstr(p, "status"), "pending");
  assert_string_equal(jstr(p, "customer_id"), cust);
  assert_int_equal(jint(p, "amount"), 30000);
  assert_string_equal(jstr(p, "currency"), "USD");
  assert_string_equal(jstr(p, "promised_on"), on);
  assert_string_equal(jstr(p, "method"), "check");
  assert_string_equal(jstr(p, "created_by"), "collector@example.com");
  assert_int_equal(json_array_size(json_object_get(p, "invoice_ids")), 1);
  assert_string_equal(json_string_value(json_array_get(json_object_get(p, "invoice_ids"), 0)), inv);
  assert_true(is_null(r.json, "dispute"));
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/call-logs/%s", log);
  assert_string_equal(jstr(r.json, "promise_id"), prom);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/promises/%s", prom);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "call_log_id"), log);
  assert_string_equal(jstr(r.json, "status"), "pending");

  /* An inbound e-mail: successful too; the promise's own invoices win. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"channel\": \"email\", \"direction\": "
           "\"inbound\", \"outcome\": \"reached\", \"contact_name\": \"Fay\", \"promise\": {\"amount\": 7000, "
           "\"promised_on\": \"%s\", \"invoice_ids\": [\"%s\"]}}",
           cust, inv, on, eur);
  json_t *d = log_ok(ROLE_INTEGRATION, body);
  p = json_object_get(d, "promise");
  assert_string_equal(jstr(p, "currency"), "EUR");
  assert_string_equal(json_string_value(json_array_get(json_object_get(p, "invoice_ids"), 0)), eur);
  assert_string_equal(jstr(p, "created_by"), "integration:crm");
  json_decref(d);

  /* Not a successful contact: no promise, nothing recorded. */
  static const char *const unsuccessful[][3] = {
      {"phone", "outbound", "no_answer"}, {"phone", "outbound", "voicemail"}, {"email", "outbound", "sent"},
      {"sms", "outbound", "refused"},     {"letter", "outbound", "bounced"},  {"visit", "outbound", "no_answer"},
  };
  for (size_t i = 0; i < sizeof unsuccessful / sizeof unsuccessful[0]; i++) {
    snprintf(body, sizeof body,
             "{\"customer_id\": \"%s\", \"channel\": \"%s\", \"direction\": \"%s\", \"outcome\": \"%s\", "
             "\"contact_name\": \"Fay\", \"promise\": {\"amount\": 100, \"promised_on\": \"%s\", \"currency\": "
             "\"USD\"}}",
             cust, unsuccessful[i][0], unsuccessful[i][1], unsuccessful[i][2], on);
    refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "promise");
  }

  /* The promise's rules, named inside it; the call is not recorded either. */
#define PROMISING(promise) \
  "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"channel\": \"phone\", \"direction\": \"outbound\", " \
  "\"outcome\": \"reached\", \"contact_name\": \"Fay\", \"promise\": " promise "}"
  snprintf(body, sizeof body, PROMISING("{\"amount\": 100, \"promised_on\": \"%s\"}"), cust, inv, yesterday);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "promise.promised_on");
  /* Owed on the call's open invoice: 50000. */
  snprintf(body, sizeof body, PROMISING("{\"amount\": 50001, \"promised_on\": \"%s\"}"), cust, inv, on);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "promise.amount");
  snprintf(body, sizeof body, PROMISING("{\"amount\": 100, \"promised_on\": \"%s\", \"currency\": \"EUR\", "
                                        "\"invoice_ids\": [\"%s\"]}"),
           cust, inv, on, inv);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "promise.currency");
  snprintf(body, sizeof body, PROMISING("{\"amount\": 100, \"promised_on\": \"%s\", \"invoice_ids\": [\"%s\"]}"),
           cust, inv, on, other_inv);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "promise.invoice_ids[0]");
  snprintf(body, sizeof body, PROMISING("{\"amount\": 100, \"promised_on\": \"%s\", \"invoice_ids\": [\"%s\"]}"),
           cust, inv, on, paid);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "promise.invoice_ids[0]");
  /* A call about invoices in two currencies: say which. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\", \"%s\"], \"channel\": \"phone\", \"direction\": "
           "\"outbound\", \"outcome\": \"reached\", \"contact_name\": \"Fay\", \"promise\": {\"amount\": 100, "
           "\"promised_on\": \"%s\"}}",
           cust, inv, eur, on);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "promise.currency");
  /* ...which picks the call's invoices in that currency. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\", \"%s\"], \"channel\": \"phone\", \"direction\": "
           "\"outbound\", \"outcome\": \"reached\", \"contact_name\": \"Fay\", \"promise\": {\"amount\": 100, "
           "\"promised_on\": \"%s\", \"currency\": \"EUR\"}}",
           cust, inv, eur, on);
  d = log_ok(ROLE_COLLECTOR, body);
  p = json_object_get(d, "promise");
  assert_int_equal(json_array_size(json_object_get(p, "invoice_ids")), 1);
  assert_string_equal(json_string_value(json_array_get(json_object_get(p, "invoice_ids"), 0)), eur);
  json_decref(d);
  /* No invoices at all: the currency is needed. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", \"outcome\": "
           "\"reached\", \"contact_name\": \"Fay\", \"promise\": {\"amount\": 100, \"promised_on\": \"%s\"}}",
           cust, on);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "promise.currency");
  http_resp_clear(&r);
}

static void dispute_in_call(void **state)
{
  (void)state;
  char cust[32], other[32], inv[32], inv2[32], paid[32], other_inv[32], on[16], body[2048];
  sql_customer(cust, "Disputing Call Co");
  sql_customer(other, "Elsewhere Co");
  sql_invoice(inv, .customer = cust, .amount = 10000);
  sql_invoice(inv2, .customer = cust, .amount = 20000);
  sql_invoice(paid, .customer = cust, .amount = 5000);
  sql_invoice(other_inv, .customer = other, .amount = 5000);
  harness_sql("UPDATE invoices SET balance = 0 WHERE id = %s", paid);
  day(on, 3);
#define DISPUTING(dispute) \
  "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"inbound\", \"outcome\": \"reached\", " \
  "\"contact_name\": \"Gus\", \"invoice_ids\": [\"%s\"], \"dispute\": " dispute "}"

  snprintf(body, sizeof body,
           DISPUTING("{\"invoice_id\": \"%s\", \"reason\": \"damaged\", \"amount\": 2500, \"notes\": \"crate 3\"}"),
           cust, inv, inv);
  struct http_resp r = {0};
  http(&r, "POST", "/v1/call-logs", ROLE_COLLECTOR, body, NULL);
  assert_status(&r, 201);
  char log[32], disp[32];
  snprintf(log, sizeof log, "%s", jstr(r.json, "id"));
  const json_t *dd = json_object_get(r.json, "dispute");
  assert_true(json_is_object(dd));
  snprintf(disp, sizeof disp, "%s", jstr(dd, "id"));
  assert_string_equal(jstr(r.json, "dispute_id"), disp);
  assert_true(is_null(r.json, "promise"));
  assert_string_equal(jstr(dd, "call_log_id"), log);
  assert_string_equal(jstr(dd, "invoice_id"), inv);
  assert_string_equal(jstr(dd, "customer_id"), cust);
  assert_string_equal(jstr(dd, "reason"), "damaged");
  assert_int_equal(jint(dd, "amount"), 2500);
  assert_string_equal(jstr(dd, "notes"), "crate 3");
  assert_string_equal(jstr(dd, "status"), "open");
  assert_string_equal(jstr(dd, "opened_by"), "collector@example.com");
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/call-logs/%s", log);
  assert_string_equal(jstr(r.json, "dispute_id"), disp);
  assert_int_equal(harness_sql_int("SELECT call_log_id FROM disputes WHERE id = %s", disp), atoll(log));

  /* Refused disputes name their field and leave no call log. */
  snprintf(body, sizeof body, DISPUTING("{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 100}"), cust,
           inv, other_inv);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "dispute.invoice_id");
  snprintf(body, sizeof body, DISPUTING("{\"invoice_id\": \"999999999\", \"reason\": \"pricing\", \"amount\": 100}"),
           cust, inv);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "dispute.invoice_id");
  snprintf(body, sizeof body, DISPUTING("{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 20001}"), cust,
           inv, inv2);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 422, "validation", "dispute.amount");
  snprintf(body, sizeof body, DISPUTING("{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 100}"), cust,
           inv, paid);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 409, "conflict", "dispute.invoice_id");
  /* One open dispute per invoice. */
  snprintf(body, sizeof body, DISPUTING("{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 100}"), cust,
           inv, inv);
  refused("POST", "/v1/call-logs", ROLE_COLLECTOR, body, 409, "duplicate", "dispute.invoice_id");

  /* A promise and a dispute in one call. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"visit\", \"direction\": \"outbound\", \"outcome\": \"reached\", "
           "\"contact_name\": \"Gus\", \"invoice_ids\": [\"%s\"], \"promise\": {\"amount\": 15000, \"promised_on\": "
           "\"%s\"}, \"dispute\": {\"invoice_id\": \"%s\", \"reason\": \"quantity\", \"amount\": 5000}}",
           cust, inv2, on, inv2);
  http(&r, "POST", "/v1/call-logs", ROLE_MANAGER, body, NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "promise_id"), jstr(json_object_get(r.json, "promise"), "id"));
  assert_string_equal(jstr(r.json, "dispute_id"), jstr(json_object_get(r.json, "dispute"), "id"));
  assert_string_equal(jstr(json_object_get(r.json, "dispute"), "call_log_id"), jstr(r.json, "id"));
  assert_string_equal(jstr(json_object_get(r.json, "promise"), "call_log_id"), jstr(r.json, "id"));
  http_resp_clear(&r);
}

/* The call log and promise events of CUSTOMER, in feed order, as a new
 * array (decref it) and as "type,type" in OUT.  Waits while the feed holds
 * back events of transactions still running anywhere on the cluster, until
 * at least MIN have come (up to a minute). */
static json_t *work_events(const char *customer, size_t min, char *out, size_t size)
{
  struct http_resp r = {0};
  char path[256];
  snprintf(path, sizeof path, "/v1/events?customer_id=%s&limit=200", customer);
  json_t *found = NULL;
  for (int tries = 0; tries < 1200; tries++) {
    http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
    assert_status(&r, 200);
    json_decref(found);
    found = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r.json, "data"), i, e) {
      const char *rt = jstr(e, "resource_type");
      if (strcmp(rt, "call_log") == 0 || strcmp(rt, "promise") == 0)
        json_array_append(found, e);
    }
    if (json_array_size(found) >= min)
      break;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  http_resp_clear(&r);
  size_t used = 0, i;
  json_t *e;
  out[0] = '\0';
  json_array_foreach(found, i, e)
    used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "", jstr(e, "type"));
  return found;
}

static void events(void **state)
{
  (void)state;
  char cust[32], inv[32], on[16], body[1024], types[512];
  sql_customer(cust, "Eventful Calls");
  sql_invoice(inv, .customer = cust, .amount = 10000);
  day(on, 2);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", \"outcome\": "
           "\"voicemail\", \"contact_name\": \"Hal\"}",
           cust);
  json_t *first = log_ok(ROLE_COLLECTOR, body);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", \"outcome\": "
           "\"reached\", \"contact_name\": \"Hal\", \"invoice_ids\": [\"%s\"], \"promise\": {\"amount\": 10000, "
           "\"promised_on\": \"%s\"}}",
           cust, inv, on);
  json_t *second = log_ok(ROLE_COLLECTOR, body);
  json_t *data = work_events(cust, 3, types, sizeof types);
  assert_string_equal(types, "call_log.created,call_log.created,promise.created");
  json_t *e1 = json_array_get(data, 0), *e2 = json_array_get(data, 1), *e3 = json_array_get(data, 2);
  assert_string_equal(jstr(e1, "resource_id"), jstr(first, "id"));
  assert_string_equal(jstr(e1, "actor"), "collector@example.com");
  assert_string_equal(jstr(json_object_get(e1, "data"), "outcome"), "voicemail");
  /* The event carries the log as committed: with its promise. */
  assert_string_equal(jstr(e2, "resource_id"), jstr(second, "id"));
  assert_string_equal(jstr(json_object_get(e2, "data"), "promise_id"), jstr(json_object_get(second, "promise"), "id"));
  assert_null(json_object_get(json_object_get(e2, "data"), "promise"));
  assert_string_equal(jstr(e3, "resource_id"), jstr(json_object_get(second, "promise"), "id"));
  assert_string_equal(jstr(json_object_get(e3, "data"), "call_log_id"), jstr(second, "id"));
  json_decref(data);
  json_decref(first);
  json_decref(second);
}

/* Logs a call and copies its id to OUT. */
static void call(char out[32], const char *customer, const char *invoices, const char *channel, const char *direction,
                 const char *outcome, const char *occurred_at, const char *logged_by)
{
  char body[1024];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [%s], \"channel\": \"%s\", \"direction\": \"%s\", "
           "\"outcome\": \"%s\", \"contact_name\": \"Ivy\", \"occurred_at\": \"%s\", \"logged_by\": \"%s\"}",
           customer, invoices, channel, direction, outcome, occurred_at, logged_by);
  json_t *d = log_ok(ROLE_COLLECTOR, body);
  snprintf(out, 32, "%s", jstr(d, "id"));
  json_decref(d);
}

static void list_filters_and_pages(void **state)
{
  (void)state;
  char c1[32], c2[32], i1[32], i2[32], l1[32], l2[32], l3[32], l4[32], path[512], quoted[128];
  sql_customer(c1, "List Calls One");
  sql_customer(c2, "List Calls Two");
  sql_invoice(i1, .customer = c1, .amount = 100);
  sql_invoice(i2, .customer = c1, .amount = 100);
  snprintf(quoted, sizeof quoted, "\"%s\", \"%s\"", i1, i2);
  call(l1, c1, quoted, "phone", "outbound", "no_answer", "2025-03-01T10:00:00Z", "ann@example.com");
  snprintf(quoted, sizeof quoted, "\"%s\"", i2);
  call(l2, c1, quoted, "email", "outbound", "sent", "2025-03-02T10:00:00Z", "bob@example.com");
  call(l3, c1, "", "phone", "inbound", "reached", "2025-03-03T10:00:00Z", "ann@example.com");
  call(l4, c2, "", "phone", "outbound", "no_answer", "2025-03-01T10:00:00Z", "ann@example.com");
  struct http_resp r = {0};

  snprintf(path, sizeof path, "/v1/call-logs?customer_id=%s&limit=2", c1);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 2);
  assert_string_equal(data_id(&r, 0), l1);
  assert_string_equal(data_id(&r, 1), l2);
  assert_string_equal(jstr(r.json, "next_cursor"), l2);
  snprintf(path, sizeof path, "/v1/call-logs?customer_id=%s&limit=2&cursor=%s", c1, l2);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), l3);
  assert_true(is_null(r.json, "next_cursor"));

  snprintf(path, sizeof path, "/v1/call-logs?invoice_id=%s", i1);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), l1);
  snprintf(path, sizeof path, "/v1/call-logs?invoice_id=%s", i2);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 2);
  snprintf(path, sizeof path, "/v1/call-logs?customer_id=%s&channel=phone", c1);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 2);
  snprintf(path, sizeof path, "/v1/call-logs?customer_id=%s&direction=inbound", c1);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), l3);
  snprintf(path, sizeof path, "/v1/call-logs?customer_id=%s&outcome=sent", c1);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), l2);
  /* occurred_from includes its instant, occurred_to excludes its own. */
  snprintf(path, sizeof path,
           "/v1/call-logs?customer_id=%s&occurred_from=2025-03-02T10:00:00Z&occurred_to=2025-03-03T10:00:00Z", c1);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), l2);
  snprintf(path, sizeof path, "/v1/call-logs?customer_id=%s&occurred_from=2025-03-02T12:00:00%%2B02:00", c1);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 2);
  snprintf(path, sizeof path, "/v1/call-logs?customer_id=%s&logged_by=ann@example.com", c1);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 2);
  snprintf(path, sizeof path, "/v1/call-logs?logged_by=ann@example.com&outcome=no_answer&channel=phone&"
                              "direction=outbound&occurred_to=2025-03-01T10:00:01Z");
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 2);
  assert_string_equal(data_id(&r, 0), l1);
  assert_string_equal(data_id(&r, 1), l4);
  http(&r, "GET", "/v1/call-logs", ROLE_INTEGRATION, NULL, NULL);
  assert_status(&r, 200);
  assert_true(data_size(&r) >= 4);
  http_resp_clear(&r);
}

static const struct step route_errors[] = {
    {"unknown parameter", "GET", "/v1/call-logs?colour=red", ROLE_ADMIN, NULL, 422, "validation", "colour"},
    {"limit 0", "GET", "/v1/call-logs?limit=0", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"limit 201", "GET", "/v1/call-logs?limit=201", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"cursor text", "GET", "/v1/call-logs?cursor=abc", ROLE_ADMIN, NULL, 422, "validation", "cursor"},
    {"customer_id text", "GET", "/v1/call-logs?customer_id=x", ROLE_ADMIN, NULL, 422, "validation", "customer_id"},
    {"invoice_id injection", "GET", "/v1/call-logs?invoice_id=1%20OR%201=1", ROLE_ADMIN, NULL, 422, "validation",
     "invoice_id"},
    {"channel bogus", "GET", "/v1/call-logs?channel=fax", ROLE_ADMIN, NULL, 422, "validation", "channel"},
    {"direction bogus", "GET", "/v1/call-logs?direction=up", ROLE_ADMIN, NULL, 422, "validation", "direction"},
    {"outcome bogus", "GET", "/v1/call-logs?outcome=happy", ROLE_ADMIN, NULL, 422, "validation", "outcome"},
    {"occurred_from a date", "GET", "/v1/call-logs?occurred_from=2025-01-01", ROLE_ADMIN, NULL, 422, "validation",
     "occurred_from"},
    {"occurred_to bad", "GET", "/v1/call-logs?occurred_to=yesterday", ROLE_ADMIN, NULL, 422, "validation",
     "occurred_to"},
    {"logged_by empty", "GET", "/v1/call-logs?logged_by=", ROLE_ADMIN, NULL, 422, "validation", "logged_by"},
    {"invalid UTF-8", "GET", "/v1/call-logs?logged_by=%C3%28", ROLE_ADMIN, NULL, 400, "bad-request", NULL},
    {"no key", "GET", "/v1/call-logs", NO_KEY, NULL, 401, "unauthorized", NULL},
    {"unknown id", "GET", "/v1/call-logs/999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id text", "GET", "/v1/call-logs/abc", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id zero", "GET", "/v1/call-logs/0", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id too long", "GET", "/v1/call-logs/99999999999999999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"get no key", "GET", "/v1/call-logs/1", NO_KEY, NULL, 401, "unauthorized", NULL},
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
      cmocka_unit_test(defaults),
      cmocka_unit_test(append_only),
      cmocka_unit_test(outcome_fits_channel),
      cmocka_unit_test(checked_against_customer),
      cmocka_unit_test(nobody_to_name_without_a_conversation),
      cmocka_unit_test(closes_follow_ups_and_says_so),
      cmocka_unit_test(bad_input),
      cmocka_unit_test(stored_verbatim),
      cmocka_unit_test(promise_in_call),
      cmocka_unit_test(dispute_in_call),
      cmocka_unit_test(events),
      cmocka_unit_test(list_filters_and_pages),
      cmocka_unit_test(route_errors_test),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
