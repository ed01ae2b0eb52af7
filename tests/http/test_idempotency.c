/* Idempotency-Key on POST (SPEC §3): a repeat of a request with the same key
 * returns the first response verbatim with Idempotent-Replayed: true and does
 * no work; a reuse for another request is refused; keys are per API key,
 * survive only committed work, expire after 24 hours; concurrent repeats do
 * the work once.  Requests go through this file's own libcurl client, which
 * sees every response header (the harness's http() keeps a few). */
#include "harness.h"

#include "arc/db.h"

#include "arc/config.h"
#include "arc/imports.h"
#include "arc/log.h"
#include "arc/router.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static CURL *main_curl;

/* METHOD PATH as WHO with BODY (NULL: none) of CONTENT_TYPE (NULL: JSON)
 * and, when KEY_HEADER is not NULL, that exact header line
 * ("Idempotency-Key: …"). */
static long send_as(CURL *c, struct http_resp *out, const char *method, const char *path, enum role who,
                    const char *key_header, const char *body, const char *content_type)
{
  http_resp_clear(out);
  char url[1024], auth[256];
  snprintf(url, sizeof url, "%s%s", harness_base(), path);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok(who));
  struct curl_slist *hl = NULL;
  hl = curl_slist_append(hl, auth);
  hl = curl_slist_append(hl, "Expect:");
  char type_line[160];
  snprintf(type_line, sizeof type_line, "Content-Type: %s", content_type ? content_type : "application/json");
  if (body)
    hl = curl_slist_append(hl, type_line);
  if (key_header)
    hl = curl_slist_append(hl, key_header);
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  http_capture(c, out);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(hl);
  out->status = -1;
  if (rc == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
  if (out->body)
    out->json = json_loadb(out->body, out->body_len, 0, NULL);
  return out->status;
}

static long send_on(CURL *c, struct http_resp *out, const char *method, const char *path, enum role who,
                    const char *key_header, const char *body)
{
  return send_as(c, out, method, path, who, key_header, body, NULL);
}

/* POST of a CONTENT_TYPE body (NULL: JSON) with "Idempotency-Key: KEY"
 * (KEY NULL: no header). */
static long post_as(struct http_resp *out, const char *path, enum role who, const char *key, const char *body,
                    const char *content_type)
{
  char line[400];
  if (key)
    snprintf(line, sizeof line, "Idempotency-Key: %s", key);
  return send_as(main_curl, out, "POST", path, who, key ? line : NULL, body, content_type);
}

static long post(struct http_resp *out, const char *path, enum role who, const char *key, const char *body)
{
  return post_as(out, path, who, key, body, NULL);
}

static void expect_status(const struct http_resp *r, long status)
{
  if (r->status != status)
    fail_msg("expected HTTP %ld, got %ld: %s", status, r->status, r->body ? r->body : "(no body)");
}

/* Status, problem+json, type SLUG and an errors[] entry naming FIELD. */
static void expect_problem(const struct http_resp *r, long status, const char *slug, const char *field)
{
  expect_status(r, status);
  if (strncmp(r->content_type, "application/problem+json", 24) != 0)
    fail_msg("expected a problem+json reply, got '%s': %s", r->content_type, r->body ? r->body : "");
  char type[128];
  snprintf(type, sizeof type, "urn:arcollect:problem:%s", slug);
  const char *got = json_string_value(json_object_get(r->json, "type"));
  if (!got || strcmp(got, type) != 0)
    fail_msg("expected problem %s, got %s", type, r->body ? r->body : "");
  if (!field)
    return;
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(r->json, "errors"), i, e)
  {
    const char *f = json_string_value(json_object_get(e, "field"));
    if (f && strcmp(f, field) == 0)
      return;
  }
  fail_msg("expected errors[] to name %s: %s", field, r->body ? r->body : "");
}

/* The first answer and its replay are the same bytes and headers, and only
 * the replay says so. */
static void expect_replay_of(const struct http_resp *first, const struct http_resp *again)
{
  assert_int_equal(first->replayed, 0);
  assert_int_equal(again->replayed, 1);
  assert_int_equal(again->status, first->status);
  assert_int_equal(again->body_len, first->body_len);
  assert_memory_equal(again->body, first->body, first->body_len);
  assert_string_equal(again->location, first->location);
  assert_string_equal(again->etag, first->etag);
  assert_string_equal(again->content_type, first->content_type);
}

static const char *key_id(enum role who)
{
  static char id[5][17];
  const char *t = tok(who);
  int i = 0;
  while ((unsigned)who > (unsigned)ROLE_ADMIN << i)
    i++;
  snprintf(id[i], sizeof id[i], "%.16s", t + 4);
  return id[i];
}

static long long events_count(void) { return harness_sql_int("SELECT count(*) FROM events"); }

static long long key_rows(const char *key)
{
  return harness_sql_int("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = '%s'", key);
}

/* ------------------------------------------------------------------ tests */

/* Runs first: the first stored key of the process purges expired rows (of
 * any API key), oldest first, a batch of 1000 at a time; after a full batch
 * the next stored key purges again, after a partial one not for a minute. */
static void expired_rows_are_purged(void **state)
{
  (void)state;
  harness_sql("INSERT INTO idempotency_keys (api_key_id, idempotency_key, method, path, body_sha256, status, "
              "created_at) VALUES ('%s', 'old-1', 'POST', '/v1/customers', sha256('x'), 201, now() - interval "
              "'25 hours'), ('%s', 'young-1', 'POST', '/v1/customers', sha256('x'), 201, now() - interval '23 "
              "hours')",
              key_id(ROLE_MANAGER), key_id(ROLE_MANAGER));
  harness_sql("INSERT INTO idempotency_keys (api_key_id, idempotency_key, method, path, body_sha256, status, "
              "created_at) SELECT '%s', 'bulk-' || i, 'POST', '/v1/customers', sha256('x'), 201, now() - interval "
              "'30 hours' FROM generate_series(1, 1003) i",
              key_id(ROLE_INTEGRATION));
  struct http_resp r = {0};
  post(&r, "/v1/customers", ROLE_ADMIN, "purge-trigger-1", "{\"name\": \"Purge One\"}");
  expect_status(&r, 201);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM idempotency_keys WHERE idempotency_key LIKE 'bulk-%%'"), 3);
  assert_int_equal(key_rows("old-1"), 1);
  assert_int_equal(key_rows("purge-trigger-1"), 1);

  post(&r, "/v1/customers", ROLE_ADMIN, "purge-trigger-2", "{\"name\": \"Purge Two\"}");
  expect_status(&r, 201);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM idempotency_keys WHERE idempotency_key LIKE 'bulk-%%'"), 0);
  assert_int_equal(key_rows("old-1"), 0);
  assert_int_equal(key_rows("young-1"), 1);

  /* Within the minute, another stored key does not purge again. */
  harness_sql("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE idempotency_key = "
              "'young-1'");
  post(&r, "/v1/customers", ROLE_ADMIN, "purge-trigger-3", "{\"name\": \"Purge Three\"}");
  expect_status(&r, 201);
  assert_int_equal(key_rows("young-1"), 1);
  http_resp_clear(&r);
}

static void customer_replayed(void **state)
{
  (void)state;
  const char *body = "{\"name\": \"Idem Traders\", \"external_id\": \"IDEM-C-1\", \"notes\": \"x'); DROP TABLE "
                     "customers; --\"}";
  long long events = events_count();
  struct http_resp first = {0}, again = {0};
  post(&first, "/v1/customers", ROLE_ADMIN, "cust-1", body);
  expect_status(&first, 201);
  assert_true(first.location[0] && first.etag[0]);
  assert_true(events_count() > events);
  events = events_count();

  post(&again, "/v1/customers", ROLE_ADMIN, "cust-1", body);
  expect_replay_of(&first, &again);
  assert_string_equal(json_string_value(json_object_get(again.json, "notes")), "x'); DROP TABLE customers; --");
  /* Done once: one customer, no new event.  Done again, the external id
   * would be a 409 duplicate. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE name = 'Idem Traders'"), 1);
  assert_int_equal(events_count(), events);
  post(&again, "/v1/customers", ROLE_ADMIN, "cust-1", body);
  expect_replay_of(&first, &again);

  /* A request without the key is a new request. */
  post(&again, "/v1/customers", ROLE_ADMIN, NULL, body);
  expect_problem(&again, 409, "duplicate", "external_id");
  http_resp_clear(&first);
  http_resp_clear(&again);
}

static void reuse_for_another_request_refused(void **state)
{
  (void)state;
  struct http_resp r = {0};
  const char *body = "{\"name\": \"Reuse Ltd\"}";
  post(&r, "/v1/customers", ROLE_ADMIN, "reuse-1", body);
  expect_status(&r, 201);
  char cust[32];
  snprintf(cust, sizeof cust, "%s", json_string_value(json_object_get(r.json, "id")));
  long long customers = harness_sql_int("SELECT count(*) FROM customers");
  long long contacts = harness_sql_int("SELECT count(*) FROM contacts");
  long long events = events_count();

  /* Another body, even one that means the same JSON: the bytes differ. */
  post(&r, "/v1/customers", ROLE_ADMIN, "reuse-1", "{\"name\": \"Other Ltd\"}");
  expect_problem(&r, 422, "idempotency-key-reused", "Idempotency-Key");
  assert_int_equal(r.replayed, 0);
  post(&r, "/v1/customers", ROLE_ADMIN, "reuse-1", "{\"name\":\"Reuse Ltd\"}");
  expect_problem(&r, 422, "idempotency-key-reused", "Idempotency-Key");
  /* A body the handler would refuse: the key is checked first. */
  post(&r, "/v1/customers", ROLE_ADMIN, "reuse-1", "{\"name\": 5}");
  expect_problem(&r, 422, "idempotency-key-reused", "Idempotency-Key");
  /* No body at all. */
  post(&r, "/v1/customers", ROLE_ADMIN, "reuse-1", NULL);
  expect_problem(&r, 422, "idempotency-key-reused", "Idempotency-Key");

  /* Another path with the same bytes. */
  char path[96];
  snprintf(path, sizeof path, "/v1/customers/%s/contacts", cust);
  post(&r, path, ROLE_ADMIN, "reuse-1", body);
  expect_problem(&r, 422, "idempotency-key-reused", "Idempotency-Key");

  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers"), customers);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM contacts"), contacts);
  assert_int_equal(events_count(), events);
  /* The stored response is unharmed. */
  post(&r, "/v1/customers", ROLE_ADMIN, "reuse-1", body);
  expect_status(&r, 201);
  assert_int_equal(r.replayed, 1);
  http_resp_clear(&r);
}

static void keys_are_per_api_key(void **state)
{
  (void)state;
  const char *body = "{\"name\": \"Scoped Co\"}";
  struct http_resp a = {0}, m = {0}, m2 = {0};
  post(&a, "/v1/customers", ROLE_ADMIN, "shared-key", body);
  expect_status(&a, 201);
  post(&m, "/v1/customers", ROLE_MANAGER, "shared-key", body);
  expect_status(&m, 201);
  assert_int_equal(m.replayed, 0);
  assert_string_not_equal(a.location, m.location);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE name = 'Scoped Co'"), 2);
  /* Each replays its own. */
  post(&m2, "/v1/customers", ROLE_MANAGER, "shared-key", body);
  expect_replay_of(&m, &m2);
  /* And a different body under the other key is that key's business. */
  post(&m2, "/v1/customers", ROLE_INTEGRATION, "shared-key", "{\"name\": \"Scoped Other\"}");
  expect_status(&m2, 201);
  assert_int_equal(key_rows("shared-key"), 3);
  http_resp_clear(&a);
  http_resp_clear(&m);
  http_resp_clear(&m2);
}

static void payment_with_allocations_replayed(void **state)
{
  (void)state;
  char cust[32], inv1[32], inv2[32], body[512];
  snprintf(cust, sizeof cust, "%s", make_customer("Idem Payer"));
  snprintf(inv1, sizeof inv1, "%s", make_invoice(cust, "IDEM-P-1", 10000, "2026-01-01", "2026-01-31"));
  snprintf(inv2, sizeof inv2, "%s", make_invoice(cust, "IDEM-P-2", 8000, "2026-01-02", "2026-02-01"));
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 12000, \"currency\": \"USD\", \"received_on\": \"2026-02-03\", "
           "\"method\": \"wire\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 10000}, {\"invoice_id\": "
           "\"%s\", \"amount\": 1500}]}",
           cust, inv1, inv2);
  struct http_resp first = {0}, again = {0};
  post(&first, "/v1/payments", ROLE_INTEGRATION, "pay-1", body);
  expect_status(&first, 201);
  long long events = events_count();
  post(&again, "/v1/payments", ROLE_INTEGRATION, "pay-1", body);
  expect_replay_of(&first, &again);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payments WHERE customer_id = %s", cust), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payment_allocations x JOIN payments p ON p.id = "
                                   "x.payment_id WHERE p.customer_id = %s", cust),
                   2);
  assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE id = %s", inv1), 0);
  assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE id = %s", inv2), 6500);
  assert_int_equal(events_count(), events);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE type = 'payment.received' AND customer_id "
                                   "= %s", cust),
                   1);
  http_resp_clear(&first);
  http_resp_clear(&again);
}

static void call_log_with_promise_replayed(void **state)
{
  (void)state;
  char cust[32], inv[32], on[16], body[768];
  snprintf(cust, sizeof cust, "%s", make_customer("Idem Caller"));
  snprintf(inv, sizeof inv, "%s", make_invoice(cust, "IDEM-CL-1", 50000, "2026-01-01", "2026-01-15"));
  day(on, 5);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"channel\": \"phone\", \"direction\": "
           "\"outbound\", \"outcome\": \"reached\", \"contact_name\": \"Dana (AP)\", \"notes\": \"Will pay\", "
           "\"promise\": {\"amount\": 50000, \"promised_on\": \"%s\", \"method\": \"ach\"}}",
           cust, inv, on);
  struct http_resp first = {0}, again = {0};
  post(&first, "/v1/call-logs", ROLE_COLLECTOR, "call-1", body);
  expect_status(&first, 201);
  assert_non_null(json_object_get(first.json, "promise"));
  long long events = events_count();
  post(&again, "/v1/call-logs", ROLE_COLLECTOR, "call-1", body);
  expect_replay_of(&first, &again);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM call_logs WHERE customer_id = %s", cust), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM promises WHERE customer_id = %s", cust), 1);
  assert_int_equal(events_count(), events);
  http_resp_clear(&first);
  http_resp_clear(&again);
}

static void reversal_replayed(void **state)
{
  (void)state;
  char cust[32], inv[32], body[512], path[96], pay[32];
  snprintf(cust, sizeof cust, "%s", make_customer("Idem Bounce"));
  snprintf(inv, sizeof inv, "%s", make_invoice(cust, "IDEM-R-1", 7000, "2026-01-01", "2026-01-31"));
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 7000, \"currency\": \"USD\", \"received_on\": \"2026-02-03\", "
           "\"method\": \"check\"}",
           cust);
  struct http_resp first = {0}, again = {0};
  post(&first, "/v1/payments", ROLE_ADMIN, NULL, body);
  expect_status(&first, 201);
  snprintf(pay, sizeof pay, "%s", json_string_value(json_object_get(first.json, "id")));
  snprintf(path, sizeof path, "/v1/payments/%s/reversal", pay);

  post(&first, path, ROLE_MANAGER, "rev-1", "{\"reason\": \"NSF\"}");
  expect_status(&first, 200);
  assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE id = %s", inv), 7000);
  long long events = events_count();
  /* Reversed twice would be a 409; the repeat is the first answer. */
  post(&again, path, ROLE_MANAGER, "rev-1", "{\"reason\": \"NSF\"}");
  expect_replay_of(&first, &again);
  assert_int_equal(events_count(), events);
  assert_int_equal(harness_sql_int("SELECT version FROM payments WHERE id = %s", pay), 2);
  post(&again, path, ROLE_MANAGER, "rev-2", "{\"reason\": \"NSF\"}");
  expect_status(&again, 409);
  http_resp_clear(&first);
  http_resp_clear(&again);
}

static void scheduler_run_replayed(void **state)
{
  (void)state;
  const char *body = "{\"as_of\": \"2026-03-02T09:00:00Z\"}";
  struct http_resp first = {0}, again = {0};
  long long runs = harness_sql_int("SELECT count(*) FROM scheduler_runs");
  post(&first, "/v1/scheduler/runs", ROLE_ADMIN, "sweep-1", body);
  expect_status(&first, 201);
  long long events = events_count();
  post(&again, "/v1/scheduler/runs", ROLE_ADMIN, "sweep-1", body);
  expect_replay_of(&first, &again);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM scheduler_runs"), runs + 1);
  assert_int_equal(events_count(), events);
  /* Without a body too. */
  post(&first, "/v1/scheduler/runs", ROLE_ADMIN, "sweep-2", NULL);
  expect_status(&first, 201);
  post(&again, "/v1/scheduler/runs", ROLE_ADMIN, "sweep-2", NULL);
  expect_replay_of(&first, &again);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM scheduler_runs"), runs + 2);
  http_resp_clear(&first);
  http_resp_clear(&again);
}

static void api_key_replayed_and_secret_sealed(void **state)
{
  (void)state;
  const char *body = "{\"role\": \"viewer\", \"name\": \"idem viewer\"}";
  long long keys = harness_sql_int("SELECT count(*) FROM api_keys");
  struct http_resp first = {0}, again = {0};
  post(&first, "/v1/api-keys", ROLE_ADMIN, "apikey-1", body);
  expect_status(&first, 201);
  const char *token = json_string_value(json_object_get(first.json, "key"));
  assert_non_null(token);
  post(&again, "/v1/api-keys", ROLE_ADMIN, "apikey-1", body);
  expect_replay_of(&first, &again);
  assert_string_equal(json_string_value(json_object_get(again.json, "key")), token);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM api_keys"), keys + 1);

  /* The database never holds the secret: the stored body is sealed. */
  const char *secret = token + 4 + 16 + 1;
  assert_int_equal(harness_sql_int("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = 'apikey-1' AND "
                                   "body IS NOT NULL AND position(convert_to('%s', 'UTF8') IN body) = 0 AND "
                                   "position(convert_to('idem viewer', 'UTF8') IN body) = 0",
                                   secret),
                   1);
  /* The key made works. */
  char auth[256];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
  http_resp_clear(&again);
  char url[256];
  snprintf(url, sizeof url, "%s/v1/customers", harness_base());
  curl_easy_reset(main_curl);
  struct curl_slist *hl = curl_slist_append(NULL, auth);
  curl_easy_setopt(main_curl, CURLOPT_URL, url);
  curl_easy_setopt(main_curl, CURLOPT_HTTPHEADER, hl);
  http_capture(main_curl, &again);
  assert_int_equal(curl_easy_perform(main_curl), CURLE_OK);
  long status = 0;
  curl_easy_getinfo(main_curl, CURLINFO_RESPONSE_CODE, &status);
  assert_int_equal(status, 200);
  curl_slist_free_all(hl);
  http_resp_clear(&first);
  http_resp_clear(&again);
}

/* A stored body opens only with the secret of the key that stored it: a
 * changed byte, or a row moved under another key, is refused, not sent. */
static void tampered_row_not_replayed(void **state)
{
  (void)state;
  struct http_resp r = {0};
  post(&r, "/v1/customers", ROLE_ADMIN, "seal-1", "{\"name\": \"Sealed Co\"}");
  expect_status(&r, 201);
  log_set_quiet(1);
  /* One bit of the ciphertext flipped. */
  harness_sql("UPDATE idempotency_keys SET body = set_byte(body, 20, get_byte(body, 20) # 1) WHERE "
              "idempotency_key = 'seal-1'");
  post(&r, "/v1/customers", ROLE_ADMIN, "seal-1", "{\"name\": \"Sealed Co\"}");
  expect_problem(&r, 500, "internal", NULL);
  /* An intact row moved under another API key. */
  post(&r, "/v1/customers", ROLE_ADMIN, "seal-2", "{\"name\": \"Sealed Two\"}");
  expect_status(&r, 201);
  harness_sql("UPDATE idempotency_keys SET api_key_id = '%s' WHERE idempotency_key = 'seal-2'", key_id(ROLE_MANAGER));
  post(&r, "/v1/customers", ROLE_MANAGER, "seal-2", "{\"name\": \"Sealed Two\"}");
  log_set_quiet(0);
  expect_problem(&r, 500, "internal", NULL);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE name LIKE 'Sealed%%'"), 2);
  http_resp_clear(&r);
}

/* Every POST route stores its answer and replays it. */
struct route_case {
  const char *label;
  const char *pattern; /* the route, as in routes.c */
  const char *path;
  const char *body;
  enum role who;
  long status;       /* of the first answer, and of its replay */
  const char *table; /* which must not change at all on replay */
  const char *content_type; /* of the body; NULL: application/json */
};

/* Waits (at most 30 s) until the job at LOCATION, accepted with 202, has
 * succeeded: a job still running would change its table under the replay
 * check. */
static void wait_job_done(const char *label, const char *location)
{
  for (int i = 0; i < 3000; i++) {
    struct http_resp r = {0};
    http(&r, "GET", location, ROLE_VIEWER, NULL, NULL);
    assert_status(&r, 200);
    char status[32];
    snprintf(status, sizeof status, "%s", jstr(r.json, "status"));
    http_resp_clear(&r);
    if (strcmp(status, "queued") != 0 && strcmp(status, "running") != 0) {
      if (strcmp(status, "succeeded") != 0)
        fail_msg("%s: the job at %s ended %s", label, location, status);
      return;
    }
    sleep_ms(10);
  }
  fail_msg("%s: the job at %s did not end within 30 s", label, location);
}

static void every_post_route(void **state)
{
  (void)state;
  char cust[32], inv[32], inv2[32], pay[32], plan_cust[32], plan_inv[32], esc_cust[32], due[16];
  snprintf(cust, sizeof cust, "%s", make_customer("Every Route Co"));
  snprintf(inv, sizeof inv, "%s", make_invoice(cust, "IDEM-E-1", 90000, "2026-01-01", "2026-01-31"));
  snprintf(inv2, sizeof inv2, "%s", make_invoice(cust, "IDEM-E-2", 5000, "2026-01-01", "2026-01-31"));
  snprintf(plan_cust, sizeof plan_cust, "%s", make_customer("Every Route Plan Co"));
  snprintf(plan_inv, sizeof plan_inv, "%s", make_invoice(plan_cust, "IDEM-E-4", 700, "2026-01-01", "2026-01-31"));
  snprintf(esc_cust, sizeof esc_cust, "%s", make_customer("Every Route Escalation Co"));
  day(due, 10);
  struct http_resp r = {0};
  char body[768], path[128], on[16];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 100, \"currency\": \"USD\", \"received_on\": \"2026-02-03\", "
           "\"method\": \"cash\"}",
           cust);
  post(&r, "/v1/payments", ROLE_ADMIN, NULL, body);
  expect_status(&r, 201);
  snprintf(pay, sizeof pay, "%s", json_string_value(json_object_get(r.json, "id")));
  day(on, 3);

  struct route_case cases[16];
  static char bodies[16][512], paths[16][128];
  size_t n = 0;
#define CASE(L, R, W, S, T, P, ...)                                                                                  \
  do {                                                                                                             \
    snprintf(paths[n], sizeof paths[n], "%s", P);                                                                  \
    snprintf(bodies[n], sizeof bodies[n], __VA_ARGS__);                                                            \
    cases[n] = (struct route_case){L, R, paths[n], bodies[n], W, S, T};                                            \
    n++;                                                                                                           \
  } while (0)
  CASE("customer", "/v1/customers", ROLE_ADMIN, 201, "customers", "/v1/customers",
       "{\"name\": \"Every Route Two\"}");
  snprintf(path, sizeof path, "/v1/customers/%s/contacts", cust);
  CASE("contact", "/v1/customers/{id}/contacts", ROLE_COLLECTOR, 201, "contacts", path,
       "{\"name\": \"Pat\", \"role\": \"billing\"}");
  CASE("invoice", "/v1/invoices", ROLE_INTEGRATION, 201, "invoices", "/v1/invoices",
       "{\"customer_id\": \"%s\", \"number\": \"IDEM-E-3\", \"currency\": \"USD\", \"amount\": 100, "
       "\"issued_on\": \"2026-01-01\", \"due_on\": \"2026-01-31\"}",
       cust);
  snprintf(path, sizeof path, "/v1/invoices/%s/adjustments", inv);
  CASE("adjustment", "/v1/invoices/{id}/adjustments", ROLE_MANAGER, 201, "invoice_adjustments", path,
       "{\"kind\": \"credit\", \"amount\": -500, \"reason\": \"goodwill\"}");
  snprintf(path, sizeof path, "/v1/invoices/%s/receipt-confirmation", inv);
  CASE("receipt confirmation", "/v1/invoices/{id}/receipt-confirmation", ROLE_COLLECTOR, 200, "invoices", path,
       "{\"confirmed_by\": \"Ann (AP)\", \"via\": \"email\"}");
  CASE("payment", "/v1/payments", ROLE_ADMIN, 201, "payments", "/v1/payments",
       "{\"customer_id\": \"%s\", \"amount\": 200, \"currency\": \"USD\", \"received_on\": \"2026-02-03\", "
       "\"method\": \"ach\"}",
       cust);
  snprintf(path, sizeof path, "/v1/payments/%s/reversal", pay);
  CASE("reversal", "/v1/payments/{id}/reversal", ROLE_MANAGER, 200, "payments", path, "{\"reason\": \"duplicate entry\"}");
  CASE("call log", "/v1/call-logs", ROLE_INTEGRATION, 201, "call_logs", "/v1/call-logs",
       "{\"customer_id\": \"%s\", \"channel\": \"email\", \"direction\": \"outbound\", \"outcome\": \"sent\", "
       "\"contact_name\": \"AP desk\"}",
       cust);
  CASE("promise", "/v1/promises", ROLE_COLLECTOR, 201, "promises", "/v1/promises",
       "{\"customer_id\": \"%s\", \"amount\": 1000, \"currency\": \"USD\", \"promised_on\": \"%s\"}", cust, on);
  CASE("dispute", "/v1/disputes", ROLE_COLLECTOR, 201, "disputes", "/v1/disputes",
       "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 1000}", inv2);
  CASE("scheduler run", "/v1/scheduler/runs", ROLE_ADMIN, 201, "scheduler_runs", "/v1/scheduler/runs",
       "{\"as_of\": \"2026-03-03T09:00:00Z\"}");
  CASE("api key", "/v1/api-keys", ROLE_ADMIN, 201, "api_keys", "/v1/api-keys", "{\"role\": \"collector\"}");
  CASE("payment plan", "/v1/payment-plans", ROLE_MANAGER, 201, "payment_plans", "/v1/payment-plans",
       "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"installments\": [{\"due_on\": \"%s\", "
       "\"amount\": 700}]}",
       plan_cust, plan_inv, due);
  CASE("escalation", "/v1/escalations", ROLE_MANAGER, 201, "escalations", "/v1/escalations",
       "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"Ignores our calls\"}", esc_cust);
  CASE("webhook", "/v1/webhooks", ROLE_INTEGRATION, 201, "webhooks", "/v1/webhooks",
       "{\"url\": \"http://127.0.0.1:9/idem\", \"event_types\": [\"payment.received\"]}");
  /* A CSV upload answered 202: its job runs (the worker of setup) and is
   * awaited below; the replay must not queue it again. */
  CASE("import", "/v1/imports", ROLE_INTEGRATION, 202, "imports", "/v1/imports?kind=customers",
       "external_id,name,notes\r\nIDEM-IMP-1,\"Every Route Import, Ltd\",\"x'); DROP TABLE imports; --\"\r\n");
  cases[n - 1].content_type = "text/csv";
#undef CASE

  /* Every POST route of the table is here: a new one needs a case. */
  for (size_t i = 0; i < arc_routes_count; i++) {
    if (arc_routes[i].method != HTTP_POST)
      continue;
    int covered = 0;
    for (size_t k = 0; k < n; k++)
      covered |= strcmp(cases[k].pattern, arc_routes[i].pattern) == 0;
    if (!covered)
      fail_msg("POST %s has no case in every_post_route", arc_routes[i].pattern);
  }

  for (size_t i = 0; i < n; i++) {
    char key[64];
    snprintf(key, sizeof key, "every-%zu", i);
    struct http_resp first = {0}, again = {0};
    post_as(&first, cases[i].path, cases[i].who, key, cases[i].body, cases[i].content_type);
    if (first.status != cases[i].status)
      fail_msg("%s: expected %ld, got %ld: %s", cases[i].label, cases[i].status, first.status,
               first.body ? first.body : "");
    if (first.status == 202)
      wait_job_done(cases[i].label, first.location);
    long long rows = harness_sql_int("SELECT count(*) FROM %s", cases[i].table);
    long long events = events_count();
    /* The whole table, every column of every row. */
    const char *const table[] = {cases[i].table, NULL};
    char *before = tables_fingerprint(table);
    post_as(&again, cases[i].path, cases[i].who, key, cases[i].body, cases[i].content_type);
    if (again.replayed != 1)
      fail_msg("%s: not replayed: %ld %s", cases[i].label, again.status, again.body ? again.body : "");
    expect_replay_of(&first, &again);
    assert_int_equal(harness_sql_int("SELECT count(*) FROM %s", cases[i].table), rows);
    assert_int_equal(events_count(), events);
    char *after = tables_fingerprint(table);
    assert_string_equal(after, before);
    free(before);
    free(after);
    assert_int_equal(harness_sql_int("SELECT status FROM idempotency_keys WHERE idempotency_key = '%s'", key),
                     cases[i].status);
    /* Secrets shown once (an API key's, a webhook's) are not readable in the database. */
    static const char *const secret_fields[] = {"key", "secret"};
    for (size_t f = 0; f < 2; f++) {
      const char *secret = json_string_value(json_object_get(first.json, secret_fields[f]));
      if (secret)
        assert_int_equal(harness_sql_int("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = '%s' AND "
                                         "position(convert_to('%s', 'UTF8') IN body) = 0",
                                         key, secret),
                         1);
    }
    http_resp_clear(&first);
    http_resp_clear(&again);
  }
  /* The import was done once, its text kept verbatim. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE external_id = 'IDEM-IMP-1' AND name = "
                                   "'Every Route Import, Ltd' AND notes = 'x''); DROP TABLE imports; --'"),
                   1);
  http_resp_clear(&r);
}

/* A request that failed changed nothing and left no key: the client may
 * retry, corrected, with the same key. */
static void failed_attempt_leaves_key_free(void **state)
{
  (void)state;
  long long customers = harness_sql_int("SELECT count(*) FROM customers");
  struct http_resp r = {0};
  /* Refused by validation, before any transaction. */
  post(&r, "/v1/customers", ROLE_ADMIN, "retry-1", "{\"name\": \"Retry Co\", \"colour\": \"red\"}");
  expect_problem(&r, 422, "validation", "colour");
  assert_int_equal(key_rows("retry-1"), 0);
  /* Refused inside the transaction, after the key was claimed. */
  post(&r, "/v1/customers", ROLE_ADMIN, "retry-1", "{\"name\": \"Retry Co\", \"external_id\": \"IDEM-C-1\"}");
  expect_problem(&r, 409, "duplicate", "external_id");
  assert_int_equal(key_rows("retry-1"), 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers"), customers);

  post(&r, "/v1/customers", ROLE_ADMIN, "retry-1", "{\"name\": \"Retry Co\"}");
  expect_status(&r, 201);
  assert_int_equal(r.replayed, 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers"), customers + 1);

  /* A payment refused for over-allocation, then the right one. */
  char cust[32], inv[32], body[512];
  snprintf(cust, sizeof cust, "%s", make_customer("Retry Payer"));
  snprintf(inv, sizeof inv, "%s", make_invoice(cust, "IDEM-RT-1", 1000, "2026-01-01", "2026-01-31"));
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 5000, \"currency\": \"USD\", \"received_on\": \"2026-02-03\", "
           "\"method\": \"ach\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 5000}]}",
           cust, inv);
  post(&r, "/v1/payments", ROLE_ADMIN, "retry-pay", body);
  expect_problem(&r, 409, "over-allocation", NULL);
  assert_int_equal(key_rows("retry-pay"), 0);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 1000, \"currency\": \"USD\", \"received_on\": \"2026-02-03\", "
           "\"method\": \"ach\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 1000}]}",
           cust, inv);
  post(&r, "/v1/payments", ROLE_ADMIN, "retry-pay", body);
  expect_status(&r, 201);
  assert_int_equal(r.replayed, 0);
  assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE id = %s", inv), 0);
  http_resp_clear(&r);
}

static void expired_key_is_new(void **state)
{
  (void)state;
  const char *body = "{\"name\": \"Expiry Co\"}";
  struct http_resp first = {0}, again = {0};
  post(&first, "/v1/customers", ROLE_ADMIN, "expire-1", body);
  expect_status(&first, 201);
  /* 23 hours on: still the same request. */
  harness_sql("UPDATE idempotency_keys SET created_at = created_at - interval '23 hours' WHERE idempotency_key = "
              "'expire-1'");
  post(&again, "/v1/customers", ROLE_ADMIN, "expire-1", body);
  expect_replay_of(&first, &again);
  /* Past 24 hours: new again, and the key row starts over. */
  harness_sql("UPDATE idempotency_keys SET created_at = created_at - interval '1 hour 1 second' WHERE "
              "idempotency_key = 'expire-1'");
  post(&again, "/v1/customers", ROLE_ADMIN, "expire-1", body);
  expect_status(&again, 201);
  assert_int_equal(again.replayed, 0);
  assert_string_not_equal(again.location, first.location);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE name = 'Expiry Co'"), 2);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = 'expire-1' AND "
                                   "created_at > now() - interval '1 minute'"),
                   1);
  /* An expired key may carry another body. */
  harness_sql("UPDATE idempotency_keys SET created_at = created_at - interval '25 hours' WHERE idempotency_key = "
              "'expire-1'");
  post(&again, "/v1/customers", ROLE_ADMIN, "expire-1", "{\"name\": \"Expiry Other\"}");
  expect_status(&again, 201);
  assert_int_equal(again.replayed, 0);
  http_resp_clear(&first);
  http_resp_clear(&again);
}

static void bad_keys_refused(void **state)
{
  (void)state;
  char long_key[300], longest[300];
  memset(long_key, 'k', 256);
  long_key[256] = '\0';
  memset(longest, 'k', 255);
  longest[255] = '\0';
  const char *bad[] = {
      "",                      /* empty */
      long_key,                /* 256 characters */
      "tab\there",             /* a control character */
      "with space",            /* not a visible character */
      "caf\xc3\xa9",           /* not ASCII */
  };
  long long customers = harness_sql_int("SELECT count(*) FROM customers");
  struct http_resp r = {0};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char line[400];
    /* "Name;" is how libcurl sends a header with an empty value. */
    if (bad[i][0])
      snprintf(line, sizeof line, "Idempotency-Key: %s", bad[i]);
    else
      snprintf(line, sizeof line, "Idempotency-Key;");
    send_on(main_curl, &r, "POST", "/v1/customers", ROLE_ADMIN, line, "{\"name\": \"Bad Key Co\"}");
    expect_problem(&r, 400, "bad-request", "Idempotency-Key");
  }
  /* Twice the header. */
  struct http_resp h = {0};
  const char *const twice[] = {"Idempotency-Key: a", "Idempotency-Key: b", NULL};
  http(&h, "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"Bad Key Co\"}", twice);
  assert_problem(&h, 400, "bad-request", NULL);
  http_resp_clear(&h);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers"), customers);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM idempotency_keys WHERE idempotency_key LIKE '%%Bad%%'"),
                   0);

  /* 255 visible characters, quotes and all, are a key. */
  post(&r, "/v1/customers", ROLE_ADMIN, longest, "{\"name\": \"Long Key Co\"}");
  expect_status(&r, 201);
  post(&r, "/v1/customers", ROLE_ADMIN, "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"", "{\"name\": \"Quoted Key Co\"}");
  expect_status(&r, 201);
  post(&r, "/v1/customers", ROLE_ADMIN, "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"", "{\"name\": \"Quoted Key Co\"}");
  assert_int_equal(r.replayed, 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers"), customers + 2);
  http_resp_clear(&r);
}

/* PUT is idempotent by itself and PATCH has If-Match: the key is ignored
 * there (not validated, not stored); GET too. */
static void other_methods_ignore_the_key(void **state)
{
  (void)state;
  struct http_resp r = {0};
  send_on(main_curl, &r, "PUT", "/v1/customers/external/IDEM-PUT-1", ROLE_ADMIN, "Idempotency-Key: put-1",
          "{\"name\": \"Put Co\"}");
  expect_status(&r, 201);
  char path[96];
  snprintf(path, sizeof path, "/v1/customers/%s", json_string_value(json_object_get(r.json, "id")));
  send_on(main_curl, &r, "PATCH", path, ROLE_ADMIN, "Idempotency-Key: with space", "{\"notes\": \"patched\"}");
  expect_status(&r, 200);
  assert_int_equal(r.replayed, 0);
  send_on(main_curl, &r, "PATCH", path, ROLE_ADMIN, "Idempotency-Key: patch-1", "{\"notes\": \"again\"}");
  expect_status(&r, 200);
  send_on(main_curl, &r, "PATCH", path, ROLE_ADMIN, "Idempotency-Key: patch-1", "{\"notes\": \"again\"}");
  expect_status(&r, 200);
  assert_int_equal(r.replayed, 0);
  send_on(main_curl, &r, "GET", path, ROLE_ADMIN, "Idempotency-Key: get-1", NULL);
  expect_status(&r, 200);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM idempotency_keys WHERE idempotency_key IN ('put-1', "
                                   "'patch-1', 'get-1')"),
                   0);
  http_resp_clear(&r);
}

/* ------------------------------------------------------------ concurrency */

#define THREADS 8

struct key_racer {
  const char *path, *key, *body;
  enum role who;
  pthread_barrier_t *start;
  struct http_resp out;
};

static void *race(void *arg)
{
  struct key_racer *w = arg;
  CURL *c = curl_easy_init();
  char line[400];
  snprintf(line, sizeof line, "Idempotency-Key: %s", w->key);
  if (w->start)
    pthread_barrier_wait(w->start);
  send_on(c, &w->out, "POST", w->path, w->who, line, w->body);
  curl_easy_cleanup(c);
  return NULL;
}

/* THREADS requests with one key at once: one does the work, the others
 * answer with its response. */
static void concurrent_repeats_done_once(void **state)
{
  (void)state;
  char cust[32], inv[32], body[512];
  snprintf(cust, sizeof cust, "%s", make_customer("Race Payer"));
  snprintf(inv, sizeof inv, "%s", make_invoice(cust, "IDEM-RACE-1", 100000, "2026-01-01", "2026-01-31"));
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 2500, \"currency\": \"USD\", \"received_on\": \"2026-02-03\", "
           "\"method\": \"card\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 2500}]}",
           cust, inv);
  const char *paths[] = {"/v1/customers", "/v1/payments"};
  const char *bodies[] = {"{\"name\": \"Race Co\"}", body};
  for (int round = 0; round < 2; round++) {
    pthread_t th[THREADS];
    struct key_racer w[THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    char key[32];
    snprintf(key, sizeof key, "race-%d", round);
    for (int t = 0; t < THREADS; t++) {
      w[t] = (struct key_racer){.path = paths[round], .key = key, .body = bodies[round], .who = ROLE_ADMIN,
                            .start = &start};
      assert_int_equal(pthread_create(&th[t], NULL, race, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
      pthread_join(th[t], NULL);
    pthread_barrier_destroy(&start);
    int fresh = 0;
    for (int t = 0; t < THREADS; t++) {
      expect_status(&w[t].out, 201);
      fresh += w[t].out.replayed == 0;
    }
    assert_int_equal(fresh, 1);
    for (int t = 0; t < THREADS; t++) {
      assert_int_equal(w[t].out.body_len, w[0].out.body_len);
      assert_memory_equal(w[t].out.body, w[0].out.body, w[0].out.body_len);
      assert_string_equal(w[t].out.location, w[0].out.location);
    }
    for (int t = 0; t < THREADS; t++)
      http_resp_clear(&w[t].out);
  }
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE name = 'Race Co'"), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payments WHERE customer_id = %s", cust), 1);
  assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE id = %s", inv), 97500);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE type = 'payment.received' AND customer_id "
                                   "= %s", cust),
                   1);
}

/* The second request waits for the first's transaction and, when it
 * commits, replays its answer.  The first is held inside its transaction
 * (after it claimed the key) by a lock this test takes on payments. */
static void waiter_replays_after_commit(void **state)
{
  (void)state;
  char cust[32], body[512];
  snprintf(cust, sizeof cust, "%s", make_customer("Waiting Payer"));
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 300, \"currency\": \"USD\", \"received_on\": \"2026-02-03\", "
           "\"method\": \"cash\"}",
           cust);
  harness_sql("BEGIN");
  harness_sql("LOCK TABLE payments IN SHARE ROW EXCLUSIVE MODE");
  struct key_racer a = {.path = "/v1/payments", .key = "wait-1", .body = body, .who = ROLE_ADMIN};
  struct key_racer b = a;
  pthread_t ta, tb;
  assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
  wait_for_lock_waiters(1); /* a claimed the key and waits for payments */
  assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
  wait_for_lock_waiters(2); /* b waits for a's key row */
  harness_sql("COMMIT");
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  expect_status(&a.out, 201);
  assert_int_equal(a.out.replayed, 0);
  expect_replay_of(&a.out, &b.out);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payments WHERE customer_id = %s", cust), 1);
  http_resp_clear(&a.out);
  http_resp_clear(&b.out);
}

/* A COMMIT whose answer is lost (the connection cut right after it went
 * out, db_fault_lose_next_commit): the client is told the outcome is
 * unknown (503 outcome-unknown), not that nothing happened; the same
 * request with the same Idempotency-Key then settles it: the answer as
 * recorded, the call log there once.  Without a key the answer says to
 * look before sending it again (issue 15). */
/* POST BODY to PATH, again while the worker is still reconnecting (503
 * unavailable), for up to 10 s. */
static void post_once_connected(struct http_resp *r, const char *path, const char *body, const char *const *headers)
{
  double deadline = now_s() + 10;
  for (;;) {
    http(r, "POST", path, ROLE_ADMIN, body, headers);
    if (r->status != 503 || !r->json || strcmp(jstr(r->json, "type"), "urn:arcollect:problem:unavailable") != 0 ||
        now_s() > deadline)
      return;
    sleep_ms(100);
  }
}

static void lost_commit_is_outcome_unknown(void **state)
{
  (void)state;
  char cust[32], body[256];
  snprintf(cust, sizeof cust, "%s", make_customer("Lost Commit Co"));
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", "
           "\"outcome\": \"no_answer\"}",
           cust);
  const char *headers[] = {"Idempotency-Key: lost-commit-1", NULL};
  struct http_resp r = {0};
  db_fault_lose_next_commit();
  http(&r, "POST", "/v1/call-logs", ROLE_ADMIN, body, headers);
  assert_problem(&r, 503, "outcome-unknown", NULL);
  assert_true(r.retry_after[0] != '\0');
  assert_non_null(strstr(jstr(r.json, "detail"), "same Idempotency-Key"));
  /* PostgreSQL received the COMMIT and runs it: the write is there (soon),
   * though its answer never came. */
  long long recorded = 0;
  for (double until = now_s() + 5; recorded == 0 && now_s() < until; sleep_ms(20))
    recorded = harness_sql_int("SELECT count(*) FROM call_logs WHERE customer_id = %s", cust);
  assert_int_equal(recorded, 1);
  /* The retry (once the worker has reconnected) answers as recorded. */
  post_once_connected(&r, "/v1/call-logs", body, headers);
  assert_int_equal(r.status, 201);
  assert_int_equal(r.replayed, 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM call_logs WHERE customer_id = %s", cust), 1);

  /* No key: the same unknown outcome, and the advice to look first. */
  db_fault_lose_next_commit();
  post_once_connected(&r, "/v1/call-logs", body, NULL);
  assert_problem(&r, 503, "outcome-unknown", NULL);
  assert_non_null(strstr(jstr(r.json, "detail"), "without an Idempotency-Key"));
  http_resp_clear(&r);
}

/* When the transaction holding the key rolls back, the waiter does the work. */
static void waiter_works_after_rollback(void **state)
{
  (void)state;
  harness_sql("BEGIN");
  harness_sql("INSERT INTO idempotency_keys (api_key_id, idempotency_key, method, path, body_sha256) VALUES "
              "('%s', 'held-1', 'POST', '/v1/customers', sha256('x'))",
              key_id(ROLE_ADMIN));
  struct key_racer a = {.path = "/v1/customers", .key = "held-1", .body = "{\"name\": \"Held Co\"}", .who = ROLE_ADMIN};
  pthread_t ta;
  assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
  wait_for_lock_waiters(1);
  harness_sql("ROLLBACK");
  pthread_join(ta, NULL);
  expect_status(&a.out, 201);
  assert_int_equal(a.out.replayed, 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE name = 'Held Co'"), 1);
  assert_int_equal(harness_sql_int("SELECT status FROM idempotency_keys WHERE idempotency_key = 'held-1'"), 201);
  http_resp_clear(&a.out);
}

/* A first request that runs past lock_timeout: the repeat is told to retry
 * (409 with Retry-After) and changes nothing. */
static void still_running_is_409(void **state)
{
  (void)state;
  long long customers = harness_sql_int("SELECT count(*) FROM customers");
  harness_sql("BEGIN");
  harness_sql("INSERT INTO idempotency_keys (api_key_id, idempotency_key, method, path, body_sha256) VALUES "
              "('%s', 'held-2', 'POST', '/v1/customers', sha256('x'))",
              key_id(ROLE_ADMIN));
  struct key_racer a = {.path = "/v1/customers", .key = "held-2", .body = "{\"name\": \"Busy Co\"}", .who = ROLE_ADMIN};
  race(&a);
  harness_sql("ROLLBACK");
  expect_problem(&a.out, 409, "idempotency-key-in-use", "Idempotency-Key");
  assert_string_equal(a.out.retry_after, "1");
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers"), customers);
  assert_int_equal(key_rows("held-2"), 0);
  http_resp_clear(&a.out);
}

static struct config import_cfg;
static struct import_worker *import_worker;

static int setup(void **state)
{
  /* lock_timeout is half the statement timeout: keep the 409 test short. */
  setenv("ARC_STATEMENT_TIMEOUT_MS", "3000", 1);
  int rc = harness_setup(state);
  main_curl = curl_easy_init();
  /* The worker that runs the import of every_post_route. */
  if (rc == 0 && config_load(&import_cfg) == 0)
    import_worker = import_worker_start(&import_cfg);
  return rc || !main_curl || !import_worker;
}

static int teardown(void **state)
{
  import_worker_stop(import_worker);
  config_free(&import_cfg);
  curl_easy_cleanup(main_curl);
  return harness_teardown(state);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(expired_rows_are_purged), /* first: see there */
      cmocka_unit_test(customer_replayed),
      cmocka_unit_test(reuse_for_another_request_refused),
      cmocka_unit_test(keys_are_per_api_key),
      cmocka_unit_test(payment_with_allocations_replayed),
      cmocka_unit_test(call_log_with_promise_replayed),
      cmocka_unit_test(reversal_replayed),
      cmocka_unit_test(scheduler_run_replayed),
      cmocka_unit_test(api_key_replayed_and_secret_sealed),
      cmocka_unit_test(tampered_row_not_replayed),
      cmocka_unit_test(every_post_route),
      cmocka_unit_test(failed_attempt_leaves_key_free),
      cmocka_unit_test(expired_key_is_new),
      cmocka_unit_test(bad_keys_refused),
      cmocka_unit_test(other_methods_ignore_the_key),
      cmocka_unit_test(concurrent_repeats_done_once),
      cmocka_unit_test(waiter_replays_after_commit),
      cmocka_unit_test(waiter_works_after_rollback),
      cmocka_unit_test(lost_commit_is_outcome_unknown),
      cmocka_unit_test(still_running_is_409),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
