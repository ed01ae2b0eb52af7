/* A CRM's round trip through arcollect (issue 6, "Done when"), against the
 * real server, its import worker and webhook delivery thread, and a real
 * PostgreSQL; the CRM side is played by this program:
 *
 *   1. it imports its customers and invoices as CSV (POST /v1/imports) and
 *      waits for the jobs;
 *   2. it subscribes a receiver on loopback to follow_up.* (POST
 *      /v1/webhooks); a sweep (POST /v1/scheduler/runs) makes the overdue
 *      account's follow-up, and the receiver gets follow_up.created signed
 *      the Standard Webhooks way with the secret of the 201 (checked here
 *      with OpenSSL's HMAC, not with the server's code);
 *   3. it posts the collector's call back (reached, with a promise) with an
 *      Idempotency-Key, twice, as a CRM retrying after a lost answer would:
 *      the second answer is the first one replayed, one call log and one
 *      promise exist, the follow-up is closed by the call and the receiver
 *      gets follow_up.done;
 *   4. the accounting side imports the payment that keeps the promise, a
 *      sweep runs, and GET /v1/reports/kpis shows the effect, each figure
 *      worked out by hand below (and read once before the payment too).
 *
 * The steps share one database and run in order.  T is today in the
 * business's time zone; "T-20" is 20 days before. */
#include "harness.h"
#include "receiver.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arc/config.h"
#include "arc/imports.h"
#include "arc/webhooks.h"

#define WAIT_S 30.0 /* the event feed waits for the cluster's oldest transaction */

/* ====================================================== the CRM's receiver */

/* It records every request and answers 200 (receiver.h). */
static struct receiver rx = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ============================================== Standard Webhooks, by hand */

/* H is signed with SECRET, names its event in webhook-id, is fresh, and
 * a changed byte of the body, id or timestamp breaks the signature. */
static void expect_signed(const char *secret, const struct hit *h, const json_t *body)
{
  if (!signature_valid(secret, h))
    fail_msg("bad signature '%s' on %s", h->sig, h->body);
  char want_id[64];
  snprintf(want_id, sizeof want_id, "evt_%s", jstr(body, "id"));
  assert_string_equal(h->id, want_id);
  long long ts = atoll(h->ts), wall = (long long)time(NULL);
  if (ts < wall - 120 || ts > wall + 5)
    fail_msg("webhook-timestamp %s is not now (%lld)", h->ts, wall);
  struct hit bad = *h;
  bad.body = strdup(h->body);
  bad.body[bad.len / 2] ^= 1;
  assert_false(signature_valid(secret, &bad));
  free(bad.body);
  bad = *h;
  snprintf(bad.ts, sizeof bad.ts, "%lld", ts - 1);
  assert_false(signature_valid(secret, &bad));
  bad = *h;
  bad.id[strlen(bad.id) - 1] ^= 1;
  assert_false(signature_valid(secret, &bad));
}

/* ============================================ a client that sees headers */

/* The harness's client keeps a few headers; a CRM retrying a POST reads
 * Idempotent-Replayed too.  Straight to the server (not through a Prism
 * proxy in contract mode). */
struct answer {
  long status;
  char *body;
  size_t len;
  json_t *json;
  char location[128], etag[64], content_type[96];
  int replayed; /* Idempotent-Replayed: 1 true, 0 absent, -1 anything else */
};

static void answer_clear(struct answer *a)
{
  json_decref(a->json);
  free(a->body);
  memset(a, 0, sizeof *a);
}

static size_t on_answer_body(char *p, size_t size, size_t n, void *ud)
{
  struct answer *a = ud;
  size_t len = size * n;
  char *grown = realloc(a->body, a->len + len + 1);
  if (!grown)
    return 0;
  a->body = grown;
  memcpy(a->body + a->len, p, len);
  a->len += len;
  a->body[a->len] = '\0';
  return len;
}

/* Copies header line LINE's value to OUT when its name is NAME. */
static void header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
  size_t nl = strlen(name);
  if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
    return;
  const char *v = line + nl + 1;
  size_t vl = len - nl - 1;
  while (vl && (*v == ' ' || *v == '\t')) {
    v++;
    vl--;
  }
  while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
    vl--;
  snprintf(out, size, "%.*s", (int)vl, v);
}

static size_t on_answer_header(char *line, size_t size, size_t n, void *ud)
{
  struct answer *a = ud;
  size_t len = size * n;
  char replayed[16] = "";
  header_value(line, len, "Location", a->location, sizeof a->location);
  header_value(line, len, "ETag", a->etag, sizeof a->etag);
  header_value(line, len, "Content-Type", a->content_type, sizeof a->content_type);
  header_value(line, len, "Idempotent-Replayed", replayed, sizeof replayed);
  if (*replayed)
    a->replayed = strcmp(replayed, "true") == 0 ? 1 : -1;
  return len;
}

/* POST PATH as WHO with the JSON BODY and "Idempotency-Key: KEY". */
static void post_with_key(struct answer *a, const char *path, enum role who, const char *key, const char *body)
{
  answer_clear(a);
  char url[512], auth[256], key_line[256];
  snprintf(url, sizeof url, "%s%s", harness_base(), path);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok(who));
  snprintf(key_line, sizeof key_line, "Idempotency-Key: %s", key);
  struct curl_slist *hl = curl_slist_append(NULL, auth);
  hl = curl_slist_append(hl, key_line);
  hl = curl_slist_append(hl, "Content-Type: application/json");
  hl = curl_slist_append(hl, "Expect:");
  CURL *c = curl_easy_init();
  assert_non_null(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_answer_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_answer_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(c);
  a->status = -1;
  if (rc == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
  curl_easy_cleanup(c);
  curl_slist_free_all(hl);
  if (a->body)
    a->json = json_loadb(a->body, a->len, 0, NULL);
}

/* ================================================================ helpers */

/* The member at PATH ("a/b/0/c": names, or array indexes) of O. */
static json_t *at(json_t *o, const char *path)
{
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  char *save = NULL;
  for (char *seg = strtok_r(buf, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
    o = json_is_array(o) ? json_array_get(o, strtoul(seg, NULL, 10)) : json_object_get(o, seg);
    if (!o)
      fail_msg("no %s (at %s)", path, seg);
  }
  return o;
}

static void num(json_t *o, const char *path, long long want)
{
  json_t *v = at(o, path);
  if (!json_is_integer(v))
    fail_msg("%s: expected the integer %lld, got %s", path, want, json_is_null(v) ? "null" : "another type");
  if (json_integer_value(v) != want)
    fail_msg("%s: expected %lld, got %lld", path, want, (long long)json_integer_value(v));
}

/* A ratio: WANT with two decimals, or JSON null when WANT is NULL. */
static void ratio(json_t *o, const char *path, const char *want)
{
  json_t *v = at(o, path);
  if (!want) {
    if (!json_is_null(v))
      fail_msg("%s: expected null, got %g", path, json_number_value(v));
    return;
  }
  if (!json_is_real(v))
    fail_msg("%s: expected %s, got %s", path, want, json_is_null(v) ? "null" : "not a decimal");
  char got[64];
  snprintf(got, sizeof got, "%.2f", json_real_value(v));
  if (strcmp(got, want) != 0)
    fail_msg("%s: expected %s, got %s", path, want, got);
}

/* The CSV upload as the CRM's integration key; 202, then the job's end.
 * Returns the job's document (caller decrefs). */
static json_t *import_csv(const char *kind, const char *csv)
{
  char path[96];
  snprintf(path, sizeof path, "/v1/imports?kind=%s", kind);
  struct http_resp r = {0};
  http_raw(&r, "POST", path, ROLE_INTEGRATION, csv, strlen(csv), "text/csv", NULL);
  if (r.status != 202)
    fail_msg("import of %s: %ld %s", kind, r.status, r.body ? r.body : "");
  char loc[64];
  snprintf(loc, sizeof loc, "/v1/imports/%s", jstr(r.json, "id"));
  assert_string_equal(r.location, loc);
  double deadline = now_s() + WAIT_S;
  for (;;) {
    http(&r, "GET", loc, ROLE_INTEGRATION, NULL, NULL);
    assert_status(&r, 200);
    const char *st = jstr(r.json, "status");
    if (strcmp(st, "queued") != 0 && strcmp(st, "running") != 0)
      break;
    if (now_s() > deadline)
      fail_msg("import %s still %s after %.0f s", loc, st, WAIT_S);
    sleep_ms(10);
  }
  json_t *job = json_incref(r.json);
  http_resp_clear(&r);
  if (strcmp(jstr(job, "status"), "succeeded") != 0)
    fail_msg("import of %s ended %s", kind, jstr(job, "status"));
  return job;
}

/* GET PATH as the integration, 200; the document (caller decrefs). */
static json_t *get_doc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *get_doc(const char *fmt, ...)
{
  char path[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof path, fmt, ap);
  va_end(ap);
  struct http_resp r = {0};
  http(&r, "GET", path, ROLE_INTEGRATION, NULL, NULL);
  if (r.status != 200)
    fail_msg("GET %s: %ld %s", path, r.status, r.body ? r.body : "");
  json_t *doc = json_incref(r.json);
  http_resp_clear(&r);
  return doc;
}

/* The one item of a list at PATH (caller decrefs). */
static json_t *only_item(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *only_item(const char *fmt, ...)
{
  char path[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof path, fmt, ap);
  va_end(ap);
  json_t *page = get_doc("%s", path);
  json_t *data = json_object_get(page, "data");
  if (json_array_size(data) != 1)
    fail_msg("GET %s: %zu items, expected 1", path, json_array_size(data));
  json_t *item = json_incref(json_array_get(data, 0));
  json_decref(page);
  return item;
}

/* A sweep now, as the scheduler would run it; the run's document. */
static json_t *sweep(void)
{
  struct http_resp r = {0};
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 201);
  json_t *doc = json_incref(r.json);
  http_resp_clear(&r);
  return doc;
}

/* The sum of a run's counts by reason (created or closed). */
static long long count_sum(const json_t *counts)
{
  long long sum = 0;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)counts, k, v) sum += json_integer_value(v);
  return sum;
}

static long long events(void) { return harness_sql_int("SELECT count(*) FROM events"); }

/* ================================================================ state */

static struct config g_cfg;
static struct import_worker *g_worker;
static struct delivery *g_delivery;

static char t0[16], t_1[16], t_4[16], t_5[16], t_20[16], t_29[16], t29[16], t30[16];
static char globex[32], initech[32], gx1[32], gx2[32], in1[32];
static char hook_id[32], hook_secret[80];
static char overdue_fu[32];

/* ================================================================ 1 */

/* The CRM's customers and open invoices, as its export writes them (CRLF,
 * quoted fields with commas and doubled quotes):
 *   CRM-100 "Globex, Inc." (carol@crm):
 *     GX-1001 150000 USD issued T-20 due T-5: 5 days overdue
 *     GX-1002  50000 USD issued T    due T+30
 *   CRM-200 Initech (carol@crm):
 *     IN-2001  25000 USD issued T-1  due T+29
 * Only Globex is overdue; no invoice is two days old and not yet due, so
 * no receipt confirmation is asked for: the sweep makes one follow-up. */
static void import_customers_and_invoices(void **state)
{
  (void)state;
  const char *customers = "external_id,name,kind,email,collector,salesperson,notes\r\n"
                          "CRM-100,\"Globex, Inc.\",commercial,ap@globex.example,carol@crm,sam@crm,"
                          "\"Key account; AP is \"\"Dana\"\"\"\r\n"
                          "CRM-200,Initech,commercial,billing@initech.example,carol@crm,,\r\n";
  json_t *job = import_csv("customers", customers);
  num(job, "rows_total", 2);
  num(job, "rows_applied", 2);
  num(job, "rows_failed", 0);
  assert_string_equal(jstr(job, "created_by"), "integration:crm");
  json_decref(job);

  json_t *c = only_item("/v1/customers?external_id=CRM-100");
  snprintf(globex, sizeof globex, "%s", jstr(c, "id"));
  assert_string_equal(jstr(c, "name"), "Globex, Inc.");
  assert_string_equal(jstr(c, "collector"), "carol@crm");
  assert_string_equal(jstr(c, "salesperson"), "sam@crm");
  assert_string_equal(jstr(c, "email"), "ap@globex.example");
  assert_string_equal(jstr(c, "notes"), "Key account; AP is \"Dana\"");
  json_decref(c);
  c = only_item("/v1/customers?external_id=CRM-200");
  snprintf(initech, sizeof initech, "%s", jstr(c, "id"));
  assert_string_equal(jstr(c, "name"), "Initech");
  assert_true(is_null(c, "salesperson"));
  json_decref(c);

  char invoices[1024];
  snprintf(invoices, sizeof invoices,
           "external_id,customer_external_id,number,currency,amount,issued_on,due_on,po_number,description\r\n"
           "CRM-INV-1,CRM-100,GX-1001,USD,150000,%s,%s,PO-77,\"Consulting, March\"\r\n"
           "CRM-INV-2,CRM-100,GX-1002,USD,50000,%s,%s,,\r\n"
           "CRM-INV-3,CRM-200,IN-2001,USD,25000,%s,%s,,\r\n",
           t_20, t_5, t0, t30, t_1, t29);
  job = import_csv("invoices", invoices);
  num(job, "rows_total", 3);
  num(job, "rows_applied", 3);
  json_decref(job);

  json_t *i = only_item("/v1/invoices?external_id=CRM-INV-1");
  snprintf(gx1, sizeof gx1, "%s", jstr(i, "id"));
  assert_string_equal(jstr(i, "customer_id"), globex);
  assert_string_equal(jstr(i, "number"), "GX-1001");
  assert_string_equal(jstr(i, "status"), "open");
  assert_string_equal(jstr(i, "description"), "Consulting, March");
  assert_string_equal(jstr(i, "due_on"), t_5);
  num(i, "balance", 150000);
  num(i, "days_overdue", 5);
  json_decref(i);
  i = only_item("/v1/invoices?external_id=CRM-INV-2");
  snprintf(gx2, sizeof gx2, "%s", jstr(i, "id"));
  num(i, "days_overdue", 0);
  json_decref(i);
  i = only_item("/v1/invoices?external_id=CRM-INV-3");
  snprintf(in1, sizeof in1, "%s", jstr(i, "id"));
  assert_string_equal(jstr(i, "customer_id"), initech);
  json_decref(i);

  /* The accounts as the collector sees them. */
  c = get_doc("/v1/customers/%s", globex);
  num(c, "balance_open/USD", 200000);
  num(c, "balance_overdue/USD", 150000);
  num(c, "days_overdue", 5);
  json_decref(c);
  c = get_doc("/v1/customers/%s", initech);
  num(c, "balance_open/USD", 25000);
  assert_int_equal(json_object_size(at(c, "balance_overdue")), 0);
  json_decref(c);
  /* Imported rows are events like any other write, by the CRM. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE actor = 'integration:crm' AND "
                                   "((type = 'customer.created' AND customer_id IN (%s, %s)) OR "
                                   "(type = 'invoice.created' AND resource_id IN ('%s', '%s', '%s')))",
                                   globex, initech, gx1, gx2, in1),
                   5);
}

/* ================================================================ 2 */

static void follow_up_created_by_webhook(void **state)
{
  (void)state;
  char body[512];
  snprintf(body, sizeof body,
           "{\"url\": \"http://127.0.0.1:%u/crm/arcollect\", \"event_types\": [\"follow_up.*\"], "
           "\"description\": \"CRM task sync\"}",
           (unsigned)rx.port);
  struct http_resp r = {0};
  http(&r, "POST", "/v1/webhooks", ROLE_INTEGRATION, body, NULL);
  assert_status(&r, 201);
  snprintf(hook_id, sizeof hook_id, "%s", jstr(r.json, "id"));
  snprintf(hook_secret, sizeof hook_secret, "%s", jstr(r.json, "secret"));
  assert_int_equal(strncmp(hook_secret, "whsec_", 6), 0);
  http_resp_clear(&r);

  json_t *run = sweep();
  num(run, "created/overdue", 1);
  assert_int_equal(count_sum(at(run, "created")), 1);
  json_decref(run);

  json_t *fu = only_item("/v1/follow-ups?customer_id=%s&status=open", globex);
  snprintf(overdue_fu, sizeof overdue_fu, "%s", jstr(fu, "id"));
  assert_string_equal(jstr(fu, "reason"), "overdue");
  assert_string_equal(jstr(fu, "assignee"), "carol@crm");
  json_decref(fu);
  json_t *none = get_doc("/v1/follow-ups?customer_id=%s&status=open", initech);
  assert_int_equal(json_array_size(at(none, "data")), 0);
  json_decref(none);

  /* The CRM learns of it by webhook: the follow-up as the API shows it,
   * signed with the secret it was given. */
  struct hit h = rx_wait(&rx, NULL, "follow_up.created", overdue_fu, 1);
  assert_string_equal(h.path, "/crm/arcollect");
  json_t *ev = json_loadb(h.body, h.len, JSON_REJECT_DUPLICATES, NULL);
  assert_non_null(ev);
  expect_signed(hook_secret, &h, ev);
  assert_string_equal(jstr(ev, "customer_id"), globex);
  json_t *d = at(ev, "data");
  assert_string_equal(jstr(d, "reason"), "overdue");
  assert_string_equal(jstr(d, "status"), "open");
  assert_string_equal(jstr(d, "customer_name"), "Globex, Inc.");
  assert_string_equal(jstr(d, "assignee"), "carol@crm");
  assert_string_equal(jstr(d, "due_on"), t_4); /* the first day overdue */
  num(d, "amount_overdue", 150000);
  assert_string_equal(jstr(d, "currency"), "USD");
  assert_int_equal(json_array_size(at(d, "invoice_ids")), 1);
  assert_string_equal(json_string_value(at(d, "invoice_ids/0")), gx1);
  json_decref(ev);
}

/* ================================================================ 3 */

static void call_logged_back_twice(void **state)
{
  (void)state;
  char body[1024];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"channel\": \"phone\", \"direction\": "
           "\"outbound\", \"outcome\": \"reached\", \"contact_name\": \"Dana (AP)\", \"notes\": \"Will pay GX-1001 "
           "in full by ACH today; CRM activity 'A-77'\", \"promise\": {\"amount\": 150000, \"promised_on\": "
           "\"%s\", \"method\": \"ach\"}}",
           globex, gx1, t0);
  const char *key = "crm-activity-A-77";
  long long before = events();
  struct answer first = {0}, again = {0};
  post_with_key(&first, "/v1/call-logs", ROLE_INTEGRATION, key, body);
  if (first.status != 201)
    fail_msg("call log: %ld %s", first.status, first.body ? first.body : "");
  assert_int_equal(first.replayed, 0);
  char call_id[32], promise_id[32], loc[64];
  snprintf(call_id, sizeof call_id, "%s", jstr(first.json, "id"));
  snprintf(loc, sizeof loc, "/v1/call-logs/%s", call_id);
  assert_string_equal(first.location, loc);
  assert_string_equal(jstr(first.json, "logged_by"), "integration:crm");
  json_t *promise = at(first.json, "promise");
  snprintf(promise_id, sizeof promise_id, "%s", jstr(promise, "id"));
  assert_string_equal(jstr(promise, "status"), "pending");
  assert_string_equal(jstr(promise, "due_by"), t0); /* ARC_PROMISE_GRACE_DAYS=0, see main */
  num(promise, "amount", 150000);
  long long after_first = events();
  assert_true(after_first > before);

  /* The CRM never saw that answer and sends the same request again. */
  post_with_key(&again, "/v1/call-logs", ROLE_INTEGRATION, key, body);
  assert_int_equal(again.status, 201);
  assert_int_equal(again.replayed, 1);
  assert_int_equal(again.len, first.len);
  assert_memory_equal(again.body, first.body, first.len);
  assert_string_equal(again.location, first.location);
  assert_string_equal(again.etag, first.etag);
  assert_string_equal(again.content_type, first.content_type);
  answer_clear(&first);
  answer_clear(&again);

  /* Done once: one call log, one promise, no event more. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM call_logs WHERE customer_id = %s", globex), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM promises WHERE customer_id = %s", globex), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM promises WHERE id = %s AND call_log_id = %s", promise_id,
                                   call_id),
                   1);
  assert_int_equal(events(), after_first);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = '%s'", key), 1);
  char *notes = harness_sql("SELECT notes FROM call_logs WHERE id = %s", call_id);
  assert_string_equal(notes, "Will pay GX-1001 in full by ACH today; CRM activity 'A-77'");
  free(notes);

  /* The call closed the follow-up, and the CRM hears of it. */
  json_t *fu = get_doc("/v1/follow-ups/%s", overdue_fu);
  assert_string_equal(jstr(fu, "status"), "done");
  assert_string_equal(jstr(fu, "closed_reason"), "contact_logged");
  assert_string_equal(jstr(fu, "closed_by"), "integration:crm");
  json_decref(fu);
  struct hit h = rx_wait(&rx, NULL, "follow_up.done", overdue_fu, 1);
  json_t *ev = json_loadb(h.body, h.len, JSON_REJECT_DUPLICATES, NULL);
  assert_non_null(ev);
  expect_signed(hook_secret, &h, ev);
  assert_string_equal(jstr(at(ev, "data"), "status"), "done");
  assert_string_equal(jstr(at(ev, "data"), "closed_reason"), "contact_logged");
  assert_string_equal(jstr(ev, "actor"), "integration:crm");
  json_decref(ev);
}

/* ================================================================ 4 */

/* GET /v1/reports/kpis for T-29 .. T (30 days), as the CRM's dashboard. */
static json_t *kpis(void)
{
  json_t *k = get_doc("/v1/reports/kpis?from=%s&to=%s", t_29, t0);
  assert_string_equal(jstr(k, "from"), t_29);
  assert_string_equal(jstr(k, "to"), t0);
  num(k, "days", 30);
  num(k, "goal_pct", 70);
  return k;
}

/* Every invoice was issued in the period (credit sales 225000 USD, nothing
 * owed at its start: beginning receivables 0).  One outbound call that
 * reached the customer.
 *
 * Before the payment: ending receivables 150000 + 50000 + 25000 = 225000,
 * of which current (due on or after T) 50000 + 25000 = 75000;
 *   DSO = 225000 / 225000 × 30 = 30.00;
 *   CEI = (0 + 225000 - 225000) / (0 + 225000 - 75000) × 100 = 0.00;
 *   collected within 30 days of issue 0 of 225000: 0.00 %;
 *   no invoice paid: average days null; the promise is pending: none came
 *   due as kept or broken, kept_pct null.
 * After GX-1001's 150000 on T (20 days after its issue, kept the promise):
 *   ending receivables 75000, all current;
 *   DSO = 75000 / 225000 × 30 = 10.00;
 *   CEI = (0 + 225000 - 75000) / (0 + 225000 - 75000) × 100 = 100.00;
 *   collected within 30 days 150000 of 225000: 66.666… -> 66.67 %, below
 *   the goal of 70: not met;
 *   paid in full: 1 invoice, 150000, 150000 × 20 days / 150000 = 20.00;
 *   promises: 1 came due (promised T, due by T), kept: 100.00. */
static void payment_then_kpis(void **state)
{
  (void)state;
  json_t *k = kpis();
  json_t *usd = at(k, "totals/currencies/0");
  assert_int_equal(json_array_size(at(k, "totals/currencies")), 1);
  assert_string_equal(jstr(usd, "currency"), "USD");
  num(usd, "beginning_receivables", 0);
  num(usd, "ending_receivables", 225000);
  num(usd, "ending_current_receivables", 75000);
  num(usd, "credit_sales", 225000);
  ratio(usd, "dso", "30.00");
  ratio(usd, "cei", "0.00");
  num(usd, "collected_within_30_days/invoiced_amount", 225000);
  num(usd, "collected_within_30_days/collected_amount", 0);
  ratio(usd, "collected_within_30_days/actual_pct", "0.00");
  num(usd, "days_to_pay/invoices_paid", 0);
  ratio(usd, "days_to_pay/average_days", NULL);
  num(k, "totals/calls/logged", 1);
  num(k, "totals/calls/attempts", 1);
  num(k, "totals/calls/successful_contacts", 1);
  num(k, "totals/promises/came_due", 0);
  ratio(k, "totals/promises/kept_pct", NULL);
  json_decref(k);

  /* The accounting side's payment, imported as its export writes it. */
  char csv[512];
  snprintf(csv, sizeof csv,
           "external_id,customer_external_id,amount,currency,received_on,method,reference,invoice_number\r\n"
           "CRM-PAY-1,CRM-100,150000,USD,%s,ach,\"ACH 0042, Globex\",GX-1001\r\n",
           t0);
  json_t *job = import_csv("payments", csv);
  num(job, "rows_applied", 1);
  json_decref(job);
  json_t *i = get_doc("/v1/invoices/%s", gx1);
  assert_string_equal(jstr(i, "status"), "paid");
  num(i, "balance", 0);
  json_decref(i);

  /* The sweep thanks whoever got it paid (a call named the invoice); the
   * CRM hears of that task too. */
  json_t *run = sweep();
  num(run, "created/thank_you", 1);
  assert_int_equal(count_sum(at(run, "created")), 1);
  json_decref(run);
  json_t *p = only_item("/v1/promises?customer_id=%s", globex);
  assert_string_equal(jstr(p, "status"), "kept");
  json_decref(p);
  json_t *fu = only_item("/v1/follow-ups?customer_id=%s&status=open", globex);
  assert_string_equal(jstr(fu, "reason"), "thank_you");
  char thanks[32];
  snprintf(thanks, sizeof thanks, "%s", jstr(fu, "id"));
  json_decref(fu);
  struct hit h = rx_wait(&rx, NULL, "follow_up.created", thanks, 1);
  json_t *ev = json_loadb(h.body, h.len, JSON_REJECT_DUPLICATES, NULL);
  expect_signed(hook_secret, &h, ev);
  assert_string_equal(jstr(at(ev, "data"), "reason"), "thank_you");
  json_decref(ev);
  /* Events arrive in order: by now the earlier ones came once each, and
   * nothing the filter leaves out came at all. */
  assert_int_equal(rx_count(&rx, NULL, "follow_up.created", overdue_fu), 1);
  assert_int_equal(rx_count(&rx, NULL, "follow_up.done", overdue_fu), 1);
  assert_int_equal(rx_count(&rx, NULL, NULL, NULL), 3);

  k = kpis();
  usd = at(k, "totals/currencies/0");
  assert_int_equal(json_array_size(at(k, "totals/currencies")), 1);
  num(usd, "beginning_receivables", 0);
  num(usd, "ending_receivables", 75000);
  num(usd, "ending_current_receivables", 75000);
  num(usd, "credit_sales", 225000);
  ratio(usd, "dso", "10.00");
  ratio(usd, "cei", "100.00");
  num(usd, "collected_within_30_days/invoiced_amount", 225000);
  num(usd, "collected_within_30_days/collected_amount", 150000);
  ratio(usd, "collected_within_30_days/actual_pct", "66.67");
  num(usd, "collected_within_30_days/goal_pct", 70);
  assert_true(json_is_false(at(usd, "collected_within_30_days/met")));
  num(usd, "days_to_pay/invoices_paid", 1);
  num(usd, "days_to_pay/amount_paid", 150000);
  ratio(usd, "days_to_pay/average_days", "20.00");
  num(k, "totals/promises/came_due", 1);
  num(k, "totals/promises/kept", 1);
  num(k, "totals/promises/broken", 0);
  ratio(k, "totals/promises/kept_pct", "100.00");
  num(k, "totals/calls/logged", 1);
  num(k, "totals/calls/attempts", 1);
  num(k, "totals/calls/successful_contacts", 1);
  num(k, "totals/disputes/opened", 0);
  json_decref(k);

  /* Every delivery is on record as delivered at the first attempt. */
  double deadline = now_s() + WAIT_S;
  while (harness_sql_int("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %s AND status = 'delivered'",
                         hook_id) < 3) {
    if (now_s() > deadline)
      fail_msg("the three deliveries were not recorded as delivered within %.0f s", WAIT_S);
    sleep_ms(20);
  }
  assert_int_equal(harness_sql_int("SELECT count(*) FROM webhook_attempts x JOIN webhook_deliveries d ON "
                                   "d.id = x.delivery_id WHERE d.webhook_id = %s",
                                   hook_id),
                   3);
}

/* ================================================================ main */

static int setup(void **state)
{
  if (harness_setup(state) != 0 || config_load(&g_cfg) != 0)
    return -1;
  day(t0, 0);
  day(t_1, -1);
  day(t_4, -4);
  day(t_5, -5);
  day(t_20, -20);
  day(t_29, -29);
  day(t29, 29);
  day(t30, 30);
  g_worker = import_worker_start(&g_cfg);
  if (!g_worker || rx_start(&rx, 0) != 0)
    return -1;
  g_delivery = delivery_start(&g_cfg);
  return g_delivery ? 0 : -1;
}

static int teardown(void **state)
{
  delivery_stop(g_delivery);
  import_worker_stop(g_worker);
  rx_stop(&rx);
  rx_free_hits(&rx);
  config_free(&g_cfg);
  return harness_teardown(state);
}

int main(void)
{
  /* A promise counts in the KPI report once it is due (promised_on + the
   * grace days) within the period, and the period cannot end after today
   * while a promise cannot be made for a day before today: with no grace
   * days, one promised for today and kept today is reported today. */
  setenv("ARC_PROMISE_GRACE_DAYS", "0", 1);
  setenv("ARC_IMPORT_POLL_S", "1", 1);
  setenv("ARC_WEBHOOK_INTERVAL_MS", "50", 1);
  setenv("ARC_WEBHOOK_TIMEOUT_MS", "5000", 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(import_customers_and_invoices),
      cmocka_unit_test(follow_up_created_by_webhook),
      cmocka_unit_test(call_logged_back_twice),
      cmocka_unit_test(payment_then_kpis),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
