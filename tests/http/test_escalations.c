/* /v1/escalations and the escalation ladder (SPEC P8): a manager opening
 * one, accepting, climbing, declining, resolving and cancelling, with every
 * error; the policy in the sweep (POST /v1/scheduler/runs {"as_of"})
 * proposing sales after 5 unsuccessful attempts, management at 45 days,
 * legal at 90; the escalation follow-up of the assignee; the hand-off at
 * legal that stops routine dunning; events, the call sheet, lists, roles,
 * and one escalation per customer under concurrency.
 *
 * The scenarios live in the past (BASE: call logs and payments cannot be
 * in the future); a manager's decisions happen now, and the sweep reads
 * them as they are, as it reads an open dispute. */
#include "harness.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A Monday long past. */
#define BASE "2026-03-02"
#define COLLECTOR "maria@example.com"
#define SALES "sam@example.com"
#define MANAGEMENT "credit.manager@example.com"

/* A customer of COLLECTOR with salesperson SALES; EXTRA adds members. */
static void customer(char out[32], const char *name, const char *extra)
{
  char body[512];
  snprintf(body, sizeof body,
           "{\"name\": \"%s\", \"collector\": \"" COLLECTOR "\", \"salesperson\": \"" SALES "\"%s%s}", name,
           *extra ? ", " : "", extra);
  json_t *j = create_ok("/v1/customers", body);
  snprintf(out, 32, "%s", jstr(j, "id"));
  json_decref(j);
}

/* A contact with customer CUS at HH:MM on DATE + DAYS. */
static void contact(const char *cus, const char *date, int days, const char *hhmm, const char *channel,
                    const char *direction, const char *outcome)
{
  char when[40], body[512];
  instant_at(when, date, days, hhmm);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"%s\", \"direction\": \"%s\", \"outcome\": \"%s\", "
           "\"contact_name\": \"Pat (accounts payable)\", \"occurred_at\": \"%s\"}",
           cus, channel, direction, outcome, when);
  json_decref(create_ok("/v1/call-logs", body));
}

static void no_answer(const char *cus, const char *date, int days)
{
  contact(cus, date, days, "10:00", "phone", "outbound", "no_answer");
}

/* A USD payment of AMOUNT received on DATE + DAYS, allocated oldest first. */
static void pay(const char *cus, long long amount, const char *date, int days)
{
  char received[16], body[256];
  date_plus(received, date, days);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": %lld, \"currency\": \"USD\", \"received_on\": \"%s\", "
           "\"method\": \"ach\"}",
           cus, amount, received);
  json_decref(create_ok("/v1/payments", body));
}

/* POST /v1/escalations as a manager; asserts 201 and returns the document. */
static json_t *open_escalation(const char *body)
{
  struct http_resp r = {0};
  http(&r, "POST", "/v1/escalations", ROLE_MANAGER, body, NULL);
  assert_status(&r, 201);
  json_t *j = json_incref(r.json);
  http_resp_clear(&r);
  return j;
}

/* PATCH /v1/escalations/ID as WHO; asserts STATUS; returns the body. */
static json_t *patch(const char *id, const char *body, enum role who, long status)
{
  struct http_resp r = {0};
  httpf(&r, "PATCH", who, body, "/v1/escalations/%s", id);
  assert_status(&r, status);
  json_t *j = json_incref(r.json);
  http_resp_clear(&r);
  return j;
}

static void patch_ok(const char *id, const char *body)
{
  json_decref(patch(id, body, ROLE_MANAGER, 200));
}

static json_t *get_escalation(const char *id)
{
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/escalations/%s", id);
  assert_status(&r, 200);
  json_t *j = json_incref(r.json);
  http_resp_clear(&r);
  return j;
}

/* The customer's proposed or open escalation's id (empty when none). */
static void current(char out[32], const char *cus)
{
  char *id = harness_sql("SELECT id FROM escalations WHERE customer_id = %s AND status IN ('proposed', 'open')", cus);
  snprintf(out, 32, "%s", id ? id : "");
  free(id);
}

/* "status:level:proposed_level:declined_level" of each escalation of CUS, oldest first. */
static void ladder(char *out, size_t size, const char *cus)
{
  char *s = harness_sql("SELECT coalesce(string_agg(concat_ws(':', e.status, e.level, coalesce(e.proposed_level, '-'), "
                        "coalesce(e.declined_level, '-')), ' ' ORDER BY e.id), '') "
                        "FROM escalations e WHERE e.customer_id = %s",
                        cus);
  snprintf(out, size, "%s", s ? s : "");
  free(s);
}

static void expect_ladder(const char *when, const char *cus, const char *want)
{
  char got[512];
  ladder(got, sizeof got, cus);
  if (strcmp(got, want) != 0)
    fail_msg("%s: escalations of customer %s: expected \"%s\", got \"%s\"", when, cus, want, got);
}

/* Follow-ups of CUS for REASON, oldest first: "status:assignee:closed_reason". */
static void expect_follow_ups(const char *when, const char *cus, const char *reason, const char *want)
{
  char *s = harness_sql("SELECT coalesce(string_agg(concat_ws(':', f.status, coalesce(f.assignee, '-'), "
                        "f.closed_reason), ' ' ORDER BY f.id), '') FROM follow_ups f "
                        "WHERE f.customer_id = %s AND f.reason = '%s'",
                        cus, reason);
  if (strcmp(s ? s : "", want) != 0)
    fail_msg("%s: %s follow-ups of customer %s: expected \"%s\", got \"%s\"", when, reason, cus, want, s ? s : "");
  free(s);
}

static long long open_follow_ups(const char *cus, const char *reason)
{
  return harness_sql_int("SELECT count(*) FROM follow_ups WHERE customer_id = %s AND reason = '%s' "
                         "AND status IN ('open', 'snoozed')",
                         cus, reason);
}

static long long count_escalations(void)
{
  return harness_sql_int("SELECT count(*) FROM escalations");
}

static long long count_escalation_events(void)
{
  return harness_sql_int("SELECT count(*) FROM events WHERE resource_type = 'escalation'");
}

/* The type of the newest escalation event (of escalation ID, or any). */
static void last_event(char out[64], const char *id)
{
  char *t = harness_sql("SELECT type FROM events WHERE resource_type = 'escalation' AND ('%s' = '' OR "
                        "resource_id = '%s') ORDER BY id DESC LIMIT 1",
                        id ? id : "", id ? id : "");
  snprintf(out, 64, "%s", t ? t : "");
  free(t);
}

/* ------------------------------------------------------------ the resource */

static void open_get_and_defaults(void **state)
{
  (void)state;
  char cus[32], overdue1[32], overdue2[32], not_due[32], paid[32], today[16], body[512];
  day(today, 0);
  customer(cus, "Escalated Ltd", "");
  new_invoice(overdue2, .customer = cus, .from = today, .issued_in = -60, .due_in = -20, .amount = 7000);
  new_invoice(overdue1, .customer = cus, .from = today, .issued_in = -90, .due_in = -50, .amount = 5000);
  new_invoice(not_due, .customer = cus, .from = today, .issued_in = -5, .due_in = 25, .amount = 3000);
  new_invoice(paid, .customer = cus, .from = today, .issued_in = -90, .due_in = -40, .amount = 2000);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 2000, \"currency\": \"USD\", \"received_on\": \"%s\", "
           "\"method\": \"ach\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 2000}]}",
           cus, today, paid);
  json_decref(create_ok("/v1/payments", body));
  /* A factored invoice is the factor's to collect. */
  char due[16];
  day(due, -30);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"ESC-F1\", \"currency\": \"USD\", \"amount\": 100, "
           "\"issued_on\": \"%s\", \"due_on\": \"%s\", \"factored\": true}",
           cus, due, due);
  json_decref(create_ok("/v1/invoices", body));

  long long events = count_escalation_events();
  struct http_resp r = {0};
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"Ignores our calls\"}",
           cus);
  http(&r, "POST", "/v1/escalations", ROLE_MANAGER, body, NULL);
  assert_status(&r, 201);
  const json_t *e = r.json;
  char id[32], loc[64];
  snprintf(id, sizeof id, "%s", jstr(e, "id"));
  snprintf(loc, sizeof loc, "/v1/escalations/%s", id);
  assert_string_equal(r.location, loc);
  assert_string_equal(r.etag, "\"1\"");
  assert_string_equal(jstr(e, "customer_id"), cus);
  assert_string_equal(jstr(e, "level"), "sales");
  assert_string_equal(jstr(e, "status"), "open");
  assert_string_equal(jstr(e, "reason"), "Ignores our calls");
  /* Sales goes to the account's salesperson. */
  assert_string_equal(jstr(e, "assignee"), SALES);
  /* Its invoices: the open ones past due, oldest due first. */
  char ids[128];
  snprintf(ids, sizeof ids, "[\"%s\",\"%s\"]", overdue1, overdue2);
  expect_json(e, "invoice_ids", ids);
  assert_true(is_null(e, "proposed_level"));
  assert_true(is_null(e, "declined_level"));
  assert_true(is_null(e, "outcome"));
  assert_true(is_null(e, "outcome_notes"));
  assert_false(json_is_true(json_object_get(e, "handed_off")));
  assert_string_equal(jstr(e, "proposed_by"), "manager@example.com");
  assert_string_equal(jstr(e, "opened_by"), "manager@example.com");
  assert_true(ts_shape_ok(jstr(e, "proposed_at")));
  assert_true(ts_shape_ok(jstr(e, "opened_at")));
  assert_true(is_null(e, "closed_at"));
  assert_true(is_null(e, "closed_by"));
  assert_true(is_null(e, "run_id"));
  assert_int_equal(jint(e, "version"), 1);
  assert_true(ts_shape_ok(jstr(e, "created_at")));
  assert_true(ts_shape_ok(jstr(e, "updated_at")));
  const json_t *h = json_object_get(e, "history");
  assert_int_equal(json_array_size(h), 1);
  assert_string_equal(jstr(json_array_get(h, 0), "level"), "sales");
  assert_string_equal(jstr(json_array_get(h, 0), "opened_by"), "manager@example.com");
  assert_string_equal(jstr(json_array_get(h, 0), "assignee"), SALES);
  assert_string_equal(jstr(json_array_get(h, 0), "opened_at"), jstr(e, "opened_at"));
  json_t *created = json_incref(r.json);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/escalations/%s", id);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"1\"");
  assert_true(json_equal(r.json, created));
  json_decref(created);
  assert_int_equal(count_escalation_events(), events + 1);
  char type[64];
  last_event(type, id);
  assert_string_equal(type, "escalation.opened");

  /* One per customer: a second one names the first. */
  long long n = count_escalations();
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"legal\", \"reason\": \"Letter\"}", cus);
  http(&r, "POST", "/v1/escalations", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 409, "conflict", "customer_id");
  if (!strstr(jstr(r.json, "detail"), id))
    fail_msg("the conflict does not name escalation %s: %s", id, jstr(r.json, "detail"));
  assert_int_equal(count_escalations(), n);
  assert_int_equal(count_escalation_events(), events + 1);

  /* Without a salesperson, sales goes to the collector; above sales to the
   * configured management handle; a named assignee (or none) wins; explicit
   * invoices keep the body's order; [] is the account as a whole. */
  char plain[32], inv[32];
  snprintf(body, sizeof body, "{\"name\": \"No Sales Rep\", \"collector\": \"" COLLECTOR "\"}");
  json_t *c = create_ok("/v1/customers", body);
  snprintf(plain, sizeof plain, "%s", jstr(c, "id"));
  json_decref(c);
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"r\"}", plain);
  json_t *j = open_escalation(body);
  assert_string_equal(jstr(j, "assignee"), COLLECTOR);
  expect_json(j, "invoice_ids", "[]");
  patch_ok(jstr(j, "id"), "{\"status\": \"cancelled\"}");
  json_decref(j);
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"management\", \"reason\": \"r\"}", plain);
  j = open_escalation(body);
  assert_string_equal(jstr(j, "assignee"), MANAGEMENT);
  assert_false(json_is_true(json_object_get(j, "handed_off")));
  patch_ok(jstr(j, "id"), "{\"status\": \"cancelled\"}");
  json_decref(j);
  char other[32];
  new_invoice(inv, .customer = plain, .from = today, .issued_in = -40, .due_in = -10, .amount = 1000);
  new_invoice(other, .customer = plain, .from = today, .issued_in = -40, .due_in = -12, .amount = 1000);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"level\": \"agency\", \"reason\": \"r\", \"assignee\": null, "
           "\"invoice_ids\": [\"%s\", \"%s\"]}",
           plain, inv, other);
  j = open_escalation(body);
  assert_true(is_null(j, "assignee"));
  snprintf(ids, sizeof ids, "[\"%s\",\"%s\"]", inv, other);
  expect_json(j, "invoice_ids", ids);
  assert_true(json_is_true(json_object_get(j, "handed_off")));
  assert_true(is_null(json_array_get(json_object_get(j, "history"), 0), "assignee"));
  patch_ok(jstr(j, "id"), "{\"status\": \"cancelled\"}");
  json_decref(j);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"level\": \"legal\", \"reason\": \"r\", \"assignee\": \"lawyer@example.com\", "
           "\"invoice_ids\": []}",
           plain);
  j = open_escalation(body);
  assert_string_equal(jstr(j, "assignee"), "lawyer@example.com");
  expect_json(j, "invoice_ids", "[]");
  assert_true(json_is_true(json_object_get(j, "handed_off")));
  json_decref(j);
  http_resp_clear(&r);
}

/* Each row: a create body that must be refused.  "%C" stands for a
 * customer id, "%I" for one of its invoices. */
struct bad_body {
  const char *label;
  const char *tmpl;
  long status;
  const char *problem, *field;
};

static const struct bad_body bad_creates[] = {
    {"customer_id missing", "{\"level\": \"sales\", \"reason\": \"r\"}", 422, "validation", "customer_id"},
    {"customer_id number", "{\"customer_id\": 5, \"level\": \"sales\", \"reason\": \"r\"}", 422, "validation",
     "customer_id"},
    {"customer_id null", "{\"customer_id\": null, \"level\": \"sales\", \"reason\": \"r\"}", 422, "validation",
     "customer_id"},
    {"customer_id injection", "{\"customer_id\": \"1 OR 1=1\", \"level\": \"sales\", \"reason\": \"r\"}", 422,
     "validation", "customer_id"},
    {"customer_id 2^53+1", "{\"customer_id\": 9007199254740993, \"level\": \"sales\", \"reason\": \"r\"}", 422,
     "validation", "customer_id"},
    {"customer_id past int64", "{\"customer_id\": 99999999999999999999, \"level\": \"sales\", \"reason\": \"r\"}",
     400, "malformed-json", NULL},
    {"customer_id float", "{\"customer_id\": 1.5, \"level\": \"sales\", \"reason\": \"r\"}", 422, "validation",
     "customer_id"},
    {"customer unknown", "{\"customer_id\": \"999999999\", \"level\": \"sales\", \"reason\": \"r\"}", 422,
     "validation", "customer_id"},
    {"level missing", "{\"customer_id\": \"%C\", \"reason\": \"r\"}", 422, "validation", "level"},
    {"level bogus", "{\"customer_id\": \"%C\", \"level\": \"police\", \"reason\": \"r\"}", 422, "validation",
     "level"},
    {"level upper", "{\"customer_id\": \"%C\", \"level\": \"SALES\", \"reason\": \"r\"}", 422, "validation", "level"},
    {"level null", "{\"customer_id\": \"%C\", \"level\": null, \"reason\": \"r\"}", 422, "validation", "level"},
    {"level number", "{\"customer_id\": \"%C\", \"level\": 2, \"reason\": \"r\"}", 422, "validation", "level"},
    {"reason missing", "{\"customer_id\": \"%C\", \"level\": \"sales\"}", 422, "validation", "reason"},
    {"reason empty", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"  \"}", 422, "validation",
     "reason"},
    {"reason number", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": 5}", 422, "validation", "reason"},
    {"reason null", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": null}", 422, "validation", "reason"},
    {"invoice_ids object", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"r\", \"invoice_ids\": {}}",
     422, "validation", "invoice_ids"},
    {"invoice_ids null", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"r\", \"invoice_ids\": null}",
     422, "validation", "invoice_ids"},
    {"invoice_ids number item",
     "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"r\", \"invoice_ids\": [\"%I\", 7]}", 422,
     "validation", "invoice_ids[1]"},
    {"invoice_ids twice",
     "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"r\", \"invoice_ids\": [\"%I\", \"%I\"]}", 422,
     "validation", "invoice_ids[1]"},
    {"invoice unknown",
     "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"r\", \"invoice_ids\": [\"%I\", \"999999999\"]}",
     422, "validation", "invoice_ids[1]"},
    {"assignee number", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"r\", \"assignee\": 5}", 422,
     "validation", "assignee"},
    {"assignee empty", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"r\", \"assignee\": \"\"}", 422,
     "validation", "assignee"},
    {"status given", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"r\", \"status\": \"proposed\"}",
     422, "validation", "status"},
    {"outcome given", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"r\", \"outcome\": \"paid\"}",
     422, "validation", "outcome"},
    {"history given", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"r\", \"history\": []}", 422,
     "validation", "history"},
    {"unknown field", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"r\", \"colour\": \"red\"}", 422,
     "validation", "colour"},
    {"duplicate key", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"level\": \"legal\", \"reason\": \"r\"}", 400,
     "malformed-json", NULL},
    {"NUL in reason", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"a\\u0000b\"}", 400,
     "malformed-json", NULL},
    {"number 1e400", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"r\", \"assignee\": 1e400}", 400,
     "malformed-json", NULL},
    {"array body", "[1]", 422, "validation", "(body)"},
    {"empty object", "{}", 422, "validation", "customer_id"},
    {"malformed", "{\"customer_id\": ", 400, "malformed-json", NULL},
    {"trailing garbage", "{\"customer_id\": \"%C\", \"level\": \"sales\", \"reason\": \"r\"} x", 400,
     "malformed-json", NULL},
};

/* TMPL with %C and %I replaced. */
static void fill(char *out, size_t size, const char *tmpl, const char *cus, const char *inv)
{
  size_t o = 0;
  for (const char *p = tmpl; *p && o + 1 < size; p++) {
    if (p[0] == '%' && (p[1] == 'C' || p[1] == 'I')) {
      o += (size_t)snprintf(out + o, size - o, "%s", p[1] == 'C' ? cus : inv);
      p++;
    } else {
      out[o++] = *p;
    }
  }
  out[o < size ? o : size - 1] = '\0';
}

static void create_errors(void **state)
{
  (void)state;
  char cus[32], inv[32], other[32], foreign[32], paid[32], body[1024], today[16];
  day(today, 0);
  customer(cus, "Bad Input Escalations", "");
  customer(other, "Someone Else", "");
  new_invoice(inv, .customer = cus, .from = today, .issued_in = -40, .due_in = -10, .amount = 10000);
  new_invoice(paid, .customer = cus, .from = today, .issued_in = -40, .due_in = -10, .amount = 500);
  new_invoice(foreign, .customer = other, .from = today, .issued_in = -40, .due_in = -10, .amount = 10000);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 500, \"currency\": \"USD\", \"received_on\": \"%s\", "
           "\"method\": \"ach\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 500}]}",
           cus, today, paid);
  json_decref(create_ok("/v1/payments", body));
  long long n = count_escalations(), events = count_escalation_events();
  struct http_resp r = {0};
  for (size_t i = 0; i < sizeof bad_creates / sizeof bad_creates[0]; i++) {
    const struct bad_body *b = &bad_creates[i];
    fill(body, sizeof body, b->tmpl, cus, inv);
    http(&r, "POST", "/v1/escalations", ROLE_MANAGER, body, NULL);
    if (r.status != b->status)
      fail_msg("[%s] expected %ld, got %ld: %s", b->label, b->status, r.status, r.body ? r.body : "");
    assert_problem(&r, b->status, b->problem, b->field);
  }
  /* The invoices must be open invoices of the customer. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"r\", \"invoice_ids\": [\"%s\", \"%s\"]}",
           cus, inv, foreign);
  http(&r, "POST", "/v1/escalations", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 422, "validation", "invoice_ids[1]");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"r\", \"invoice_ids\": [\"%s\"]}", cus,
           paid);
  http(&r, "POST", "/v1/escalations", ROLE_MANAGER, body, NULL);
  assert_problem(&r, 422, "validation", "invoice_ids[0]");
  /* Every bad field at once. */
  http(&r, "POST", "/v1/escalations", ROLE_MANAGER,
       "{\"customer_id\": 1, \"level\": \"x\", \"reason\": \"\", \"assignee\": [], \"extra\": true}", NULL);
  static const char *const all[] = {"customer_id", "level", "reason", "assignee", "extra"};
  for (size_t i = 0; i < 5; i++)
    assert_problem(&r, 422, "validation", all[i]);
  /* Reason: at most 10000 characters (characters, not bytes). */
  char *big = malloc(40200);
  int k = snprintf(big, 200, "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"", cus);
  for (int i = 0; i < 10001; i++) {
    memcpy(big + k, "\xce\xa9", 2);
    k += 2;
  }
  memcpy(big + k, "\"}", 3);
  http(&r, "POST", "/v1/escalations", ROLE_MANAGER, big, NULL);
  assert_problem(&r, 422, "validation", "reason");
  free(big);
  /* Invalid UTF-8, no body, wrong media type. */
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"\xff\xfe\"}", cus);
  http_raw(&r, "POST", "/v1/escalations", ROLE_MANAGER, body, strlen(body), "application/json", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http_raw(&r, "POST", "/v1/escalations", ROLE_MANAGER, NULL, 0, NULL, NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"r\"}", cus);
  http_raw(&r, "POST", "/v1/escalations", ROLE_MANAGER, body, strlen(body), "text/plain", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  /* Roles: managers and admins decide. */
  static const enum role refused[] = {ROLE_COLLECTOR, ROLE_VIEWER, ROLE_INTEGRATION};
  for (size_t i = 0; i < 3; i++) {
    http(&r, "POST", "/v1/escalations", refused[i], body, NULL);
    assert_problem(&r, 403, "forbidden", NULL);
  }
  http(&r, "POST", "/v1/escalations", NO_KEY, body, NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  /* None of it changed anything. */
  assert_int_equal(count_escalations(), n);
  assert_int_equal(count_escalation_events(), events);
  /* The same body from an admin: accepted. */
  http(&r, "POST", "/v1/escalations", ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "opened_by"), "admin@example.com");
  http_resp_clear(&r);
}

static void stored_verbatim(void **state)
{
  (void)state;
  char cus[32], body[1024], id[32];
  customer(cus, "Verbatim Escalations", "");
  const char *text = "'); DROP TABLE escalations;-- 100% \\\"q\\\" _x_ \\\\ $1 $$y$$ \xce\xa9";
  const char *stored = "'); DROP TABLE escalations;-- 100% \"q\" _x_ \\ $1 $$y$$ \xce\xa9";
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"level\": \"management\", \"reason\": \"%s\", \"assignee\": \"%s\"}", cus, text,
           text);
  json_t *e = open_escalation(body);
  snprintf(id, sizeof id, "%s", jstr(e, "id"));
  assert_string_equal(jstr(e, "reason"), stored);
  /* A handle: stored in lower case (src/util/handles.sql), Ω included. */
  assert_string_equal(jstr(e, "assignee"), "'); drop table escalations;-- 100% \"q\" _x_ \\ $1 $$y$$ \xcf\x89");
  json_decref(e);
  char *db = harness_sql("SELECT reason FROM escalations WHERE id = %s", id);
  assert_string_equal(db, stored);
  free(db);
  snprintf(body, sizeof body, "{\"status\": \"resolved\", \"outcome\": \"other\", \"outcome_notes\": \"%s\"}", text);
  e = patch(id, body, ROLE_MANAGER, 200);
  assert_string_equal(jstr(e, "outcome_notes"), stored);
  json_decref(e);
  assert_true(count_escalations() >= 1);
}

/* A proposal as the policy makes it, for tests of a manager's decisions. */
static void proposal(char out[32], const char *cus, const char *level)
{
  char *id = harness_sql("INSERT INTO escalations (customer_id, level, reason, assignee, status, proposed_by) "
                         "VALUES (%s, '%s', '5 unsuccessful attempts', '" SALES "', 'proposed', 'policy') "
                         "RETURNING id",
                         cus, level);
  snprintf(out, 32, "%s", id);
  free(id);
}

static void accept_climb_decline_resolve(void **state)
{
  (void)state;
  char cus[32], id[32];
  customer(cus, "Decisions Ltd", "");
  proposal(id, cus, "sales");

  /* Proposed: accepted or cancelled, nothing else. */
  json_t *e;
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"resolved\", \"outcome\": \"paid\"}", "/v1/escalations/%s", id);
  assert_problem(&r, 409, "conflict", "status");
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"level\": \"legal\"}", "/v1/escalations/%s", id);
  assert_problem(&r, 409, "conflict", "level");
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"proposed_level\": null}", "/v1/escalations/%s", id);
  assert_problem(&r, 409, "conflict", "proposed_level");
  assert_int_equal(harness_sql_int("SELECT version FROM escalations WHERE id = %s", id), 1);
  /* The assignee may be named before accepting; accepting keeps it. */
  e = patch(id, "{\"assignee\": \"pat@example.com\"}", ROLE_MANAGER, 200);
  assert_string_equal(jstr(e, "status"), "proposed");
  assert_string_equal(jstr(e, "assignee"), "pat@example.com");
  assert_int_equal(json_array_size(json_object_get(e, "history")), 0);
  json_decref(e);
  e = patch(id, "{\"status\": \"open\"}", ROLE_MANAGER, 200);
  assert_string_equal(jstr(e, "status"), "open");
  assert_string_equal(jstr(e, "level"), "sales");
  assert_string_equal(jstr(e, "assignee"), "pat@example.com");
  assert_string_equal(jstr(e, "opened_by"), "manager@example.com");
  assert_true(ts_shape_ok(jstr(e, "opened_at")));
  assert_string_equal(jstr(e, "proposed_by"), "policy");
  assert_int_equal(json_array_size(json_object_get(e, "history")), 1);
  json_decref(e);
  /* Accepting again is no change. */
  e = patch(id, "{\"status\": \"open\"}", ROLE_MANAGER, 200);
  assert_int_equal(jint(e, "version"), 3);
  json_decref(e);

  /* Open: only upward. */
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"level\": \"sales\"}", "/v1/escalations/%s", id);
  assert_problem(&r, 409, "conflict", "level");
  if (!strstr(jstr(r.json, "detail"), "management, legal, agency"))
    fail_msg("the refusal does not list the higher levels: %s", jstr(r.json, "detail"));
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"proposed_level\": null}", "/v1/escalations/%s", id);
  assert_problem(&r, 409, "conflict", "proposed_level");
  /* The policy proposes management (as the sweep would); declined. */
  free(harness_sql("UPDATE escalations SET proposed_level = 'management' WHERE id = %s", id));
  e = patch(id, "{\"proposed_level\": null}", ROLE_MANAGER, 200);
  assert_true(is_null(e, "proposed_level"));
  assert_string_equal(jstr(e, "declined_level"), "management");
  assert_string_equal(jstr(e, "level"), "sales");
  json_decref(e);
  /* A manager climbs all the same, to legal: handed off, the management
   * handle by default, a history entry. */
  e = patch(id, "{\"level\": \"legal\"}", ROLE_ADMIN, 200);
  assert_string_equal(jstr(e, "level"), "legal");
  assert_string_equal(jstr(e, "assignee"), MANAGEMENT);
  assert_true(json_is_true(json_object_get(e, "handed_off")));
  const json_t *h = json_object_get(e, "history");
  assert_int_equal(json_array_size(h), 2);
  assert_string_equal(jstr(json_array_get(h, 1), "level"), "legal");
  assert_string_equal(jstr(json_array_get(h, 1), "opened_by"), "admin@example.com");
  assert_string_equal(jstr(json_array_get(h, 1), "assignee"), MANAGEMENT);
  assert_string_equal(jstr(e, "opened_by"), "manager@example.com"); /* first opened */
  json_decref(e);
  /* Legal with a proposal of agency (a manager's own climb takes it). */
  free(harness_sql("UPDATE escalations SET proposed_level = 'agency' WHERE id = %s", id));
  e = patch(id, "{\"level\": \"agency\", \"assignee\": \"collect-co@example.com\"}", ROLE_MANAGER, 200);
  assert_string_equal(jstr(e, "assignee"), "collect-co@example.com");
  assert_true(is_null(e, "proposed_level"));
  json_decref(e);
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"level\": \"agency\"}", "/v1/escalations/%s", id);
  assert_problem(&r, 409, "conflict", "level");
  e = patch(id, "{\"assignee\": null}", ROLE_MANAGER, 200);
  assert_true(is_null(e, "assignee"));
  assert_int_equal(json_array_size(json_object_get(e, "history")), 3);
  json_decref(e);

  /* Resolved: an outcome is required; then nothing changes any more. */
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"resolved\"}", "/v1/escalations/%s", id);
  assert_problem(&r, 422, "validation", "outcome");
  e = patch(id, "{\"status\": \"resolved\", \"outcome\": \"sent_to_agency\", \"outcome_notes\": \"file 7\"}",
            ROLE_MANAGER, 200);
  assert_string_equal(jstr(e, "status"), "resolved");
  assert_string_equal(jstr(e, "outcome"), "sent_to_agency");
  assert_string_equal(jstr(e, "outcome_notes"), "file 7");
  assert_string_equal(jstr(e, "closed_by"), "manager@example.com");
  assert_true(ts_shape_ok(jstr(e, "closed_at")));
  assert_false(json_is_true(json_object_get(e, "handed_off")));
  json_t *closed = json_incref(e);
  json_decref(e);
  static const char *const after[] = {"{\"assignee\": \"x@example.com\"}", "{\"status\": \"cancelled\"}",
                                      "{\"level\": \"agency\"}", "{\"status\": \"open\"}",
                                      "{\"status\": \"resolved\", \"outcome\": \"paid\"}"};
  for (size_t i = 0; i < 5; i++) {
    httpf(&r, "PATCH", ROLE_MANAGER, after[i], "/v1/escalations/%s", id);
    assert_problem(&r, 409, "conflict", NULL);
  }
  e = patch(id, "{}", ROLE_MANAGER, 200);
  assert_true(json_equal(e, closed));
  json_decref(e);
  json_decref(closed);

  /* A new one is allowed once the old one is closed.  Accepted at another
   * level: that level's default assignee; or a named one. */
  char id2[32], id3[32], id4[32];
  proposal(id2, cus, "sales");
  e = patch(id2, "{\"status\": \"open\", \"level\": \"management\"}", ROLE_MANAGER, 200);
  assert_string_equal(jstr(e, "level"), "management");
  assert_string_equal(jstr(e, "assignee"), MANAGEMENT);
  json_decref(e);
  e = patch(id2, "{\"status\": \"cancelled\", \"outcome_notes\": \"account sold\"}", ROLE_MANAGER, 200);
  assert_string_equal(jstr(e, "status"), "cancelled");
  assert_true(is_null(e, "outcome"));
  assert_string_equal(jstr(e, "outcome_notes"), "account sold");
  json_decref(e);
  proposal(id3, cus, "management");
  e = patch(id3, "{\"status\": \"open\", \"level\": \"sales\", \"assignee\": \"rep@example.com\"}", ROLE_MANAGER, 200);
  assert_string_equal(jstr(e, "level"), "sales");
  assert_string_equal(jstr(e, "assignee"), "rep@example.com");
  assert_string_equal(jstr(json_array_get(json_object_get(e, "history"), 0), "assignee"), "rep@example.com");
  json_decref(e);
  e = patch(id3, "{\"status\": \"cancelled\"}", ROLE_ADMIN, 200);
  json_decref(e);
  /* A proposal cancelled: declined for good. */
  proposal(id4, cus, "legal");
  e = patch(id4, "{\"status\": \"cancelled\", \"outcome_notes\": \"not worth it\"}", ROLE_MANAGER, 200);
  assert_string_equal(jstr(e, "status"), "cancelled");
  assert_true(is_null(e, "opened_at"));
  assert_int_equal(json_array_size(json_object_get(e, "history")), 0);
  json_decref(e);
  http_resp_clear(&r);
}

/* Each row: a PATCH body that does not fit whatever the state. */
static const struct bad_body bad_patches[] = {
    {"status proposed", "{\"status\": \"proposed\"}", 422, "validation", "status"},
    {"status bogus", "{\"status\": \"closed\"}", 422, "validation", "status"},
    {"status null", "{\"status\": null}", 422, "validation", "status"},
    {"level bogus", "{\"level\": \"court\"}", 422, "validation", "level"},
    {"level null", "{\"level\": null}", 422, "validation", "level"},
    {"proposed_level set", "{\"proposed_level\": \"legal\"}", 422, "validation", "proposed_level"},
    {"proposed_level with level", "{\"proposed_level\": null, \"level\": \"legal\"}", 422, "validation",
     "proposed_level"},
    {"proposed_level with status", "{\"proposed_level\": null, \"status\": \"cancelled\"}", 422, "validation",
     "proposed_level"},
    {"outcome without status", "{\"outcome\": \"paid\"}", 422, "validation", "outcome"},
    {"outcome when cancelling", "{\"status\": \"cancelled\", \"outcome\": \"paid\"}", 422, "validation", "outcome"},
    {"outcome bogus", "{\"status\": \"resolved\", \"outcome\": \"won\"}", 422, "validation", "outcome"},
    {"resolved without outcome", "{\"status\": \"resolved\"}", 422, "validation", "outcome"},
    {"outcome_notes alone", "{\"outcome_notes\": \"x\"}", 422, "validation", "outcome_notes"},
    {"outcome_notes number", "{\"status\": \"cancelled\", \"outcome_notes\": 5}", 422, "validation", "outcome_notes"},
    {"level when resolving", "{\"status\": \"resolved\", \"outcome\": \"paid\", \"level\": \"legal\"}", 422,
     "validation", "level"},
    {"assignee when cancelling", "{\"status\": \"cancelled\", \"assignee\": \"x@example.com\"}", 422, "validation",
     "assignee"},
    {"assignee number", "{\"assignee\": 7}", 422, "validation", "assignee"},
    {"reason is fixed", "{\"reason\": \"other\"}", 422, "validation", "reason"},
    {"customer is fixed", "{\"customer_id\": \"1\"}", 422, "validation", "customer_id"},
    {"invoices are fixed", "{\"invoice_ids\": []}", 422, "validation", "invoice_ids"},
    {"unknown field", "{\"closed_by\": \"me\"}", 422, "validation", "closed_by"},
    {"history given", "{\"history\": []}", 422, "validation", "history"},
    {"array body", "[]", 422, "validation", "(body)"},
    {"malformed", "{\"status\": \"open\"", 400, "malformed-json", NULL},
    {"duplicate key", "{\"status\": \"open\", \"status\": \"cancelled\"}", 400, "malformed-json", NULL},
    {"number past int64", "{\"assignee\": 123456789012345678901234}", 400, "malformed-json", NULL},
};

static void patch_errors(void **state)
{
  (void)state;
  char cus[32], id[32], body[256];
  customer(cus, "Patch Rules Ltd", "");
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"r\"}", cus);
  json_t *e = open_escalation(body);
  snprintf(id, sizeof id, "%s", jstr(e, "id"));
  json_decref(e);
  long long events = count_escalation_events();
  struct http_resp r = {0};
  char path[64];
  snprintf(path, sizeof path, "/v1/escalations/%s", id);
  for (size_t i = 0; i < sizeof bad_patches / sizeof bad_patches[0]; i++) {
    const struct bad_body *b = &bad_patches[i];
    http(&r, "PATCH", path, ROLE_MANAGER, b->tmpl, NULL);
    if (r.status != b->status)
      fail_msg("[%s] expected %ld, got %ld: %s", b->label, b->status, r.status, r.body ? r.body : "");
    assert_problem(&r, b->status, b->problem, b->field);
  }
  char longer[300];
  snprintf(longer, sizeof longer, "{\"assignee\": \"%0201d\"}", 0);
  http(&r, "PATCH", path, ROLE_MANAGER, longer, NULL);
  assert_problem(&r, 422, "validation", "assignee");
  static const char bad_utf8[] = "{\"assignee\": \"\xc3\x28\"}";
  http_raw(&r, "PATCH", path, ROLE_MANAGER, bad_utf8, sizeof bad_utf8 - 1, "application/json", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http_raw(&r, "PATCH", path, ROLE_MANAGER, "{}", 2, "text/plain", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  static const enum role refused[] = {ROLE_COLLECTOR, ROLE_VIEWER, ROLE_INTEGRATION};
  for (size_t i = 0; i < 3; i++) {
    http(&r, "PATCH", path, refused[i], "{\"level\": \"legal\"}", NULL);
    assert_problem(&r, 403, "forbidden", NULL);
  }
  http(&r, "PATCH", path, NO_KEY, "{\"level\": \"legal\"}", NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  /* Nothing of that changed it. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM escalations WHERE id = %s AND version = 1 AND "
                                   "level = 'sales' AND status = 'open'",
                                   id),
                   1);
  assert_int_equal(count_escalation_events(), events);

  /* If-Match: stale refused, current accepted. */
  e = patch(id, "{\"assignee\": \"a@example.com\"}", ROLE_MANAGER, 200);
  json_decref(e);
  static const char *const stale[] = {"If-Match: \"1\"", NULL};
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"level\": \"legal\"}", stale);
  assert_problem(&r, 412, "precondition-failed", NULL);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM escalations WHERE id = %s AND version = 2 AND level = 'sales'",
                                   id),
                   1);
  static const char *const fresh[] = {"If-Match: \"2\"", NULL};
  http(&r, "PATCH", path, ROLE_MANAGER, "{\"level\": \"management\"}", fresh);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"3\"");
  http_resp_clear(&r);
}

static const struct step item_errors[] = {
    {"unknown id", "GET", "/v1/escalations/999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id zero", "GET", "/v1/escalations/0", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id text", "GET", "/v1/escalations/abc", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id injection", "GET", "/v1/escalations/1%20OR%201=1", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"id too long", "GET", "/v1/escalations/99999999999999999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
    {"patch unknown", "PATCH", "/v1/escalations/999999999", ROLE_MANAGER, "{\"assignee\": \"x\"}", 404, "not-found",
     NULL},
    {"patch bad id", "PATCH", "/v1/escalations/x1", ROLE_MANAGER, "{}", 404, "not-found", NULL},
    {"get no key", "GET", "/v1/escalations/1", NO_KEY, NULL, 401, "unauthorized", NULL},
    {"delete", "DELETE", "/v1/escalations/1", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
    {"put", "PUT", "/v1/escalations/1", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
    {"post item", "POST", "/v1/escalations/1", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
    {"list delete", "DELETE", "/v1/escalations", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
    {"list patch", "PATCH", "/v1/escalations", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
    {"list no key", "GET", "/v1/escalations", NO_KEY, NULL, 401, "unauthorized", NULL},
    {"unknown parameter", "GET", "/v1/escalations?colour=red", ROLE_ADMIN, NULL, 422, "validation", "colour"},
    {"limit 0", "GET", "/v1/escalations?limit=0", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"limit 201", "GET", "/v1/escalations?limit=201", ROLE_ADMIN, NULL, 422, "validation", "limit"},
    {"cursor text", "GET", "/v1/escalations?cursor=abc", ROLE_ADMIN, NULL, 422, "validation", "cursor"},
    {"customer_id text", "GET", "/v1/escalations?customer_id=x", ROLE_ADMIN, NULL, 422, "validation", "customer_id"},
    {"customer_id injection", "GET", "/v1/escalations?customer_id=1%27%3B--", ROLE_ADMIN, NULL, 422, "validation",
     "customer_id"},
    {"status bogus", "GET", "/v1/escalations?status=closed", ROLE_ADMIN, NULL, 422, "validation", "status"},
    {"level bogus", "GET", "/v1/escalations?level=court", ROLE_ADMIN, NULL, 422, "validation", "level"},
    {"assignee empty", "GET", "/v1/escalations?assignee=", ROLE_ADMIN, NULL, 422, "validation", "assignee"},
    {"invalid UTF-8", "GET", "/v1/escalations?assignee=%FF", ROLE_ADMIN, NULL, 400, "bad-request", NULL},
};

static void item_and_list_errors(void **state)
{
  (void)state;
  run_steps(item_errors, sizeof item_errors / sizeof item_errors[0]);
}

static void list_filters_and_pages(void **state)
{
  (void)state;
  char a[32], b[32], e1[32], e2[32], e3[32], e4[32], path[256], body[256];
  customer(a, "List A", "");
  customer(b, "List B", "");
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"r\"}", a);
  json_t *e = open_escalation(body);
  snprintf(e1, sizeof e1, "%s", jstr(e, "id"));
  json_decref(e);
  patch_ok(e1, "{\"status\": \"cancelled\"}");
  proposal(e2, a, "management");
  patch_ok(e2, "{\"status\": \"open\", \"assignee\": \"boss@example.com\"}");
  patch_ok(e2, "{\"status\": \"resolved\", \"outcome\": \"paid\"}");
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"legal\", \"reason\": \"r\"}", a);
  e = open_escalation(body);
  snprintf(e3, sizeof e3, "%s", jstr(e, "id"));
  json_decref(e);
  proposal(e4, b, "sales");

  struct http_resp r = {0};
  snprintf(path, sizeof path, "/v1/escalations?customer_id=%s", a);
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 3);
  assert_string_equal(data_id(&r, 0), e1);
  assert_string_equal(data_id(&r, 1), e2);
  assert_string_equal(data_id(&r, 2), e3);
  assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
  static const struct {
    const char *qs;
    const char *want;
  } filters[] = {
      {"status=cancelled", "1"}, {"status=resolved", "2"}, {"status=open", "3"}, {"status=proposed", ""},
      {"level=legal", "3"},      {"level=management", "2"}, {"assignee=boss%40example.com", "2"},
      {"assignee=" MANAGEMENT, "3"}, {"level=sales&status=cancelled", "1"}, {"level=agency", ""},
  };
  const char *ids[] = {NULL, e1, e2, e3};
  for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
    snprintf(path, sizeof path, "/v1/escalations?customer_id=%s&%s", a, filters[i].qs);
    http(&r, "GET", path, ROLE_COLLECTOR, NULL, NULL);
    assert_status(&r, 200);
    if (!*filters[i].want) {
      assert_int_equal(data_size(&r), 0);
      continue;
    }
    if (data_size(&r) != 1 || strcmp(data_id(&r, 0), ids[filters[i].want[0] - '0']) != 0)
      fail_msg("%s: %s", filters[i].qs, r.body);
  }
  snprintf(path, sizeof path, "/v1/escalations?status=proposed&customer_id=%s", b);
  http(&r, "GET", path, ROLE_INTEGRATION, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), e4);
  http(&r, "GET", "/v1/escalations?customer_id=999999999", ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 0);

  /* One at a time through the cursor: the same three, in order. */
  char cursor[32] = "";
  const char *want[] = {e1, e2, e3};
  size_t got = 0;
  for (int guard = 0; guard < 10; guard++) {
    snprintf(path, sizeof path, "/v1/escalations?customer_id=%s&limit=1%s%s", a, cursor[0] ? "&cursor=" : "", cursor);
    http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
    assert_status(&r, 200);
    if (data_size(&r) == 0)
      break;
    assert_true(got < 3);
    assert_string_equal(data_id(&r, 0), want[got++]);
    const char *next = jstr(r.json, "next_cursor");
    if (!next)
      break;
    snprintf(cursor, sizeof cursor, "%s", next);
  }
  assert_int_equal(got, 3);
  http_resp_clear(&r);
}

/* Reads the feed with QS until at least MIN events came (the feed holds
 * back events while older transactions run on the cluster). */
static json_t *feed(const char *qs, size_t min)
{
  struct http_resp r = {0};
  char path[512];
  for (int tries = 0; tries < 200; tries++) {
    snprintf(path, sizeof path, "/v1/events?limit=200&%s", qs);
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

/* The event types of PAGE for escalation ID, in feed order. */
static void types_for(const json_t *page, const char *id, char *out, size_t size)
{
  size_t used = 0, i;
  json_t *e;
  out[0] = '\0';
  json_array_foreach(json_object_get(page, "data"), i, e) {
    if (strcmp(jstr(e, "resource_id"), id) == 0)
      used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "", jstr(e, "type"));
  }
}

static void events(void **state)
{
  (void)state;
  char cus[32], id[32], id2[32], qs[128], types[512];
  customer(cus, "Eventful Escalations", "");
  proposal(id, cus, "sales");                               /* escalation.proposed (actor system) */
  patch_ok(id, "{\"status\": \"open\"}");                   /* opened */
  patch_ok(id, "{\"assignee\": \"rep@example.com\"}");      /* updated */
  free(harness_sql("UPDATE escalations SET proposed_level = 'management' WHERE id = %s", id)); /* proposed */
  patch_ok(id, "{\"proposed_level\": null}");               /* updated (declined) */
  patch_ok(id, "{\"level\": \"legal\"}");                   /* updated (climb) */
  patch_ok(id, "{\"assignee\": \"rep@example.com\"}");      /* updated */
  patch_ok(id, "{\"assignee\": \"rep@example.com\"}");      /* no change: no event */
  json_decref(patch(id, "{\"level\": \"sales\"}", ROLE_MANAGER, 409)); /* refused: no event */
  patch_ok(id, "{\"status\": \"resolved\", \"outcome\": \"legal_action\"}");
  proposal(id2, cus, "management");
  patch_ok(id2, "{\"status\": \"cancelled\"}");

  snprintf(qs, sizeof qs, "resource_type=escalation&customer_id=%s", cus);
  json_t *page = feed(qs, 10);
  types_for(page, id, types, sizeof types);
  assert_string_equal(types, "escalation.proposed,escalation.opened,escalation.updated,escalation.proposed,"
                             "escalation.updated,escalation.updated,escalation.updated,escalation.resolved");
  types_for(page, id2, types, sizeof types);
  assert_string_equal(types, "escalation.proposed,escalation.cancelled");
  size_t i;
  json_t *ev;
  json_array_foreach(json_object_get(page, "data"), i, ev) {
    const json_t *data = json_object_get(ev, "data");
    assert_string_equal(jstr(ev, "customer_id"), cus);
    assert_string_equal(jstr(data, "id"), jstr(ev, "resource_id"));
    if (strcmp(jstr(ev, "type"), "escalation.opened") == 0) {
      assert_string_equal(jstr(ev, "actor"), "manager@example.com");
      assert_string_equal(jstr(data, "status"), "open");
    }
    if (strcmp(jstr(ev, "type"), "escalation.resolved") == 0)
      assert_string_equal(jstr(data, "outcome"), "legal_action");
  }
  json_decref(page);
}

/* The call sheet shows the escalation being worked, and nothing once it is
 * closed. */
static void call_sheet(void **state)
{
  (void)state;
  char cus[32], body[256], id[32];
  customer(cus, "Sheet Ltd", "");
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/customers/%s/call-sheet", cus);
  assert_status(&r, 200);
  assert_true(is_null(r.json, "escalation"));
  proposal(id, cus, "sales");
  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/customers/%s/call-sheet", cus);
  assert_string_equal(jstr(json_object_get(r.json, "escalation"), "status"), "proposed");
  patch_ok(id, "{\"status\": \"cancelled\"}");
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"legal\", \"reason\": \"r\"}", cus);
  json_t *e = open_escalation(body);
  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/customers/%s/call-sheet", cus);
  json_t *sheet = json_object_get(r.json, "escalation");
  assert_true(json_equal(sheet, e));
  assert_true(json_is_true(json_object_get(sheet, "handed_off")));
  patch_ok(jstr(e, "id"), "{\"status\": \"resolved\", \"outcome\": \"letter_sent\"}");
  json_decref(e);
  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/customers/%s/call-sheet", cus);
  assert_true(is_null(r.json, "escalation"));
  http_resp_clear(&r);
}

/* Concurrent openings for one customer: exactly one escalation. */
static void concurrent_opens(void **state)
{
  (void)state;
  char cus[32];
  customer(cus, "Racing Escalations", "");
  enum { N = 8 };
  static const char *const lv[] = {"sales", "management", "legal", "agency"};
  struct racer rc[N];
  for (int i = 0; i < N; i++) {
    memset(&rc[i], 0, sizeof rc[i]);
    rc[i].who = ROLE_MANAGER;
    snprintf(rc[i].url, sizeof rc[i].url, "%s/v1/escalations", harness_base());
    snprintf(rc[i].body, sizeof rc[i].body, "{\"customer_id\": \"%s\", \"level\": \"%s\", \"reason\": \"racer %d\"}",
             cus, lv[i % 4], i);
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
  assert_int_equal(harness_sql_int("SELECT count(*) FROM escalations WHERE customer_id = %s", cus), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE resource_type = 'escalation' AND "
                                   "customer_id = %s",
                                   cus),
                   1);
}

/* Defaults outside a server session: no management handle configured →
 * unassigned. */
static void default_assignee_unconfigured(void **state)
{
  (void)state;
  char cus[32];
  customer(cus, "Defaults Ltd", "");
  char *v = harness_sql("SELECT coalesce(arc_escalation_assignee(c, 'management'), '(none)') FROM customers c "
                        "WHERE c.id = %s",
                        cus);
  assert_string_equal(v, "(none)");
  free(v);
  v = harness_sql("SELECT arc_escalation_assignee(c, 'sales') FROM customers c WHERE c.id = %s", cus);
  assert_string_equal(v, SALES);
  free(v);
  v = harness_sql("SELECT set_config('arc.management_assignee', 'boss@example.com', false), "
                  "arc_escalation_assignee(c, 'agency') FROM customers c WHERE c.id = %s",
                  cus);
  free(v);
  v = harness_sql("SELECT arc_escalation_assignee(c, 'legal') FROM customers c WHERE c.id = %s", cus);
  assert_string_equal(v, "boss@example.com");
  free(v);
  free(harness_sql("SELECT set_config('arc.management_assignee', '', false)"));
}

/* ------------------------------------------------------------ the policy */

/* The ladder (SPEC P8, issue 5) for an account that never answers: five
 * unanswered calls → sales proposed; accepted → the salesperson's
 * escalation follow-up; 45 days → management proposed; accepted → the
 * follow-up moves to the management handle; 90 days → legal proposed;
 * accepted → handed off, routine follow-ups close and none are made; it
 * pays → resolved paid, nothing more proposed. */
static void ladder_climbs(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], today[16];
  day(today, 0);
  customer(cus, "Never Answers Ltd", "");
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 90000);
  sweep_at(BASE, 1);
  for (int d = 1; d <= 4; d++)
    no_answer(cus, BASE, d);
  sweep_at(BASE, 5);
  expect_ladder("4 attempts", cus, "");
  no_answer(cus, BASE, 5);
  /* An attempt after the sweep's instant does not count yet. */
  contact(cus, BASE, 6, "15:00", "phone", "outbound", "voicemail");
  json_t *run = sweep_at_doc(BASE, 6);
  expect_ladder("5 attempts", cus, "proposed:sales:-:-");
  current(id, cus);
  json_t *e = get_escalation(id);
  assert_string_equal(jstr(e, "reason"), "5 unsuccessful attempts and no successful contact yet");
  assert_string_equal(jstr(e, "proposed_by"), "policy");
  assert_true(recorded_now(jstr(e, "proposed_at"))); /* real time, not the replayed as_of */
  assert_string_equal(jstr(e, "run_id"), jstr(run, "id"));
  assert_string_equal(jstr(e, "assignee"), SALES);
  char ids[64];
  snprintf(ids, sizeof ids, "[\"%s\"]", inv);
  expect_json(e, "invoice_ids", ids);
  json_decref(e);
  /* A proposal is an event, not a follow-up. */
  json_t *created = json_object_get(run, "created");
  assert_null(json_object_get(created, "escalation"));
  json_decref(run);
  expect_follow_ups("proposed", cus, "escalation", "");

  /* Accepted: the salesperson's follow-up, due the day it was accepted. */
  patch_ok(id, "{\"status\": \"open\"}");
  sweep_at(BASE, 7);
  expect_follow_ups("sales", cus, "escalation", "open:" SALES "");
  char *fu = harness_sql("SELECT id FROM follow_ups WHERE customer_id = %s AND reason = 'escalation'", cus);
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/follow-ups/%s", fu);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "escalation_id"), id);
  assert_string_equal(jstr(r.json, "due_on"), today);
  assert_int_equal(jint(r.json, "amount_overdue"), 90000);
  assert_string_equal(jstr(r.json, "currency"), "USD");
  expect_json(r.json, "invoice_ids", ids);
  free(fu);
  /* On the salesperson's worklist today. */
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/follow-ups?assignee=%s&customer_id=%s", SALES, cus);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "reason"), "escalation");
  /* A call does not close it (internal work). */
  no_answer(cus, BASE, 7);
  expect_follow_ups("after a call", cus, "escalation", "open:" SALES "");
  /* Another assignee named: the same follow-up moves to them. */
  patch_ok(id, "{\"assignee\": \"rep2@example.com\"}");
  sweep_at(BASE, 8);
  expect_follow_ups("reassigned", cus, "escalation", "open:rep2@example.com");

  /* 45 days overdue: management proposed (not on day 44). */
  sweep_at(BASE, 44);
  expect_ladder("day 44", cus, "open:sales:-:-");
  sweep_at(BASE, 45);
  expect_ladder("day 45", cus, "open:sales:management:-");
  char type[64];
  last_event(type, id);
  assert_string_equal(type, "escalation.proposed");
  e = patch(id, "{\"level\": \"management\"}", ROLE_MANAGER, 200);
  assert_string_equal(jstr(e, "assignee"), MANAGEMENT);
  json_decref(e);
  sweep_at(BASE, 46);
  expect_follow_ups("management", cus, "escalation", "done:rep2@example.com:cause_gone open:" MANAGEMENT "");
  assert_int_equal(harness_sql_int("SELECT count(*) FROM follow_ups WHERE customer_id = %s AND reason = 'escalation' "
                                   "AND closed_reason = 'cause_gone' AND closed_at > now() - interval '10 minutes'",
                                   cus),
                   1);
  /* Routine dunning goes on below legal. */
  assert_int_equal(open_follow_ups(cus, "retry"), 1);

  /* 90 days: legal proposed; accepted: handed off. */
  sweep_at(BASE, 89);
  expect_ladder("day 89", cus, "open:management:-:-");
  sweep_at(BASE, 90);
  expect_ladder("day 90", cus, "open:management:legal:-");
  e = patch(id, "{\"level\": \"legal\"}", ROLE_MANAGER, 200);
  assert_true(json_is_true(json_object_get(e, "handed_off")));
  json_decref(e);
  sweep_at(BASE, 91);
  expect_follow_ups("legal", cus, "escalation",
                    "done:rep2@example.com:cause_gone done:" MANAGEMENT ":cause_gone open:" MANAGEMENT "");
  assert_int_equal(open_follow_ups(cus, "retry"), 0);
  assert_int_equal(open_follow_ups(cus, "overdue"), 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM follow_ups WHERE customer_id = %s AND status = 'open' "
                                   "AND reason <> 'escalation'",
                                   cus),
                   0);
  /* Calls while handed off make no retry. */
  no_answer(cus, BASE, 92);
  sweep_at(BASE, 95);
  sweep_at(BASE, 96);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM follow_ups WHERE customer_id = %s AND status = 'open' "
                                   "AND reason <> 'escalation'",
                                   cus),
                   0);
  expect_ladder("handed off", cus, "open:legal:-:-");

  /* It pays: resolved paid by the sweep, at its as_of; the follow-up
   * closes; routine work is back (a thank-you); nothing more proposed. */
  pay(cus, 90000, BASE, 96);
  sweep_at(BASE, 97);
  expect_ladder("paid", cus, "resolved:legal:-:-");
  e = get_escalation(id);
  assert_string_equal(jstr(e, "outcome"), "paid");
  assert_string_equal(jstr(e, "closed_by"), "system");
  assert_true(recorded_now(jstr(e, "closed_at")));
  assert_false(json_is_true(json_object_get(e, "handed_off")));
  json_decref(e);
  expect_follow_ups("paid", cus, "escalation",
                    "done:rep2@example.com:cause_gone done:" MANAGEMENT ":cause_gone done:" MANAGEMENT ":cause_gone");
  assert_int_equal(open_follow_ups(cus, "thank_you"), 1);
  sweep_at(BASE, 140);
  expect_ladder("long after", cus, "resolved:legal:-:-");
  http_resp_clear(&r);
}

/* Attempts count since the last successful contact; an e-mail sent is an
 * attempt too; a reached call starts the count again. */
static void attempts_since_success(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32];
  customer(cus, "Answers Once Ltd", "");
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 5000);
  for (int d = 1; d <= 4; d++)
    no_answer(cus, BASE, d);
  contact(cus, BASE, 5, "10:00", "phone", "outbound", "reached");
  for (int d = 6; d <= 8; d++)
    no_answer(cus, BASE, d);
  contact(cus, BASE, 9, "10:00", "email", "outbound", "sent");
  sweep_at(BASE, 10);
  expect_ladder("4 since the talk", cus, "");
  /* An inbound contact is a success too. */
  contact(cus, BASE, 10, "12:00", "email", "inbound", "reached");
  for (int d = 11; d <= 14; d++)
    no_answer(cus, BASE, d);
  sweep_at(BASE, 15);
  expect_ladder("4 since the inbound mail", cus, "");
  no_answer(cus, BASE, 15);
  sweep_at(BASE, 16);
  expect_ladder("5 since", cus, "proposed:sales:-:-");
  current(id, cus);
  json_t *e = get_escalation(id);
  assert_string_equal(jstr(e, "reason"), "5 unsuccessful attempts since the last successful contact");
  assert_string_equal(jstr(e, "assignee"), SALES);
  json_decref(e);
  /* Not decided by day 45: it waits at its rung (the ladder); once the
   * manager opens it, management is proposed to it. */
  sweep_at(BASE, 45);
  expect_ladder("45 days", cus, "proposed:sales:-:-");
  patch_ok(id, "{\"status\": \"open\"}");
  sweep_at(BASE, 46);
  expect_ladder("opened", cus, "open:sales:management:-");
}

/* An account that never had an escalation gets the ladder's first rung,
 * whatever its policy level: 100 days overdue at its first sweep is a
 * sales proposal, not legal; each rung a manager takes (or refuses) brings
 * the next one, up to the policy's level.  No other escalation row is
 * written, and one event per proposal. */
static void ladder_one_rung_at_a_time(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], id2[32];
  customer(cus, "Long Silent Ltd", "");
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 70000);
#define EVENTS "SELECT count(*) FROM events WHERE resource_type = 'escalation' AND customer_id = %s"
  long long events = harness_sql_int(EVENTS, cus);
  sweep_at(BASE, 100);
  expect_ladder("first sweep at 100 days", cus, "proposed:sales:-:-");
  assert_int_equal(harness_sql_int(EVENTS, cus), events + 1);
  current(id, cus);
  json_t *e = get_escalation(id);
  assert_string_equal(jstr(e, "reason"), "100 days overdue");
  assert_string_equal(jstr(e, "assignee"), SALES);
  json_decref(e);
  sweep_at(BASE, 101);
  expect_ladder("undecided", cus, "proposed:sales:-:-");
  assert_int_equal(harness_sql_int(EVENTS, cus), events + 1);
  /* Opened: management is proposed to it, then legal once that is taken. */
  patch_ok(id, "{\"status\": \"open\"}");
  sweep_at(BASE, 102);
  expect_ladder("sales open", cus, "open:sales:management:-");
  patch_ok(id, "{\"level\": \"management\"}");
  sweep_at(BASE, 103);
  expect_ladder("management open", cus, "open:management:legal:-");
  /* A manager who refuses a rung gets the next one proposed. */
  char other[32];
  customer(other, "Long Silent Two Ltd", "");
  new_invoice(inv, .customer = other, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 70000);
  sweep_at(BASE, 104);
  expect_ladder("other, first", other, "proposed:sales:-:-");
  current(id2, other);
  patch_ok(id2, "{\"status\": \"cancelled\"}");
  sweep_at(BASE, 105);
  expect_ladder("other, sales refused", other, "cancelled:sales:-:- proposed:management:-:-");
#undef EVENTS
}

/* A proposal a manager cancelled is not proposed again in the same overdue
 * episode; the next rung is.  An undecided proposal stays at its rung. */
static void cancelled_not_again(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], id2[32];
  customer(cus, "Cancelled Ltd", "");
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 8000);
  for (int d = 1; d <= 5; d++)
    no_answer(cus, BASE, d);
  sweep_at(BASE, 6);
  current(id, cus);
  patch_ok(id, "{\"status\": \"cancelled\", \"outcome_notes\": \"owner in hospital\"}");
  no_answer(cus, BASE, 8);
  sweep_at(BASE, 7);
  sweep_at(BASE, 9);
  sweep_at(BASE, 44);
  expect_ladder("after cancelling", cus, "cancelled:sales:-:-");
  sweep_at(BASE, 45);
  expect_ladder("45 days", cus, "cancelled:sales:-:- proposed:management:-:-");
  current(id2, cus);
  json_t *e = get_escalation(id2);
  assert_string_equal(jstr(e, "reason"), "45 days overdue");
  assert_string_equal(jstr(e, "assignee"), MANAGEMENT);
  json_decref(e);
  /* Nobody looked at it: at 90 days it still waits at its rung, and
   * nothing is written for it. */
#define MINE "SELECT count(*) FROM events WHERE resource_type = 'escalation' AND customer_id = %s"
  long long events = harness_sql_int(MINE, cus);
  sweep_at(BASE, 90);
  expect_ladder("90 days", cus, "cancelled:sales:-:- proposed:management:-:-");
  assert_int_equal(harness_sql_int(MINE, cus), events);
  /* Cancelled: the next rung, legal. */
  patch_ok(id2, "{\"status\": \"cancelled\"}");
  sweep_at(BASE, 91);
  expect_ladder("management cancelled", cus, "cancelled:sales:-:- cancelled:management:-:- proposed:legal:-:-");
  char id3[32];
  current(id3, cus);
  e = get_escalation(id3);
  assert_string_equal(jstr(e, "reason"), "91 days overdue");
  json_decref(e);
  assert_int_equal(harness_sql_int(MINE, cus), events + 2); /* the cancel, the proposal */
#undef MINE
  char type[64];
  last_event(type, id3);
  assert_string_equal(type, "escalation.proposed");
  /* Cancelled too: nothing more this episode. */
  patch_ok(id3, "{\"status\": \"cancelled\"}");
  sweep_at(BASE, 120);
  expect_ladder("all cancelled", cus, "cancelled:sales:-:- cancelled:management:-:- cancelled:legal:-:-");
}

/* A declined climb is not proposed again; a higher one is. */
static void declined_climb(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], body[256];
  customer(cus, "Declined Ltd", "");
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 8000);
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"Big account\"}", cus);
  json_t *e = open_escalation(body);
  snprintf(id, sizeof id, "%s", jstr(e, "id"));
  json_decref(e);
  sweep_at(BASE, 45);
  expect_ladder("45 days", cus, "open:sales:management:-");
  patch_ok(id, "{\"proposed_level\": null}");
  sweep_at(BASE, 46);
  sweep_at(BASE, 89);
  expect_ladder("declined", cus, "open:sales:-:management");
  sweep_at(BASE, 90);
  expect_ladder("90 days", cus, "open:sales:legal:management");
  patch_ok(id, "{\"proposed_level\": null}");
  sweep_at(BASE, 120);
  expect_ladder("both declined", cus, "open:sales:-:legal");
}

/* While handed off, no routine follow-up of any kind: check_in,
 * confirm_receipt, thank_you, overdue, retry; internal work goes on.  Once
 * the escalation is closed, routine work resumes. */
static void handed_off_stops_routine(void **state)
{
  (void)state;
  char cus[32], fresh[32], inv[32], inv2[32], body[256], id[32], id2[32], today[16];
  day(today, 0);
  customer(cus, "Handed Off Ltd", "\"check_in_days\": 5");
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 50000);
  contact(cus, BASE, -10, "10:00", "phone", "outbound", "reached");
  sweep_at(BASE, 1);
  expect_follow_ups("overdue", cus, "overdue", "open:" COLLECTOR "");
  /* A new customer (nothing paid): an invoice to confirm. */
  customer(fresh, "Handed Off New Ltd", "");
  json_t *e;
  new_invoice(inv2, .customer = fresh, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 4000);
  char inv3[32];
  new_invoice(inv3, .customer = fresh, .from = BASE, .issued_in = 2, .due_in = 40, .amount = 4000);

  /* Thanked for a part payment the day before it is handed off. */
  char thanked[32], inv4[32], id3[32];
  customer(thanked, "Handed Off Thanked Ltd", "");
  new_invoice(inv4, .customer = thanked, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 6000);
  contact(thanked, BASE, -5, "10:00", "phone", "outbound", "no_answer");
  pay(thanked, 1000, BASE, 1);
  sweep_at(BASE, 2);
  expect_follow_ups("thanked", thanked, "thank_you", "open:" COLLECTOR "");
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"legal\", \"reason\": \"r\"}", thanked);
  e = open_escalation(body);
  snprintf(id3, sizeof id3, "%s", jstr(e, "id"));
  json_decref(e);

  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"legal\", \"reason\": \"Letter before action\"}",
           cus);
  e = open_escalation(body);
  snprintf(id, sizeof id, "%s", jstr(e, "id"));
  json_decref(e);
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"agency\", \"reason\": \"Sold the debt\"}", fresh);
  e = open_escalation(body);
  snprintf(id2, sizeof id2, "%s", jstr(e, "id"));
  json_decref(e);
  /* A dispute on the handed-off account is still worked. */
  char disputed[32];
  new_invoice(disputed, .customer = cus, .from = BASE, .issued_in = -28, .due_in = 2, .amount = 2000);
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 100}", disputed);
  json_t *d = create_ok("/v1/disputes", body);
  char dispute[32];
  snprintf(dispute, sizeof dispute, "%s", jstr(d, "id"));
  json_decref(d);
  /* A part payment after a call would be thanked for. */
  pay(cus, 1000, BASE, 4);

  sweep_at(BASE, 5);
  expect_follow_ups("handed off", cus, "overdue", "done:" COLLECTOR ":cause_gone");
  expect_follow_ups("handed off", cus, "check_in", "");
  expect_follow_ups("handed off", cus, "thank_you", "");
  expect_follow_ups("handed off", cus, "resolve_dispute", "open:" COLLECTOR "");
  expect_follow_ups("handed off", cus, "escalation", "open:" MANAGEMENT "");
  expect_follow_ups("handed off", fresh, "confirm_receipt", "");
  expect_follow_ups("handed off", fresh, "overdue", "done:" COLLECTOR ":cause_gone");
  expect_follow_ups("handed off", fresh, "escalation", "open:" MANAGEMENT "");
  expect_follow_ups("handed off", thanked, "thank_you", "done:" COLLECTOR ":cause_gone");
  /* The escalation follow-up of a handed-off account carries its open,
   * past-due balance all the same (no dunnable balance there), disputed
   * invoices included. */
  assert_int_equal(harness_sql_int("SELECT amount_overdue FROM follow_ups WHERE customer_id = %s AND "
                                   "reason = 'escalation'",
                                   cus),
                   51000);
  no_answer(cus, BASE, 6);
  sweep_at(BASE, 9);
  expect_follow_ups("still handed off", cus, "retry", "");
  expect_follow_ups("still handed off", cus, "check_in", "");

  /* Closed by a manager: routine work comes back at the next sweep. */
  patch_ok(id, "{\"status\": \"resolved\", \"outcome\": \"letter_sent\"}");
  patch_ok(id2, "{\"status\": \"cancelled\"}");
  sweep_at(BASE, 10);
  expect_follow_ups("resolved", cus, "escalation", "done:" MANAGEMENT ":cause_gone");
  assert_int_equal(open_follow_ups(cus, "retry"), 1);
  assert_int_equal(open_follow_ups(cus, "thank_you"), 1);
  assert_int_equal(open_follow_ups(fresh, "confirm_receipt"), 1);
  assert_int_equal(open_follow_ups(fresh, "overdue"), 1);
  /* The manager resolved legal while the account stays overdue: not
   * proposed again at 90 days in this episode. */
  sweep_at(BASE, 91);
  expect_ladder("resolved by hand", cus, "resolved:legal:-:-");
}

/* A manager's refusal counts for its overdue episode only, also when the
 * days are replayed (proposed_at is real time; the proposal's day is its
 * run's): paid, and overdue again later, the account starts at sales. */
static void new_episode_starts_at_sales(void **state)
{
  (void)state;
  char cus[32], inv[32], inv2[32], id[32];
  customer(cus, "Episodes Ltd", "");
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 4000);
  for (int d = 1; d <= 5; d++)
    no_answer(cus, BASE, d);
  sweep_at(BASE, 6);
  current(id, cus);
  patch_ok(id, "{\"status\": \"cancelled\"}");
  pay(cus, 4000, BASE, 7);
  sweep_at(BASE, 8);
  new_invoice(inv2, .customer = cus, .from = BASE, .issued_in = 0, .due_in = 10, .amount = 6000);
  for (int d = 12; d <= 16; d++)
    no_answer(cus, BASE, d);
  sweep_at(BASE, 17);
  expect_ladder("overdue again", cus, "cancelled:sales:-:- proposed:sales:-:-");
}

/* Settled without anyone: all written off → written_off; a proposal whose
 * invoices are paid → cancelled by the system. */
static void settled_by_the_sweep(void **state)
{
  (void)state;
  char w[32], p[32], inv[32], inv2[32], body[256], id[32];
  customer(w, "Written Off Ltd", "");
  new_invoice(inv, .customer = w, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 3000);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"level\": \"agency\", \"reason\": \"r\", \"invoice_ids\": [\"%s\"]}", w, inv);
  json_t *e = open_escalation(body);
  snprintf(id, sizeof id, "%s", jstr(e, "id"));
  json_decref(e);
  struct http_resp r = {0};
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"written_off\"}", "/v1/invoices/%s", inv);
  assert_status(&r, 200);
  http_resp_clear(&r);
  sweep_at(BASE, 100);
  e = get_escalation(id);
  assert_string_equal(jstr(e, "status"), "resolved");
  assert_string_equal(jstr(e, "outcome"), "written_off");
  assert_string_equal(jstr(e, "closed_by"), "system");
  json_decref(e);

  /* Its invoices paid, a handed-off account is dunned in the same sweep
   * for what the escalation was not about. */
  char h[32], a[32], b[32];
  customer(h, "Back To Dunning Ltd", "");
  new_invoice(a, .customer = h, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 3000);
  new_invoice(b, .customer = h, .from = BASE, .issued_in = -20, .due_in = 10, .amount = 2000);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"level\": \"legal\", \"reason\": \"r\", \"invoice_ids\": [\"%s\"]}", h, a);
  json_decref(open_escalation(body));
  sweep_at(BASE, 20);
  assert_int_equal(open_follow_ups(h, "overdue"), 0);
  char received[16];
  date_plus(received, BASE, 20);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 3000, \"currency\": \"USD\", \"received_on\": \"%s\", "
           "\"method\": \"wire\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 3000}]}",
           h, received, a);
  json_decref(create_ok("/v1/payments", body));
  sweep_at(BASE, 21);
  expect_ladder("its invoice paid", h, "resolved:legal:-:-");
  assert_int_equal(open_follow_ups(h, "overdue"), 1);

  customer(p, "Pays Before Ltd", "");
  new_invoice(inv2, .customer = p, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 3000);
  sweep_at(BASE, 50);
  expect_ladder("proposed", p, "proposed:sales:-:-");
  pay(p, 3000, BASE, 51);
  sweep_at(BASE, 52);
  expect_ladder("paid", p, "cancelled:sales:-:-");
  char *closed_by =
      harness_sql("SELECT closed_by || '/' || coalesce(outcome, '-') FROM escalations WHERE customer_id = %s", p);
  assert_string_equal(closed_by, "system/-");
  free(closed_by);
  sweep_at(BASE, 100);
  expect_ladder("nothing owed", p, "cancelled:sales:-:-");
}

/* A sweep repeated for the same as_of changes no escalation and makes no
 * event or follow-up. */
static void idempotent(void **state)
{
  (void)state;
  char a[32], b[32], inv[32], id[32];
  customer(a, "Twice A Ltd", "");
  customer(b, "Twice B Ltd", "");
  new_invoice(inv, .customer = a, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 1000);
  new_invoice(inv, .customer = b, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 1000);
  sweep_at(BASE, 50);
  current(id, b);
  patch_ok(id, "{\"status\": \"open\"}");
  sweep_at(BASE, 95);
  expect_ladder("first", a, "proposed:sales:-:-");
  expect_ladder("first", b, "open:sales:management:-");
  static const char *const escalations[] = {"escalations", NULL}, *const follow_ups[] = {"follow_ups", NULL};
  char *before = tables_fingerprint(escalations), *fbefore = tables_fingerprint(follow_ups);
  long long events = harness_sql_int("SELECT count(*) FROM events");
  json_t *again = sweep_at_doc(BASE, 95);
  char *created = json_dumps(json_object_get(again, "created"), JSON_COMPACT);
  char *closed = json_dumps(json_object_get(again, "closed"), JSON_COMPACT);
  assert_string_equal(created, "{}");
  assert_string_equal(closed, "{}");
  free(created);
  free(closed);
  json_decref(again);
  char *after = tables_fingerprint(escalations), *fafter = tables_fingerprint(follow_ups);
  assert_string_equal(before, after);
  assert_string_equal(fbefore, fafter);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events"), events);
  free(before);
  free(after);
  free(fbefore);
  free(fafter);
}

/* A manager's decision committed while a sweep waits on the same row: the
 * sweep does not write over it (it writes only the version it read).  The
 * manager climbs an open sales escalation to management by hand while the
 * sweep would propose management to it. */
static void manager_wins_a_race_with_the_sweep(void **state)
{
  (void)state;
  char cus[32], inv[32], id[32], as_of[40], sql[256], body[256];
  customer(cus, "Race Ltd", "");
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 4000);
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"r\"}", cus);
  json_t *e = open_escalation(body);
  snprintf(id, sizeof id, "%s", jstr(e, "id"));
  json_decref(e);
  PGconn *held = PQconnectdb(getenv("DATABASE_URL"));
  assert_int_equal(PQstatus(held), CONNECTION_OK);
  exec_ok(held, "BEGIN");
  snprintf(sql, sizeof sql,
           "UPDATE escalations SET level = 'management' WHERE id = %s",
           id);
  exec_ok(held, sql);
  /* Day 50: the policy would propose management to it. */
  instant_at(as_of, BASE, 50, "09:00");
  /* A sweep is an admin's. */
  struct racer run = {.who = ROLE_ADMIN};
  snprintf(run.url, sizeof run.url, "%s/v1/scheduler/runs", harness_base());
  snprintf(run.body, sizeof run.body, "{\"as_of\": \"%s\"}", as_of);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, racer_run, &run), 0);
  int waiting = 0;
  for (int i = 0; i < 200 && !waiting; i++) {
    waiting = harness_sql_int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                              "AND wait_event_type = 'Lock'") > 0;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  exec_ok(held, "COMMIT");
  PQfinish(held);
  pthread_join(th, NULL);
  assert_int_equal(run.status, 201);
  assert_true(waiting);
  expect_ladder("after the race", cus, "open:management:-:-");
  /* The next rung, once the policy reaches it. */
  sweep_at(BASE, 89);
  expect_ladder("day 89", cus, "open:management:-:-");
  sweep_at(BASE, 90);
  expect_ladder("day 90", cus, "open:management:legal:-");
}

int main(void)
{
  /* The management handle, for this test's server only. */
  setenv("ARC_MANAGEMENT_ASSIGNEE", MANAGEMENT, 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(open_get_and_defaults),
      cmocka_unit_test(create_errors),
      cmocka_unit_test(stored_verbatim),
      cmocka_unit_test(accept_climb_decline_resolve),
      cmocka_unit_test(patch_errors),
      cmocka_unit_test(item_and_list_errors),
      cmocka_unit_test(list_filters_and_pages),
      cmocka_unit_test(events),
      cmocka_unit_test(call_sheet),
      cmocka_unit_test(concurrent_opens),
      cmocka_unit_test(default_assignee_unconfigured),
      cmocka_unit_test(ladder_climbs),
      cmocka_unit_test(attempts_since_success),
      cmocka_unit_test(cancelled_not_again),
      cmocka_unit_test(new_episode_starts_at_sales),
      cmocka_unit_test(ladder_one_rung_at_a_time),
      cmocka_unit_test(declined_climb),
      cmocka_unit_test(handed_off_stops_routine),
      cmocka_unit_test(settled_by_the_sweep),
      cmocka_unit_test(idempotent),
      cmocka_unit_test(manager_wins_a_race_with_the_sweep),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
