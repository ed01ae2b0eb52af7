/* Webhooks: /v1/webhooks subscriptions (the secret shown once, filters,
 * enable/disable, delete), and the delivery thread against receivers on
 * loopback (libmicrohttpd servers in this process that record every
 * request): signed Standard Webhooks POSTs verified here with OpenSSL's
 * HMAC, event type filters, retries with growing delays, subscriptions
 * disabled when they keep failing (and the event that says so), two
 * delivery threads sharing the work, and at-least-once delivery across
 * restarts of the real arcollectd binary (SIGTERM and SIGKILL).
 *
 * The in-process delivery thread runs with a short retry schedule: first
 * retry after ~50 ms, the next after ~3 s, window 3 s (set in main). */
#include "harness.h"
#include "receiver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "arc/config.h"
#include "arc/internal_addr.h"
#include "arc/webhooks.h"


#define WAIT_S 30.0 /* the event feed waits for the cluster's oldest transaction: be patient */

/* ================================================================ receivers */

/* rx_main and rx_down (receiver.h): rx_down is stopped and started again. */
static struct receiver rx_main = {.mu = PTHREAD_MUTEX_INITIALIZER};
static struct receiver rx_down = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Waits until SQL (a count) reaches N. */
static void sql_wait(long long n, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sql_wait(long long n, const char *what, const char *fmt, ...)
{
  char sql[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  double deadline = now_s() + WAIT_S;
  while (harness_sql_int("%s", sql) < n) {
    if (now_s() > deadline)
      fail_msg("no %s within %.0f s (%s)", what, WAIT_S, sql);
    sleep_ms(20);
  }
}

/* Waits until the event feed (GET QUERY, which settles events only once
 * the cluster's older transactions are over) shows N events about
 * RESOURCE_ID; leaves the last page in R. */
static void feed_wait(struct http_resp *r, const char *query, const char *resource_id, size_t n)
{
  double deadline = now_s() + WAIT_S;
  for (;;) {
    http(r, "GET", query, ROLE_VIEWER, NULL, NULL);
    assert_status(r, 200);
    size_t k = 0, i;
    json_t *ev;
    json_array_foreach(json_object_get(r->json, "data"), i, ev) k += strcmp(jstr(ev, "resource_id"), resource_id) == 0;
    if (k >= n)
      return;
    if (now_s() > deadline)
      fail_msg("%s: %zu events about %s within %.0f s, expected %zu", query, k, resource_id, WAIT_S, n);
    sleep_ms(50);
  }
}

/* ============================================================ signatures */

/* Every hit at PATH is signed with SECRET and says which event it carries
 * in webhook-id ("evt_<event id>"). */
static void assert_all_signed(struct receiver *rx, const char *path, const char *secret)
{
  struct hit *hs;
  size_t n = rx_hits(rx, path, &hs);
  for (size_t i = 0; i < n; i++) {
    if (!signature_valid(secret, &hs[i]))
      fail_msg("%s: request %zu has a bad signature '%s'", path, i, hs[i].sig);
    json_t *b = json_loadb(hs[i].body, hs[i].len, 0, NULL);
    char want[64];
    snprintf(want, sizeof want, "evt_%s", jstr(b, "id") ? jstr(b, "id") : "?");
    if (strcmp(hs[i].id, want) != 0)
      fail_msg("%s: webhook-id %s for event %s", path, hs[i].id, want);
    json_decref(b);
  }
  free(hs);
}

/* ============================================ the in-process delivery thread */

static struct delivery *threads[2];

static void hooks_start(int n)
{
  struct config c;
  assert_int_equal(config_load(&c), 0);
  for (int i = 0; i < n; i++) {
    threads[i] = delivery_start(&c);
    assert_non_null(threads[i]);
  }
  config_free(&c);
}

static void hooks_stop(void)
{
  for (int i = 0; i < 2; i++) {
    delivery_stop(threads[i]);
    threads[i] = NULL;
  }
}

/* =============================================================== helpers */

struct sub {
  char id[32], secret[80], path[64];
};

/* A subscription to RX at PATH for TYPES (a JSON array text, or NULL). */
static void subscribe(struct sub *s, struct receiver *rx, const char *path, const char *types)
{
  char url[256], body[1024];
  rx_url(rx, path, url, sizeof url);
  snprintf(body, sizeof body, "{\"url\": \"%s\"%s%s}", url, types ? ", \"event_types\": " : "", types ? types : "");
  json_t *w = create_ok("/v1/webhooks", body);
  snprintf(s->id, sizeof s->id, "%s", jstr(w, "id"));
  snprintf(s->secret, sizeof s->secret, "%s", jstr(w, "secret"));
  snprintf(s->path, sizeof s->path, "%s", path);
  json_decref(w);
}

static long long counts_snapshot(void)
{
  return harness_sql_int("SELECT (SELECT count(*) FROM webhooks) * 1000000 + (SELECT count(*) FROM events)");
}

/* ======================================================= the tests: API */

/* The signature scheme against the Standard Webhooks known answer. */
static void sign_known_answer(void **state)
{
  (void)state;
  char sig[WEBHOOK_SIGNATURE_SIZE];
  const char *body = "{\"test\": 2432232314}";
  assert_int_equal(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                body, strlen(body), sig),
                   0);
  assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  /* Another body, id or time: another signature. */
  assert_int_equal(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331,
                                body, strlen(body), sig),
                   0);
  assert_string_not_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  assert_int_equal(webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 1, body, strlen(body), sig), -1);
  assert_int_equal(webhook_sign("whsec_not*base64", "m", 1, body, strlen(body), sig), -1);
  assert_int_equal(webhook_sign("whsec_", "m", 1, body, strlen(body), sig), -1);
  /* New secrets: whsec_ + 32 random bytes, never twice the same. */
  char a[WEBHOOK_SECRET_SIZE], b[WEBHOOK_SECRET_SIZE];
  assert_int_equal(webhook_secret_new(a), 0);
  assert_int_equal(webhook_secret_new(b), 0);
  assert_int_equal(strlen(a), 6 + 44);
  assert_int_equal(strncmp(a, "whsec_", 6), 0);
  assert_string_not_equal(a, b);
  assert_int_equal(webhook_sign(a, "m", 1, body, strlen(body), sig), 0);
}

static void create_read_update_delete(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char url[256], body[1024];
  rx_url(&rx_main, "/crud", url, sizeof url);
  snprintf(body, sizeof body,
           "{\"url\": \"%s\", \"event_types\": [\"invoice.created\", \"follow_up.*\"], \"description\": \"CRM sync\"}",
           url);
  http(&r, "POST", "/v1/webhooks", ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  char id[32], secret[80], loc[64];
  snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
  snprintf(secret, sizeof secret, "%s", jstr(r.json, "secret"));
  snprintf(loc, sizeof loc, "/v1/webhooks/%s", id);
  assert_string_equal(r.location, loc);
  assert_string_equal(r.etag, "\"1\"");
  assert_int_equal(strncmp(secret, "whsec_", 6), 0);
  assert_int_equal(strlen(secret), 50);
  assert_string_equal(jstr(r.json, "url"), url);
  assert_string_equal(jstr(r.json, "description"), "CRM sync");
  assert_true(json_is_true(json_object_get(r.json, "enabled")));
  assert_true(is_null(r.json, "disabled_reason"));
  assert_true(is_null(r.json, "disabled_at"));
  assert_string_equal(jstr(r.json, "created_by"), "admin@example.com");
  assert_int_equal(jint(r.json, "pending_deliveries"), 0);
  json_t *types = json_object_get(r.json, "event_types");
  assert_int_equal(json_array_size(types), 2);
  assert_string_equal(json_string_value(json_array_get(types, 1)), "follow_up.*");
  /* The secret stored is the one shown, and it is shown this once. */
  char *stored = harness_sql("SELECT secret FROM webhooks WHERE id = %s", id);
  assert_string_equal(stored, secret);
  free(stored);
  json_t *created = json_incref(r.json);
  json_object_del(created, "secret");

  http(&r, "GET", loc, ROLE_INTEGRATION, NULL, NULL);
  assert_status(&r, 200);
  assert_null(json_object_get(r.json, "secret"));
  assert_true(json_equal(r.json, created));
  assert_string_equal(r.etag, "\"1\"");
  json_decref(created);

  /* Lists: by id, filtered by enabled, never with the secret. */
  http(&r, "GET", "/v1/webhooks?enabled=true&limit=200", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  int seen = 0;
  for (size_t i = 0; i < data_size(&r); i++) {
    seen |= strcmp(data_id(&r, i), id) == 0;
    assert_null(json_object_get(json_array_get(json_object_get(r.json, "data"), i), "secret"));
  }
  assert_true(seen);
  assert_null(strstr(r.body, "whsec_"));
  http(&r, "GET", "/v1/webhooks?enabled=false", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  for (size_t i = 0; i < data_size(&r); i++)
    assert_string_not_equal(data_id(&r, i), id);

  /* PATCH with If-Match; a stale one is refused. */
  const char *if1[] = {"If-Match: \"1\"", NULL};
  http(&r, "PATCH", loc, ROLE_ADMIN, "{\"description\": \"CRM sync (all events)\", \"event_types\": []}", if1);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"2\"");
  assert_string_equal(jstr(r.json, "description"), "CRM sync (all events)");
  assert_int_equal(json_array_size(json_object_get(r.json, "event_types")), 0);
  assert_null(json_object_get(r.json, "secret"));
  http(&r, "PATCH", loc, ROLE_ADMIN, "{\"description\": \"lost update\"}", if1);
  assert_problem(&r, 412, "precondition-failed", NULL);
  char *desc = harness_sql("SELECT description FROM webhooks WHERE id = %s", id);
  assert_string_equal(desc, "CRM sync (all events)");
  free(desc);
  /* Nothing to change: same version, no event. */
  long long events = harness_sql_int("SELECT count(*) FROM events WHERE resource_type = 'webhook'");
  http(&r, "PATCH", loc, ROLE_ADMIN, "{}", NULL);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"2\"");
  http(&r, "PATCH", loc, ROLE_ADMIN, "{\"enabled\": true}", NULL);
  assert_string_equal(r.etag, "\"2\"");
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE resource_type = 'webhook'"), events);

  /* Disabled by hand, enabled again. */
  http(&r, "PATCH", loc, ROLE_INTEGRATION, "{\"enabled\": false}", NULL);
  assert_status(&r, 200);
  assert_true(json_is_false(json_object_get(r.json, "enabled")));
  assert_string_equal(jstr(r.json, "disabled_reason"), "disabled by integration:crm");
  assert_non_null(jstr(r.json, "disabled_at"));
  http(&r, "GET", "/v1/webhooks?enabled=false", ROLE_ADMIN, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  assert_string_equal(data_id(&r, 0), id);
  char new_url[300];
  snprintf(new_url, sizeof new_url, "%s?tenant=7", url);
  snprintf(body, sizeof body, "{\"enabled\": true, \"url\": \"%s\"}", new_url);
  http(&r, "PATCH", loc, ROLE_ADMIN, body, NULL);
  assert_status(&r, 200);
  assert_true(json_is_true(json_object_get(r.json, "enabled")));
  assert_true(is_null(r.json, "disabled_reason"));
  assert_true(is_null(r.json, "disabled_at"));
  assert_string_equal(jstr(r.json, "url"), new_url);
  assert_string_equal(r.etag, "\"4\"");

  /* Every change is an event; none carries the URL or the secret (the
   * feed is for every role). */
  feed_wait(&r, "/v1/events?resource_type=webhook&limit=200", id, 4);
  const char *want[] = {"webhook.created", "webhook.updated", "webhook.disabled", "webhook.enabled"};
  size_t k = 0;
  json_t *ev;
  size_t i;
  json_array_foreach(json_object_get(r.json, "data"), i, ev) {
    if (strcmp(jstr(ev, "resource_id"), id) != 0)
      continue;
    assert_true(k < 4);
    assert_string_equal(jstr(ev, "type"), want[k++]);
    assert_true(is_null(ev, "customer_id"));
    assert_null(json_object_get(json_object_get(ev, "data"), "url"));
    assert_null(json_object_get(json_object_get(ev, "data"), "secret"));
  }
  assert_int_equal(k, 4);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE data::text LIKE '%%%s%%' "
                                   "OR data::text LIKE '%%/crud%%'",
                                   secret + 6),
                   0);

  /* DELETE: a stale If-Match is refused; then 204, and it is gone. */
  http(&r, "DELETE", loc, ROLE_ADMIN, NULL, if1);
  assert_problem(&r, 412, "precondition-failed", NULL);
  http(&r, "DELETE", loc, ROLE_INTEGRATION, NULL, NULL);
  assert_status(&r, 204);
  assert_int_equal(r.body_len, 0);
  http(&r, "GET", loc, ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 404, "not-found", NULL);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "%s/deliveries", loc);
  assert_problem(&r, 404, "not-found", NULL);
  http(&r, "DELETE", loc, ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 404, "not-found", NULL);
  http(&r, "PATCH", loc, ROLE_ADMIN, "{\"enabled\": false}", NULL);
  assert_problem(&r, 404, "not-found", NULL);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE type = 'webhook.deleted' AND resource_id = '%s'",
                                   id),
                   1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM webhook_progress WHERE webhook_id = %s", id), 0);
  http_resp_clear(&r);
}

/* Bad input of every kind is refused, naming the field, and changes nothing. */
static void refused_input(void **state)
{
  (void)state;
  struct sub s;
  subscribe(&s, &rx_main, "/refused", NULL);
  char path[64], deliveries[96];
  snprintf(path, sizeof path, "/v1/webhooks/%s", s.id);
  snprintf(deliveries, sizeof deliveries, "/v1/webhooks/%s/deliveries", s.id);
  long long before = counts_snapshot();
  char long_url[2100], too_long_url[2200], body_long[2300], body_too_long[2300];
  memset(long_url, 'a', sizeof long_url);
  memcpy(long_url, "https://h.example/", 18);
  long_url[2000] = '\0';
  snprintf(too_long_url, sizeof too_long_url, "%sa", long_url);
  snprintf(body_long, sizeof body_long, "{\"url\": \"%s\", \"description\": 7}", long_url);
  snprintf(body_too_long, sizeof body_too_long, "{\"url\": \"%s\"}", too_long_url);
  char many_types[4096] = "{\"url\": \"https://h.example/\", \"event_types\": [";
  for (int i = 0; i < 101; i++)
    snprintf(many_types + strlen(many_types), sizeof many_types - strlen(many_types), "%s\"t%d.created\"",
             i ? ", " : "", i);
  strcat(many_types, "]}");
  char long_desc[1200] = "{\"url\": \"https://h.example/\", \"description\": \"";
  size_t prefix = strlen(long_desc);
  memset(long_desc + prefix, 'd', 1001);
  long_desc[prefix + 1001] = '\0';
  strcat(long_desc, "\"}");
  const struct step steps[] = {
      {"url missing", "POST", "/v1/webhooks", ROLE_ADMIN, "{}", 422, "validation", "url"},
      {"url null", "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": null}", 422, "validation", "url"},
      {"url empty", "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": \"\"}", 422, "validation", "url"},
      {"url a number", "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": 42}", 422, "validation", "url"},
      {"url ftp", "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": \"ftp://h.example/x\"}", 422, "validation", "url"},
      {"url file", "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": \"file:///etc/passwd\"}", 422, "validation", "url"},
      {"url relative", "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": \"/hooks\"}", 422, "validation", "url"},
      {"url no scheme", "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": \"h.example/x\"}", 422, "validation", "url"},
      {"url no host", "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": \"https:///x\"}", 422, "validation", "url"},
      {"url one slash", "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": \"http:/h.example/x\"}", 422, "validation",
       "url"},
      {"url with a space", "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": \"https://h.example/a b\"}", 422,
       "validation", "url"},
      {"url non-ASCII", "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": \"https://h.example/caf\u00e9\"}", 422,
       "validation", "url"},
      {"url over 2000", "POST", "/v1/webhooks", ROLE_ADMIN, body_too_long, 422, "validation", "url"},
      {"url 2000 but description a number", "POST", "/v1/webhooks", ROLE_ADMIN, body_long, 422, "validation",
       "description"},
      {"event_types a string", "POST", "/v1/webhooks", ROLE_ADMIN,
       "{\"url\": \"https://h.example/\", \"event_types\": \"invoice.created\"}", 422, "validation", "event_types"},
      {"event_types null", "POST", "/v1/webhooks", ROLE_ADMIN,
       "{\"url\": \"https://h.example/\", \"event_types\": null}", 422, "validation", "event_types"},
      {"event type without a dot", "POST", "/v1/webhooks", ROLE_ADMIN,
       "{\"url\": \"https://h.example/\", \"event_types\": [\"invoice\"]}", 422, "validation", "event_types[0]"},
      {"event type upper case", "POST", "/v1/webhooks", ROLE_ADMIN,
       "{\"url\": \"https://h.example/\", \"event_types\": [\"invoice.created\", \"Invoice.Created\"]}", 422,
       "validation", "event_types[1]"},
      {"event type star in the middle", "POST", "/v1/webhooks", ROLE_ADMIN,
       "{\"url\": \"https://h.example/\", \"event_types\": [\"*.created\"]}", 422, "validation", "event_types[0]"},
      {"event type SQL pattern", "POST", "/v1/webhooks", ROLE_ADMIN,
       "{\"url\": \"https://h.example/\", \"event_types\": [\"invoice.%\"]}", 422, "validation", "event_types[0]"},
      {"event type a number", "POST", "/v1/webhooks", ROLE_ADMIN,
       "{\"url\": \"https://h.example/\", \"event_types\": [7]}", 422, "validation", "event_types[0]"},
      {"event type twice", "POST", "/v1/webhooks", ROLE_ADMIN,
       "{\"url\": \"https://h.example/\", \"event_types\": [\"a.b\", \"a.b\"]}", 422, "validation", "event_types[1]"},
      {"101 event types", "POST", "/v1/webhooks", ROLE_ADMIN, many_types, 422, "validation", "event_types"},
      {"description too long", "POST", "/v1/webhooks", ROLE_ADMIN, long_desc, 422, "validation", "description"},
      {"description over 2^53", "POST", "/v1/webhooks", ROLE_ADMIN,
       "{\"url\": \"https://h.example/\", \"description\": 9007199254740993}", 422, "validation", "description"},
      {"description over 2^63", "POST", "/v1/webhooks", ROLE_ADMIN,
       "{\"url\": \"https://h.example/\", \"description\": 99999999999999999999}", 400, "malformed-json", NULL},
      {"secret given", "POST", "/v1/webhooks", ROLE_ADMIN,
       "{\"url\": \"https://h.example/\", \"secret\": \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}", 422,
       "validation", "secret"},
      {"enabled on create", "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": \"https://h.example/\", \"enabled\": false}",
       422, "validation", "enabled"},
      {"not an object", "POST", "/v1/webhooks", ROLE_ADMIN, "[\"https://h.example/\"]", 422, "validation", NULL},
      {"malformed JSON", "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": ", 400, "malformed-json", NULL},
      {"duplicate key", "POST", "/v1/webhooks", ROLE_ADMIN,
       "{\"url\": \"https://h.example/\", \"url\": \"https://other.example/\"}", 400, "malformed-json", NULL},
      {"PATCH enabled a string", "PATCH", path, ROLE_ADMIN, "{\"enabled\": \"no\"}", 422, "validation", "enabled"},
      {"PATCH enabled a float", "PATCH", path, ROLE_ADMIN, "{\"enabled\": 0.0}", 422, "validation", "enabled"},
      {"PATCH enabled null", "PATCH", path, ROLE_ADMIN, "{\"enabled\": null}", 422, "validation", "enabled"},
      {"PATCH url null", "PATCH", path, ROLE_ADMIN, "{\"url\": null}", 422, "validation", "url"},
      {"PATCH url gopher", "PATCH", path, ROLE_ADMIN, "{\"url\": \"gopher://h.example/\"}", 422, "validation", "url"},
      {"PATCH secret", "PATCH", path, ROLE_ADMIN, "{\"secret\": \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}", 422,
       "validation", "secret"},
      {"PATCH every field bad", "PATCH", path, ROLE_ADMIN,
       "{\"url\": 1, \"event_types\": {}, \"description\": [], \"enabled\": 1}", 422, "validation", "event_types"},
      {"PATCH unknown id", "PATCH", "/v1/webhooks/987654321", ROLE_ADMIN, "{\"enabled\": false}", 404, "not-found",
       NULL},
      {"PATCH not an id", "PATCH", "/v1/webhooks/abc", ROLE_ADMIN, "{}", 404, "not-found", NULL},
      {"GET id too large", "GET", "/v1/webhooks/99999999999999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"DELETE not an id", "DELETE", "/v1/webhooks/-1", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"list bad enabled", "GET", "/v1/webhooks?enabled=yes", ROLE_ADMIN, NULL, 422, "validation", "enabled"},
      {"list bad limit", "GET", "/v1/webhooks?limit=0", ROLE_ADMIN, NULL, 422, "validation", "limit"},
      {"list bad cursor", "GET", "/v1/webhooks?cursor=x", ROLE_ADMIN, NULL, 422, "validation", "cursor"},
      {"list unknown query", "GET", "/v1/webhooks?url=x", ROLE_ADMIN, NULL, 422, "validation", "url"},
      {"deliveries of a subscription", "GET", deliveries, ROLE_ADMIN, NULL, 200, NULL, NULL},
      {"no PUT", "PUT", path, ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
  };
  run_steps(steps, sizeof steps / sizeof steps[0]);
  static const struct step more[] = {
      {"deliveries unknown status", "GET", "/v1/webhooks/1/deliveries?status=lost", ROLE_ADMIN, NULL, 422,
       "validation", "status"},
      {"deliveries bad event_id", "GET", "/v1/webhooks/1/deliveries?event_id=x", ROLE_ADMIN, NULL, 422, "validation",
       "event_id"},
      {"deliveries unknown webhook", "GET", "/v1/webhooks/987654321/deliveries", ROLE_ADMIN, NULL, 404, "not-found",
       NULL},
  };
  run_steps(more, sizeof more / sizeof more[0]);
  /* Every field of a bad PATCH is named. */
  struct http_resp r = {0};
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"url\": 1, \"event_types\": {}, \"description\": [], \"enabled\": 1}", NULL);
  assert_problem(&r, 422, "validation", "url");
  assert_problem(&r, 422, "validation", "description");
  assert_problem(&r, 422, "validation", "enabled");
  /* Invalid UTF-8 and a body that is not JSON. */
  const char bad_utf8[] = "{\"url\": \"https://h.example/\xff\"}";
  http_raw(&r, "POST", "/v1/webhooks", ROLE_ADMIN, bad_utf8, sizeof bad_utf8 - 1, "application/json", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http_raw(&r, "POST", "/v1/webhooks", ROLE_ADMIN, "url=https://h.example/", 22, "application/x-www-form-urlencoded",
           NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  /* None of it changed anything: no subscription, no event. */
  assert_int_equal(counts_snapshot(), before);
  assert_int_equal(harness_sql_int("SELECT version FROM webhooks WHERE id = %s", s.id), 1);

  /* SQL metacharacters are data. */
  const char *meta = "{\"url\": \"https://h.example/hook?q=1'%3B--&x=%22\", "
                     "\"description\": \"Robert'); DROP TABLE webhooks; -- \\\\ $1 %s\"}";
  http(&r, "POST", "/v1/webhooks", ROLE_ADMIN, meta, NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "url"), "https://h.example/hook?q=1'%3B--&x=%22");
  assert_string_equal(jstr(r.json, "description"), "Robert'); DROP TABLE webhooks; -- \\ $1 %s");
  char *stored = harness_sql("SELECT description FROM webhooks WHERE id = %s", jstr(r.json, "id"));
  assert_string_equal(stored, "Robert'); DROP TABLE webhooks; -- \\ $1 %s");
  free(stored);
  /* An URL of exactly 2000 characters is fine. */
  snprintf(body_long, sizeof body_long, "{\"url\": \"%s\", \"event_types\": [\"*\", \"a.b.*\", \"call_log.created\"]}",
           long_url);
  http(&r, "POST", "/v1/webhooks", ROLE_ADMIN, body_long, NULL);
  assert_status(&r, 201);
  /* Out of the way of the delivery tests. */
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", jstr(r.json, "id"));
  assert_status(&r, 204);
  http(&r, "GET", "/v1/webhooks?limit=200", ROLE_ADMIN, NULL, NULL);
  for (size_t i = 0; i < data_size(&r); i++)
    if (strstr(jstr(json_array_get(json_object_get(r.json, "data"), i), "url"), "h.example")) {
      struct http_resp d = {0};
      httpf(&d, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", data_id(&r, i));
      assert_status(&d, 204);
      http_resp_clear(&d);
    }
  http(&r, "DELETE", path, ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 204);
  http_resp_clear(&r);
}

/* Admins and integrations only. */
static void roles(void **state)
{
  (void)state;
  struct sub s;
  subscribe(&s, &rx_main, "/roles", NULL);
  char one[64], dl[96];
  snprintf(one, sizeof one, "/v1/webhooks/%s", s.id);
  snprintf(dl, sizeof dl, "/v1/webhooks/%s/deliveries", s.id);
  long long before = counts_snapshot();
  const enum role refused[] = {ROLE_MANAGER, ROLE_COLLECTOR, ROLE_VIEWER};
  struct http_resp r = {0};
  for (size_t i = 0; i < 3; i++) {
    http(&r, "GET", "/v1/webhooks", refused[i], NULL, NULL);
    assert_problem(&r, 403, "forbidden", NULL);
    http(&r, "POST", "/v1/webhooks", refused[i], "{\"url\": \"https://h.example/\"}", NULL);
    assert_problem(&r, 403, "forbidden", NULL);
    http(&r, "GET", one, refused[i], NULL, NULL);
    assert_problem(&r, 403, "forbidden", NULL);
    http(&r, "PATCH", one, refused[i], "{\"enabled\": false}", NULL);
    assert_problem(&r, 403, "forbidden", NULL);
    http(&r, "DELETE", one, refused[i], NULL, NULL);
    assert_problem(&r, 403, "forbidden", NULL);
    http(&r, "GET", dl, refused[i], NULL, NULL);
    assert_problem(&r, 403, "forbidden", NULL);
  }
  http(&r, "GET", one, NO_KEY, NULL, NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  http(&r, "POST", "/v1/webhooks", NO_KEY, "{\"url\": \"https://h.example/\"}", NULL);
  assert_problem(&r, 401, "unauthorized", NULL);
  assert_int_equal(counts_snapshot(), before);
  /* An integration manages its own subscriptions. */
  http(&r, "POST", "/v1/webhooks", ROLE_INTEGRATION, "{\"url\": \"https://crm.example/hooks\"}", NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "created_by"), "integration:crm");
  char id[32];
  snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
  httpf(&r, "GET", ROLE_INTEGRATION, NULL, "/v1/webhooks/%s/deliveries", id);
  assert_status(&r, 200);
  httpf(&r, "DELETE", ROLE_INTEGRATION, NULL, "/v1/webhooks/%s", id);
  assert_status(&r, 204);
  http(&r, "DELETE", one, ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 204);
  http_resp_clear(&r);
}

/* ================================================= the tests: delivery */

/* A new customer reaches the receiver as customer.created: the event as the
 * feed shows it plus its timestamp, with the three Standard Webhooks
 * headers, signed with the secret shown at creation. */
static void delivers_signed_events(void **state)
{
  (void)state;
  struct sub s;
  subscribe(&s, &rx_main, "/signed", NULL);
  hooks_start(1);
  char cust[32];
  snprintf(cust, sizeof cust, "%s", make_customer("Signed Delivery GmbH"));
  rx_wait(&rx_main, "/signed", "customer.created", cust, 1);
  long long sent_after = (long long)time(NULL);

  struct hit *hs;
  size_t n = rx_hits(&rx_main, "/signed", &hs);
  const struct hit *h = NULL;
  for (size_t i = 0; i < n; i++) {
    json_t *b = json_loadb(hs[i].body, hs[i].len, 0, NULL);
    if (strcmp(jstr(b, "type"), "customer.created") == 0 && strcmp(jstr(b, "resource_id"), cust) == 0)
      h = &hs[i];
    json_decref(b);
  }
  assert_non_null(h);
  assert_true(signature_valid(s.secret, h));
  assert_string_equal(h->ctype, "application/json");
  assert_int_equal(strncmp(h->sig, "v1,", 3), 0);
  assert_int_equal(strncmp(h->agent, "arcollect-webhooks/", 19), 0);
  long long ts = atoll(h->ts);
  assert_true(ts > sent_after - 120 && ts <= sent_after + 1);
  /* A tampered body, id or timestamp fails the check. */
  struct hit bad = *h;
  bad.body = strdup(h->body);
  bad.body[bad.len - 2] ^= 1;
  assert_false(signature_valid(s.secret, &bad));
  free(bad.body);
  bad = *h;
  snprintf(bad.ts, sizeof bad.ts, "%lld", ts + 1);
  assert_false(signature_valid(s.secret, &bad));
  bad = *h;
  bad.id[strlen(bad.id) - 1] ^= 1;
  assert_false(signature_valid(s.secret, &bad));

  /* The body: the feed's document of that event, and its timestamp. */
  json_t *body = json_loadb(h->body, h->len, JSON_REJECT_DUPLICATES, NULL);
  assert_non_null(body);
  char want_id[64];
  snprintf(want_id, sizeof want_id, "evt_%s", jstr(body, "id"));
  assert_string_equal(h->id, want_id);
  assert_string_equal(jstr(body, "timestamp"), jstr(body, "occurred_at"));
  assert_string_equal(jstr(json_object_get(body, "data"), "name"), "Signed Delivery GmbH");
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/events?type=customer.created&customer_id=%s", cust);
  assert_int_equal(data_size(&r), 1);
  json_object_del(body, "timestamp");
  assert_true(json_equal(body, json_array_get(json_object_get(r.json, "data"), 0)));
  json_decref(body);
  free(hs);
  assert_all_signed(&rx_main, "/signed", s.secret);

  /* The delivery and its one attempt are on record. */
  sql_wait(1, "delivered customer.created",
           "SELECT count(*) FROM webhook_deliveries d JOIN events e ON e.id = d.event_id "
           "WHERE d.webhook_id = %s AND e.type = 'customer.created' AND e.customer_id = %s AND d.status = 'delivered'",
           s.id, cust);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/webhooks/%s/deliveries?status=delivered", s.id);
  assert_status(&r, 200);
  json_t *found = NULL, *d;
  size_t i;
  json_array_foreach(json_object_get(r.json, "data"), i, d) {
    if (strcmp(jstr(d, "message_id"), want_id) == 0)
      found = d;
  }
  assert_non_null(found);
  assert_string_equal(jstr(found, "event_type"), "customer.created");
  assert_string_equal(jstr(found, "webhook_id"), s.id);
  assert_non_null(jstr(found, "delivered_at"));
  assert_true(is_null(found, "next_attempt_at"));
  assert_int_equal(jint(found, "attempt_count"), 1);
  json_t *a = json_array_get(json_object_get(found, "attempts"), 0);
  assert_int_equal(jint(a, "status_code"), 200);
  assert_true(json_is_true(json_object_get(a, "succeeded")));
  assert_true(is_null(a, "error"));
  assert_string_equal(jstr(a, "response_body"), "answered 200\n");
  assert_true(jint(a, "duration_ms") >= 0);
  /* By event id. */
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/webhooks/%s/deliveries?event_id=%s", s.id, want_id + 4);
  assert_int_equal(data_size(&r), 1);
  /* The subscription shows it. */
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/webhooks/%s", s.id);
  assert_non_null(jstr(r.json, "last_success_at"));
  assert_true(is_null(r.json, "failing_since"));
  hooks_stop();
  http_resp_clear(&r);
}

/* Only the types asked for, exact or by prefix; the rest is read past. */
static void event_type_filter(void **state)
{
  (void)state;
  struct sub f, all;
  subscribe(&f, &rx_main, "/filter", "[\"invoice.created\", \"payment.*\"]");
  subscribe(&all, &rx_main, "/witness", "[]");
  hooks_start(1);
  char cust[32], inv[32], body[512];
  snprintf(cust, sizeof cust, "%s", make_customer("Filter Inc"));
  snprintf(inv, sizeof inv, "%s", make_invoice(cust, "WH-FILTER-1", 50000, "2026-01-02", "2026-02-01"));
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 20000, \"currency\": \"USD\", \"received_on\": \"2026-02-03\", "
           "\"method\": \"wire\"}",
           cust);
  json_t *pay = create_ok("/v1/payments", body);
  char pay_id[32];
  snprintf(pay_id, sizeof pay_id, "%s", jstr(pay, "id"));
  json_decref(pay);
  rx_wait(&rx_main, "/filter", "invoice.created", inv, 1);
  rx_wait(&rx_main, "/filter", "payment.received", pay_id, 1);
  /* The witness (no filter) got everything, the invoice's update included:
   * the filtered subscription's feed position is past those events too. */
  rx_wait(&rx_main, "/witness", "customer.created", cust, 1);
  rx_wait(&rx_main, "/witness", "invoice.updated", inv, 1);
  rx_wait(&rx_main, "/witness", "payment.received", pay_id, 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM webhook_progress p, events e "
                                   "WHERE p.webhook_id = %s AND e.type = 'invoice.updated' AND e.resource_id = '%s' "
                                   "AND (p.cursor_txid, p.cursor_id) >= (e.txid, e.id)",
                                   f.id, inv),
                   1);
  assert_int_equal(rx_count(&rx_main, "/filter", "customer.created", NULL), 0);
  assert_int_equal(rx_count(&rx_main, "/filter", "invoice.updated", NULL), 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %s "
                                   "AND event_type NOT IN ('invoice.created', 'payment.received')",
                                   f.id),
                   0);
  assert_all_signed(&rx_main, "/filter", f.secret);
  assert_all_signed(&rx_main, "/witness", all.secret);
  hooks_stop();
  struct http_resp r = {0};
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", all.id);
  assert_status(&r, 204);
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", f.id);
  assert_status(&r, 204);
  http_resp_clear(&r);
}

/* 500, 500, then 200: three attempts, each after a longer wait, every one
 * on record; delivered once. */
static void retries_with_backoff(void **state)
{
  (void)state;
  static const int plan[] = {500, 500, -1};
  rx_route(&rx_main, "/flaky", plan, 200);
  struct sub s;
  subscribe(&s, &rx_main, "/flaky", "[\"customer.created\"]");
  hooks_start(1);
  char cust[32];
  snprintf(cust, sizeof cust, "%s", make_customer("Flaky Receiver LLC"));
  sql_wait(1, "a delivered retry",
           "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %s AND status = 'delivered'", s.id);
  sleep_ms(300); /* nothing more should come */
  hooks_stop();

  struct hit *hs;
  size_t n = rx_hits(&rx_main, "/flaky", &hs);
  assert_int_equal(n, 3);
  assert_int_equal(hs[0].status, 500);
  assert_int_equal(hs[1].status, 500);
  assert_int_equal(hs[2].status, 200);
  /* The same message each time (same id, same body), signed anew. */
  for (size_t i = 1; i < 3; i++) {
    assert_string_equal(hs[i].id, hs[0].id);
    assert_string_equal(hs[i].body, hs[0].body);
  }
  assert_all_signed(&rx_main, "/flaky", s.secret);
  double gap1 = hs[1].at - hs[0].at, gap2 = hs[2].at - hs[1].at;
  free(hs);
  /* Retry 1 after 50 ms ± 20 %, retry 2 after 3 s ± 20 % (capped by the 3 s window). */
  if (!(gap1 >= 0.035 && gap1 < 1.5 && gap2 >= 2.0 && gap2 > 4 * gap1))
    fail_msg("retries came after %.3f s and %.3f s", gap1, gap2);

  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/webhooks/%s/deliveries", s.id);
  assert_int_equal(data_size(&r), 1);
  json_t *d = json_array_get(json_object_get(r.json, "data"), 0);
  assert_string_equal(jstr(d, "status"), "delivered");
  assert_int_equal(jint(d, "attempt_count"), 3);
  json_t *at = json_object_get(d, "attempts");
  static const int codes[] = {500, 500, 200};
  for (size_t i = 0; i < 3; i++) {
    json_t *a = json_array_get(at, i);
    assert_int_equal(jint(a, "status_code"), codes[i]);
    assert_int_equal(json_is_true(json_object_get(a, "succeeded")), i == 2);
    assert_non_null(jstr(a, "attempted_at"));
  }
  assert_string_equal(jstr(json_array_get(at, 0), "response_body"), "answered 500\n");
  /* The recorded starts grow apart like the arrivals. */
  assert_int_equal(harness_sql_int("WITH a AS (SELECT attempted_at - lag(attempted_at) OVER (ORDER BY id) AS gap "
                                   "FROM webhook_attempts WHERE delivery_id = %s) "
                                   "SELECT count(*) FROM (SELECT gap, lag(gap) OVER () AS prev FROM a) g "
                                   "WHERE gap > prev * 4",
                                   jstr(d, "id")),
                   1);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/webhooks/%s", s.id);
  assert_true(is_null(r.json, "failing_since"));
  assert_non_null(jstr(r.json, "last_failure_at"));
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", s.id);
  http_resp_clear(&r);
}

/* A receiver that keeps failing (503; a closed port) for the whole retry
 * window is disabled, with a reason and the event webhook.disabled; so is
 * one that answers 410 Gone, at once.  Disabled, it gets nothing; enabled
 * again, it gets what happened meanwhile. */
static void keeps_failing_disabled(void **state)
{
  (void)state;
  rx_route(&rx_main, "/down", NULL, 503);
  rx_route(&rx_main, "/gone", NULL, 410);
  struct sub down, closed, gone, witness;
  subscribe(&down, &rx_main, "/down", "[\"customer.*\"]");
  subscribe(&gone, &rx_main, "/gone", "[\"customer.*\"]");
  subscribe(&witness, &rx_main, "/witness2", "[\"customer.created\"]");
  /* A port nothing listens on. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
  close(fd);
  char body[256];
  snprintf(body, sizeof body, "{\"url\": \"http://127.0.0.1:%u/closed\", \"event_types\": [\"customer.*\"]}",
           (unsigned)ntohs(a.sin_port));
  json_t *w = create_ok("/v1/webhooks", body);
  snprintf(closed.id, sizeof closed.id, "%s", jstr(w, "id"));
  json_decref(w);

  hooks_start(1);
  char c1[32];
  snprintf(c1, sizeof c1, "%s", make_customer("Never Delivered Ltd"));
  sql_wait(3, "three subscriptions disabled",
           "SELECT count(*) FROM webhooks WHERE id IN (%s, %s, %s) AND NOT enabled", down.id, closed.id, gone.id);

  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/webhooks/%s", gone.id);
  assert_string_equal(jstr(r.json, "disabled_reason"), "the endpoint answered 410 Gone");
  assert_int_equal(rx_count(&rx_main, "/gone", NULL, NULL), 1);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/webhooks/%s", down.id);
  assert_true(json_is_false(json_object_get(r.json, "enabled")));
  const char *why = jstr(r.json, "disabled_reason");
  if (!why || !strstr(why, "every delivery attempt failed for 3.0 s") || !strstr(why, "HTTP 503"))
    fail_msg("disabled_reason: %s", why ? why : "null");
  assert_non_null(jstr(r.json, "failing_since"));
  char etag[96];
  snprintf(etag, sizeof etag, "If-Match: %s", r.etag);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/webhooks/%s", closed.id);
  why = jstr(r.json, "disabled_reason");
  if (!why || !strstr(why, "Couldn't connect"))
    fail_msg("disabled_reason: %s", why ? why : "null");

  /* The deliveries: given up after every attempt of the window failed. */
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/webhooks/%s/deliveries?status=failed", down.id);
  assert_int_equal(data_size(&r), 1);
  json_t *d = json_array_get(json_object_get(r.json, "data"), 0);
  assert_non_null(jstr(d, "gave_up_at"));
  assert_true(jint(d, "attempt_count") >= 3);
  json_t *att;
  size_t i;
  json_array_foreach(json_object_get(d, "attempts"), i, att) {
    assert_int_equal(jint(att, "status_code"), 503);
    assert_false(json_is_true(json_object_get(att, "succeeded")));
  }
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/webhooks/%s/deliveries", closed.id);
  d = json_array_get(json_object_get(r.json, "data"), 0);
  assert_string_equal(jstr(d, "status"), "failed");
  att = json_array_get(json_object_get(d, "attempts"), 0);
  assert_true(is_null(att, "status_code"));
  assert_non_null(strstr(jstr(att, "error"), "Couldn't connect"));

  /* One webhook.disabled event each, saying why. */
  feed_wait(&r, "/v1/events?type=webhook.disabled&limit=200", down.id, 1);
  feed_wait(&r, "/v1/events?type=webhook.disabled&limit=200", closed.id, 1);
  feed_wait(&r, "/v1/events?type=webhook.disabled&limit=200", gone.id, 1);
  int events = 0;
  json_t *ev;
  json_array_foreach(json_object_get(r.json, "data"), i, ev) {
    const char *rid = jstr(ev, "resource_id");
    if (strcmp(rid, down.id) == 0 || strcmp(rid, closed.id) == 0 || strcmp(rid, gone.id) == 0) {
      events++;
      assert_string_equal(jstr(ev, "actor"), "webhooks");
      assert_non_null(jstr(json_object_get(ev, "data"), "disabled_reason"));
      assert_true(json_is_false(json_object_get(json_object_get(ev, "data"), "enabled")));
    }
  }
  assert_int_equal(events, 3);

  /* Disabled: a new customer reaches the witness, not them. */
  size_t down_hits = rx_count(&rx_main, "/down", NULL, NULL);
  char c2[32];
  snprintf(c2, sizeof c2, "%s", make_customer("While Disabled Co"));
  rx_wait(&rx_main, "/witness2", "customer.created", c2, 1);
  sleep_ms(200);
  assert_int_equal(rx_count(&rx_main, "/down", NULL, NULL), down_hits);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM webhook_deliveries d JOIN events e ON e.id = d.event_id "
                                   "WHERE d.webhook_id IN (%s, %s, %s) AND e.customer_id = %s",
                                   down.id, closed.id, gone.id, c2),
                   0);

  /* Fixed and enabled again: what happened meanwhile follows. */
  rx_set(&rx_main, "/down", 200, 0);
  const char *hdr[] = {etag, NULL};
  char down_path[64];
  snprintf(down_path, sizeof down_path, "/v1/webhooks/%s", down.id);
  http(&r, "PATCH", down_path, ROLE_ADMIN, "{\"enabled\": true}", hdr);
  assert_status(&r, 200);
  assert_true(json_is_true(json_object_get(r.json, "enabled")));
  assert_true(is_null(r.json, "failing_since"));
  rx_wait(&rx_main, "/down", "customer.created", c2, 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE type = 'webhook.enabled' AND resource_id = '%s'",
                                   down.id),
                   1);
  /* The one given up stays given up. */
  assert_int_equal(rx_count(&rx_main, "/down", "customer.created", c1), (size_t)harness_sql_int(
                       "SELECT count(*) FROM webhook_attempts x JOIN webhook_deliveries d ON d.id = x.delivery_id "
                       "JOIN events e ON e.id = d.event_id WHERE d.webhook_id = %s AND e.customer_id = %s",
                       down.id, c1));
  hooks_stop();
  const char *ids[] = {down.id, closed.id, gone.id, witness.id};
  for (size_t k = 0; k < 4; k++) {
    httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", ids[k]);
    assert_status(&r, 204);
  }
  http_resp_clear(&r);
}

/* Transactions that commit out of order: an event of an older transaction
 * still running holds the newer ones back, so it is not skipped when it
 * commits (the feed's rule, migrations/0006_events.sql). */
static void out_of_order_commits_not_skipped(void **state)
{
  (void)state;
  struct sub s;
  subscribe(&s, &rx_main, "/order", "[\"customer.created\"]");
  hooks_start(1);
  PGconn *early = PQconnectdb(getenv("DATABASE_URL"));
  assert_int_equal(PQstatus(early), CONNECTION_OK);
  PGresult *res = PQexec(early, "BEGIN; INSERT INTO customers (name) VALUES ('Early Bird') RETURNING id");
  assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
  char early_id[32];
  snprintf(early_id, sizeof early_id, "%s", PQgetvalue(res, 0, 0));
  PQclear(res);
  char late[32];
  snprintf(late, sizeof late, "%s", make_customer("Late Bird"));
  sleep_ms(800); /* many rounds: the later one waits for the earlier transaction */
  size_t held = rx_count(&rx_main, "/order", "customer.created", late);
  res = PQexec(early, "COMMIT");
  int committed = PQresultStatus(res) == PGRES_COMMAND_OK;
  PQclear(res);
  PQfinish(early);
  assert_true(committed);
  assert_int_equal(held, 0);
  rx_wait(&rx_main, "/order", "customer.created", early_id, 1);
  rx_wait(&rx_main, "/order", "customer.created", late, 1);
  hooks_stop();
  struct http_resp r = {0};
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", s.id);
  http_resp_clear(&r);
}

/* A wrong URL corrected: what waits is sent at once, not after the backoff. */
static void new_url_retries_at_once(void **state)
{
  (void)state;
  rx_route(&rx_main, "/wrong", NULL, 404);
  struct sub s;
  subscribe(&s, &rx_main, "/wrong", "[\"customer.created\"]");
  hooks_start(1);
  char cust[32];
  snprintf(cust, sizeof cust, "%s", make_customer("Moved Endpoint AG"));
  rx_wait(&rx_main, "/wrong", "customer.created", cust, 2); /* the next try is ~3 s away */
  char url[256], body[512];
  rx_url(&rx_main, "/right", url, sizeof url);
  snprintf(body, sizeof body, "{\"url\": \"%s\"}", url);
  struct http_resp r = {0};
  double t0 = now_s();
  httpf(&r, "PATCH", ROLE_ADMIN, body, "/v1/webhooks/%s", s.id);
  assert_status(&r, 200);
  assert_true(is_null(r.json, "failing_since"));
  rx_wait(&rx_main, "/right", "customer.created", cust, 1);
  double took = now_s() - t0;
  if (took > 1.5)
    fail_msg("the corrected URL got the delivery after %.2f s", took);
  sql_wait(1, "delivered after the move",
           "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %s AND status = 'delivered'", s.id);
  hooks_stop();
  assert_all_signed(&rx_main, "/right", s.secret);
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", s.id);
  http_resp_clear(&r);
}

/* DELETE: its deliveries and attempts go, nothing more is sent to it. */
static void delete_stops_deliveries(void **state)
{
  (void)state;
  rx_route(&rx_main, "/deleted", NULL, 500);
  struct sub s, witness;
  subscribe(&s, &rx_main, "/deleted", "[\"customer.created\"]");
  subscribe(&witness, &rx_main, "/witness3", "[\"customer.created\"]");
  hooks_start(1);
  char c1[32];
  snprintf(c1, sizeof c1, "%s", make_customer("Deleted Sub Ltd"));
  rx_wait(&rx_main, "/deleted", "customer.created", c1, 2); /* failing, retried */
  struct http_resp r = {0};
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", s.id);
  assert_status(&r, 204);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %s", s.id), 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM webhook_attempts x WHERE NOT EXISTS "
                                   "(SELECT 1 FROM webhook_deliveries d WHERE d.id = x.delivery_id)"),
                   0);
  sleep_ms(300); /* a POST in flight may still land */
  size_t hits = rx_count(&rx_main, "/deleted", NULL, NULL);
  char c2[32];
  snprintf(c2, sizeof c2, "%s", make_customer("After Delete Co"));
  rx_wait(&rx_main, "/witness3", "customer.created", c2, 1);
  sleep_ms(3500); /* past the next retry time of the deleted delivery */
  assert_int_equal(rx_count(&rx_main, "/deleted", NULL, NULL), hits);
  hooks_stop();
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", witness.id);
  http_resp_clear(&r);
}

/* Two delivery threads (as two instances would) share the work: every
 * event once, none twice. */
static void two_threads_share(void **state)
{
  (void)state;
  struct sub s;
  subscribe(&s, &rx_main, "/pair", "[\"customer.created\"]");
  hooks_start(2);
  char ids[20][32];
  for (int i = 0; i < 20; i++) {
    char name[64];
    snprintf(name, sizeof name, "Pair %d", i);
    snprintf(ids[i], sizeof ids[i], "%s", make_customer(name));
  }
  for (int i = 0; i < 20; i++)
    rx_wait(&rx_main, "/pair", "customer.created", ids[i], 1);
  sleep_ms(300);
  hooks_stop();
  assert_int_equal(rx_count(&rx_main, "/pair", NULL, NULL), 20);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM webhook_attempts x JOIN webhook_deliveries d "
                                   "ON d.id = x.delivery_id WHERE d.webhook_id = %s",
                                   s.id),
                   20);
  assert_all_signed(&rx_main, "/pair", s.secret);
  struct http_resp r = {0};
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", s.id);
  http_resp_clear(&r);
}

/* ================================== at-least-once across a restart */

static pid_t child = -1;
static char child_log[128];

/* arcollectd serve on the test database, delivering every 100 ms, first
 * retry after 20 ms, POSTs limited to 1 s (claims lapse after 3 s). */
static void spawn_child(void)
{
  const char *binary = getenv("ARC_TEST_BINARY");
  if (!binary || !*binary)
    fail_msg("ARC_TEST_BINARY is not set (tests/meson.build sets it to the arcollectd executable)");
  char port[32];
  snprintf(port, sizeof port, "ARC_PORT=%u", free_port());
  const char *const extra[] = {port, "ARC_BIND=127.0.0.1", "ARC_THREADS=1", "ARC_SCHEDULER_INTERVAL_S=0",
                               "ARC_WEBHOOK_INTERVAL_MS=100", "ARC_WEBHOOK_RETRY_BASE_MS=20",
                               "ARC_WEBHOOK_RETRY_WINDOW_S=600", "ARC_WEBHOOK_TIMEOUT_MS=1000", NULL};
  snprintf(child_log, sizeof child_log, "/tmp/arc_test_webhooks_%d.log", (int)getpid());
  pid_t pid = harness_spawn_server(binary, extra, child_log);
  assert_true(pid > 0);
  child = pid;
}

/* SIGTERM (or SIGKILL) to the child; a SIGTERM must end it, cleanly, soon. */
static double stop_child(int sig)
{
  double t0 = now_s();
  assert_int_equal(kill(child, sig), 0);
  int status = 0;
  pid_t r;
  while ((r = waitpid(child, &status, WNOHANG)) == 0 && now_s() - t0 < 20)
    sleep_ms(10);
  if (r != child)
    fail_msg("arcollectd did not stop within 20 s (log: %s)", child_log);
  child = -1;
  if (sig == SIGTERM && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
    fail_msg("arcollectd ended with %s %d (log: %s)", WIFEXITED(status) ? "status" : "signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), child_log);
  return now_s() - t0;
}

static void at_least_once_across_restarts(void **state)
{
  (void)state;
  assert_int_equal(rx_start(&rx_down, 0), 0);
  rx_route(&rx_down, "/restart", NULL, 200);
  struct sub s;
  subscribe(&s, &rx_down, "/restart", "[\"customer.created\"]");
  uint16_t port = rx_down.port;
  rx_stop(&rx_down); /* the receiver is down */

  spawn_child();
  char ids[6][32];
  for (int i = 0; i < 3; i++) {
    char name[64];
    snprintf(name, sizeof name, "Restart %d", i);
    snprintf(ids[i], sizeof ids[i], "%s", make_customer(name));
  }
  /* The first instance tries each and fails (connection refused). */
  sql_wait(3, "failed attempts of three deliveries",
           "SELECT count(DISTINCT d.id) FROM webhook_deliveries d JOIN webhook_attempts x ON x.delivery_id = d.id "
           "WHERE d.webhook_id = %s AND d.status = 'pending' AND x.error IS NOT NULL",
           s.id);
  double took = stop_child(SIGTERM);
  if (took > 5)
    fail_msg("SIGTERM took %.1f s", took);
  /* Two more while nothing delivers. */
  for (int i = 3; i < 5; i++) {
    char name[64];
    snprintf(name, sizeof name, "Restart %d", i);
    snprintf(ids[i], sizeof ids[i], "%s", make_customer(name));
  }
  assert_int_equal(rx_start(&rx_down, port), 0);
  spawn_child();
  for (int i = 0; i < 5; i++)
    rx_wait(&rx_down, "/restart", "customer.created", ids[i], 1);
  assert_all_signed(&rx_down, "/restart", s.secret);

  /* Killed while a POST is in flight: the receiver got it, the instance
   * never heard back.  The next instance sends it again once the claim
   * lapses: the same webhook-id twice. */
  rx_set(&rx_down, "/restart", 200, 1500);
  snprintf(ids[5], sizeof ids[5], "%s", make_customer("Restart killed"));
  rx_wait(&rx_down, "/restart", "customer.created", ids[5], 1);
  stop_child(SIGKILL);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM webhook_deliveries d JOIN events e ON e.id = d.event_id "
                                   "WHERE d.webhook_id = %s AND e.customer_id = %s AND d.status = 'pending'",
                                   s.id, ids[5]),
                   1);
  spawn_child();
  rx_wait(&rx_down, "/restart", "customer.created", ids[5], 2);
  sql_wait(6, "six delivered",
           "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = %s AND status = 'delivered'", s.id);
  struct hit *hs;
  size_t n = rx_hits(&rx_down, "/restart", &hs);
  const char *dup_id = NULL;
  int dups = 0;
  for (size_t i = 0; i < n; i++) {
    json_t *b = json_loadb(hs[i].body, hs[i].len, 0, NULL);
    if (strcmp(jstr(b, "resource_id"), ids[5]) == 0) {
      if (dup_id)
        assert_string_equal(hs[i].id, dup_id);
      dup_id = hs[i].id;
      dups++;
    }
    json_decref(b);
  }
  free(hs);
  assert_int_equal(dups, 2);
  assert_all_signed(&rx_down, "/restart", s.secret);
  stop_child(SIGTERM);
  struct http_resp r = {0};
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", s.id);
  http_resp_clear(&r);
}

/* Webhooks may not reach the server's own networks unless
 * ARC_WEBHOOK_ALLOW_PRIVATE=1 (which the harness sets: its receivers listen
 * on 127.0.0.1).  A URL whose host is or resolves to a loopback, private,
 * link-local (cloud metadata), unique-local or unspecified address is
 * refused with 422 naming url, and nothing is made; a subscription whose
 * host turns internal only later (DNS rebinding) is caught when the
 * delivery connects: nothing is sent, and the attempt says why (issue 15). */
static void internal_addresses_refused(void **state)
{
  (void)state;
  internal_addr_allow(0);
  static const char *const urls[] = {
      "http://127.0.0.1:9/hook",      "http://10.1.2.3/hook",         "http://172.16.0.1/hook",
      "http://192.168.1.1/hook",      "http://169.254.169.254/latest", "http://[::1]:8080/hook",
      "http://[::ffff:127.0.0.1]/hook", "http://[fd00:ec2::254]/",    "http://0.0.0.0:80/",
      "http://localhost:9/hook",      "http://100.64.0.1/hook",       "https://[fe80::1]/hook",
  };
  const char *const tables[] = {"webhooks", NULL};
  char body[512];
  for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
    snprintf(body, sizeof body, "{\"url\": \"%s\"}", urls[i]);
    assert_refused(tables, "POST", "/v1/webhooks", ROLE_ADMIN, body, NULL, 422, "validation", "url");
  }
  /* A public address is fine (a literal: no DNS here). */
  struct http_resp r = {0};
  http(&r, "POST", "/v1/webhooks", ROLE_ADMIN, "{\"url\": \"https://93.184.216.34/hook\"}", NULL);
  assert_status(&r, 201);
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", jstr(r.json, "id"));
  assert_status(&r, 204);

  /* Made while allowed, delivered while not: refused at connect time. */
  internal_addr_allow(1);
  struct sub sb;
  subscribe(&sb, &rx_main, "/internal", "[\"customer.created\"]");
  hooks_start(1);
  internal_addr_allow(0); /* delivery_start set it from the environment */
  make_customer("Rebound Name LLC");
  sql_wait(1, "a refused attempt",
           "SELECT count(*) FROM webhook_attempts x JOIN webhook_deliveries d ON d.id = x.delivery_id "
           "WHERE d.webhook_id = %s AND x.error LIKE '%%not sent: 127.0.0.1 is a loopback address%%' "
           "AND x.status_code IS NULL AND NOT x.succeeded",
           sb.id);
  hooks_stop();
  struct hit *hs;
  assert_int_equal(rx_hits(&rx_main, "/internal", &hs), 0);
  free(hs);
  internal_addr_allow(1);
  httpf(&r, "DELETE", ROLE_ADMIN, NULL, "/v1/webhooks/%s", sb.id);
  assert_status(&r, 204);
  http_resp_clear(&r);
}

static int cleanup(void **state)
{
  (void)state;
  hooks_stop();
  internal_addr_allow(1); /* the harness's setting, should a test have failed without it */
  if (child > 0) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    child = -1;
  }
  return 0;
}

static int group_setup(void **state)
{
  if (harness_setup(state) != 0)
    return -1;
  assert_int_equal(rx_start(&rx_main, 0), 0);
  return 0;
}

static int group_teardown(void **state)
{
  rx_stop(&rx_main);
  rx_stop(&rx_down);
  rx_free_hits(&rx_main);
  rx_free_hits(&rx_down);
  if (child_log[0] && !getenv("ARC_TEST_VERBOSE"))
    unlink(child_log);
  return harness_teardown(state);
}

int main(void)
{
  /* The in-process delivery thread: quick rounds, a short schedule. */
  setenv("ARC_WEBHOOK_INTERVAL_MS", "50", 1);
  setenv("ARC_WEBHOOK_RETRY_BASE_MS", "50", 1);
  setenv("ARC_WEBHOOK_RETRY_WINDOW_S", "3", 1);
  setenv("ARC_WEBHOOK_TIMEOUT_MS", "2000", 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sign_known_answer),
      cmocka_unit_test(create_read_update_delete),
      cmocka_unit_test(refused_input),
      cmocka_unit_test(roles),
      cmocka_unit_test_teardown(delivers_signed_events, cleanup),
      cmocka_unit_test_teardown(event_type_filter, cleanup),
      cmocka_unit_test_teardown(retries_with_backoff, cleanup),
      cmocka_unit_test_teardown(keeps_failing_disabled, cleanup),
      cmocka_unit_test_teardown(out_of_order_commits_not_skipped, cleanup),
      cmocka_unit_test_teardown(new_url_retries_at_once, cleanup),
      cmocka_unit_test_teardown(delete_stops_deliveries, cleanup),
      cmocka_unit_test_teardown(two_threads_share, cleanup),
      cmocka_unit_test_teardown(at_least_once_across_restarts, cleanup),
      cmocka_unit_test_teardown(internal_addresses_refused, cleanup),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
