/* The webhook delivery thread of arcollectd serve.  Each round:
 *
 *   1. enqueue: turn newly settled events into deliveries (one set-based
 *      statement, under an advisory lock: one instance at a time);
 *   2. claim a batch of due deliveries (SKIP LOCKED + a lease, committed);
 *   3. POST them at once with libcurl's multi interface, outside any
 *      transaction, signed the Standard Webhooks way;
 *   4. record every attempt and its consequences in one statement.
 *
 * Rounds follow each other at once while work is waiting, else every
 * ARC_WEBHOOK_INTERVAL_MS.  Stopping abandons the POSTs in flight within
 * ~100 ms and makes their deliveries due again (at-least-once: the next
 * start, or another instance, sends them). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "arc/config.h"
#include "arc/db.h"
#include "arc/internal_addr.h"
#include "arc/log.h"
#include "arc/webhooks.h"

#define BATCH 16             /* deliveries POSTed at once */
#define ENQUEUE_LIMIT 500    /* events read per subscription per round */
#define RESPONSE_KEEP 1000   /* bytes of an answer kept with the attempt */
#define POLL_MS 100          /* how often a running batch looks at the stop flag */
#define USER_AGENT "arcollect-webhooks/1"

/* ------------------------------------------------------------- signature */

/* Decodes the base64 after "whsec_" into KEY; its length, or -1. */
static int secret_key(const char *secret, unsigned char *key, size_t cap)
{
  size_t plen = strlen(WEBHOOK_SECRET_PREFIX);
  if (strncmp(secret, WEBHOOK_SECRET_PREFIX, plen) != 0)
    return -1;
  const char *b64 = secret + plen;
  size_t n = strlen(b64);
  if (n == 0 || n % 4 != 0 || (n / 4) * 3 > cap)
    return -1;
  size_t pad = 0;
  for (size_t i = 0; i < n; i++) {
    char c = b64[i];
    int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (c == '=' && i >= n - 2) {
      pad++;
      continue;
    }
    if (!ok || pad)
      return -1;
  }
  int len = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)n);
  return len < 0 ? -1 : len - (int)pad;
}

int webhook_sign(const char *secret, const char *msg_id, long long timestamp, const char *body, size_t body_len,
                 char out[WEBHOOK_SIGNATURE_SIZE])
{
  unsigned char key[128];
  int klen = secret_key(secret, key, sizeof key);
  if (klen <= 0)
    return -1;
  char head[160];
  int hlen = snprintf(head, sizeof head, "%s.%lld.", msg_id, timestamp);
  if (hlen < 0 || (size_t)hlen >= sizeof head) {
    OPENSSL_cleanse(key, sizeof key);
    return -1;
  }
  /* HMAC over "<id>.<timestamp>.<body>" without copying the body. */
  int rc = -1;
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t mac_len = 0;
  EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0), OSSL_PARAM_construct_end()};
  if (ctx && EVP_MAC_init(ctx, key, (size_t)klen, params) == 1 &&
      EVP_MAC_update(ctx, (const unsigned char *)head, (size_t)hlen) == 1 &&
      EVP_MAC_update(ctx, (const unsigned char *)body, body_len) == 1 &&
      EVP_MAC_final(ctx, mac, &mac_len, sizeof mac) == 1 && mac_len == 32) {
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)mac_len);
    rc = 0;
  }
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(hmac);
  OPENSSL_cleanse(key, sizeof key);
  return rc;
}

/* ------------------------------------------------------------ the thread */

struct delivery {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* on CLOCK_MONOTONIC */
  atomic_int stopping;
  unsigned interval_ms, timeout_ms;
  char retry_base_ms[24], retry_window_ms[24], lease_ms[24];
  int db_down_logged;
};

/* One claimed delivery and its POST. */
struct job {
  char id[24];
  char *url, *secret, *msg_id, *body;
  size_t body_len;
  CURL *easy;
  struct curl_slist *headers;
  char errbuf[CURL_ERROR_SIZE];
  char refused[CURL_ERROR_SIZE]; /* why open_socket refused an address, for the attempt's error */
  char response[RESPONSE_KEEP + 1];
  size_t response_len;
  struct timespec started;
  long duration_ms;
  long status;     /* HTTP status when a response came, else 0 */
  CURLcode result;
  int done;
};

static long long mono_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long long ms_since(const struct timespec *from)
{
  return mono_ms() - ((long long)from->tv_sec * 1000 + from->tv_nsec / 1000000);
}

/* Keeps the first RESPONSE_KEEP bytes of the answer as printable ASCII
 * (anything else as '?'), for the attempt's record; reads the rest away. */
static size_t on_response(char *ptr, size_t size, size_t n, void *ud)
{
  struct job *j = ud;
  size_t len = size * n;
  for (size_t i = 0; i < len && j->response_len < RESPONSE_KEEP; i++) {
    unsigned char c = (unsigned char)ptr[i];
    j->response[j->response_len++] = (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' ? (char)c : '?';
  }
  j->response[j->response_len] = '\0';
  return len;
}

static void job_free(struct job *j)
{
  free(j->url);
  if (j->secret)
    OPENSSL_cleanse(j->secret, strlen(j->secret));
  free(j->secret);
  free(j->msg_id);
  free(j->body);
  curl_slist_free_all(j->headers);
  if (j->easy)
    curl_easy_cleanup(j->easy);
  memset(j, 0, sizeof *j);
}

/* Every address a POST connects to, after DNS (so a name that resolved to
 * a public address when the subscription was made and to an internal one
 * now is caught too): refused when internal (internal_addr.h), before any
 * connection is made. */
static curl_socket_t open_socket(void *cls, curlsocktype purpose, struct curl_sockaddr *a)
{
  (void)purpose;
  struct job *j = cls;
  char why[200];
  if (internal_addr_refused(&a->addr, a->addrlen, why, sizeof why)) {
    snprintf(j->refused, sizeof j->refused, "not sent: %s", why);
    return CURL_SOCKET_BAD;
  }
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Prepares J's POST: body, the three Standard Webhooks headers, limits.
 * -1 when it cannot be signed or set up (recorded as a failed attempt). */
static int job_prepare(const struct delivery *d, struct job *j)
{
  char sig[WEBHOOK_SIGNATURE_SIZE], line[256];
  long long ts = (long long)time(NULL);
  clock_gettime(CLOCK_MONOTONIC, &j->started);
  if (webhook_sign(j->secret, j->msg_id, ts, j->body, j->body_len, sig) != 0) {
    snprintf(j->errbuf, sizeof j->errbuf, "the subscription's secret cannot sign");
    return -1;
  }
  j->easy = curl_easy_init();
  if (!j->easy) {
    snprintf(j->errbuf, sizeof j->errbuf, "out of memory");
    return -1;
  }
  j->headers = curl_slist_append(j->headers, "Content-Type: application/json");
  snprintf(line, sizeof line, "webhook-id: %s", j->msg_id);
  j->headers = curl_slist_append(j->headers, line);
  snprintf(line, sizeof line, "webhook-timestamp: %lld", ts);
  j->headers = curl_slist_append(j->headers, line);
  snprintf(line, sizeof line, "webhook-signature: %s", sig);
  j->headers = curl_slist_append(j->headers, line);
  j->headers = curl_slist_append(j->headers, "Expect:");
  CURL *e = j->easy;
  curl_easy_setopt(e, CURLOPT_URL, j->url);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  /* A redirect is a failed attempt (Standard Webhooks): the URL should be updated instead. */
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)d->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(d->timeout_ms < 5000 ? d->timeout_ms : 5000));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_response);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, j);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, j);
  return 0;
}

static void job_finish(struct job *j, CURLcode rc)
{
  if (rc != CURLE_OK && j->refused[0])
    snprintf(j->errbuf, sizeof j->errbuf, "%s", j->refused);
  j->done = 1;
  j->result = rc;
  j->duration_ms = (long)ms_since(&j->started);
  if (rc == CURLE_OK)
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &j->status);
  else
    j->status = 0;
}

/* POSTs every job at once; returns when all are done or the thread is
 * stopping (the unfinished ones keep done = 0). */
static void post_all(struct delivery *d, struct job *jobs, int n)
{
  CURLM *m = curl_multi_init();
  if (!m)
    return;
  for (int i = 0; i < n; i++) {
    if (job_prepare(d, &jobs[i]) != 0) {
      jobs[i].done = 1;
      jobs[i].result = CURLE_FAILED_INIT;
      continue;
    }
    curl_multi_add_handle(m, jobs[i].easy);
  }
  int running = 1;
  while (running > 0 && !atomic_load(&d->stopping)) {
    if (curl_multi_perform(m, &running) != CURLM_OK)
      break;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)))
      if (msg->msg == CURLMSG_DONE) {
        struct job *j = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        if (j)
          job_finish(j, msg->data.result);
      }
    if (running > 0)
      curl_multi_poll(m, NULL, 0, POLL_MS, NULL);
  }
  for (int i = 0; i < n; i++)
    if (jobs[i].easy)
      curl_multi_remove_handle(m, jobs[i].easy);
  curl_multi_cleanup(m);
}

/* The record of a finished job, as arc_webhook_attempts_record reads it. */
static json_t *job_result(const struct job *j)
{
  json_t *error = json_null(), *status = json_null();
  if (j->result == CURLE_OK) {
    status = json_integer(j->status);
  } else {
    char text[CURL_ERROR_SIZE + 128];
    const char *what = j->result == CURLE_FAILED_INIT && j->errbuf[0] ? NULL : curl_easy_strerror(j->result);
    if (what && j->errbuf[0])
      snprintf(text, sizeof text, "%s: %s", what, j->errbuf);
    else
      snprintf(text, sizeof text, "%s", what ? what : j->errbuf);
    error = json_string(text);
  }
  return json_pack("{s:s, s:I, s:I, s:o, s:o, s:s?}", "delivery_id", j->id, "started_ms_ago",
                   (json_int_t)ms_since(&j->started), "duration_ms", (json_int_t)j->duration_ms, "status_code",
                   status, "error", error, "response_body", j->response_len ? j->response : NULL);
}

/* ---- the round's transactions (db_tx units) ---- */

struct enqueue_ctx {
  int more; /* events are still waiting */
};

static int enqueue_tx(struct db *db, void *vctx)
{
  struct enqueue_ctx *ctx = vctx;
  char limit[16];
  snprintf(limit, sizeof limit, "%d", ENQUEUE_LIMIT);
  const char *params[] = {limit};
  PGresult *r;
  if (db_exec_one(db, "webhooks_enqueue", 1, params, &r) != DB_ONE)
    return DB_HARD;
  ctx->more = atoi(PQgetvalue(r, 0, 1)) >= ENQUEUE_LIMIT;
  PQclear(r);
  return DB_ONE;
}

struct claim_ctx {
  const struct delivery *d;
  struct job *jobs;
  int n;
};

static char *dup_value(const PGresult *r, int row, int col)
{
  return strndup(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

static int claim_tx(struct db *db, void *vctx)
{
  struct claim_ctx *ctx = vctx;
  /* A retried transaction claims afresh. */
  for (int i = 0; i < ctx->n; i++)
    job_free(&ctx->jobs[i]);
  ctx->n = 0;
  char batch[16];
  snprintf(batch, sizeof batch, "%d", BATCH);
  const char *params[] = {batch, ctx->d->lease_ms};
  PGresult *r = db_exec(db, "webhook_deliveries_claim", 2, params);
  if (!r)
    return DB_HARD;
  for (int i = 0; i < PQntuples(r) && i < BATCH; i++) {
    struct job *j = &ctx->jobs[i];
    snprintf(j->id, sizeof j->id, "%s", PQgetvalue(r, i, 0));
    j->url = dup_value(r, i, 1);
    j->secret = dup_value(r, i, 2);
    j->msg_id = dup_value(r, i, 3);
    j->body = dup_value(r, i, 4);
    j->body_len = (size_t)PQgetlength(r, i, 4);
    ctx->n = i + 1;
  }
  /* The secrets leave libpq's buffer before it is freed. */
  for (int i = 0; i < PQntuples(r); i++)
    OPENSSL_cleanse(PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2));
  PQclear(r);
  return DB_ONE;
}

struct record_ctx {
  const struct delivery *d;
  const char *results;
  long long counts[4]; /* recorded, delivered, given_up, disabled */
};

static int record_tx(struct db *db, void *vctx)
{
  struct record_ctx *ctx = vctx;
  const char *params[] = {ctx->results, ctx->d->retry_base_ms, ctx->d->retry_window_ms};
  PGresult *r;
  if (db_exec_one(db, "webhook_attempts_record", 3, params, &r) != DB_ONE)
    return DB_HARD;
  for (int c = 0; c < 4; c++)
    ctx->counts[c] = atoll(PQgetvalue(r, 0, c));
  PQclear(r);
  return DB_ONE;
}

static int release_tx(struct db *db, void *vctx)
{
  const char *params[] = {vctx};
  PGresult *r = db_exec(db, "webhook_deliveries_release", 1, params);
  if (!r)
    return DB_HARD;
  PQclear(r);
  return DB_ONE;
}

/* Runs FN in a transaction; logs a failure with WHAT.  1 on success. */
static int run(struct db *db, db_unit_fn fn, void *ctx, const char *what)
{
  int rc = db_tx(db, fn, ctx);
  if (rc < 0)
    log_json("error", "webhooks: a step failed",
             json_pack("{s:s, s:s, s:s}", "step", what, "sqlstate", db->err.sqlstate, "error", db->err.message));
  return rc >= 0;
}

/* Records the finished jobs and releases the abandoned ones. */
static void settle(struct delivery *d, struct db *db, struct job *jobs, int n)
{
  json_t *results = json_array();
  size_t cap = 2 + (size_t)n * 22, used = 0;
  char *abandoned = malloc(cap);
  abandoned[used++] = '{';
  for (int i = 0; i < n; i++) {
    if (jobs[i].done)
      json_array_append_new(results, job_result(&jobs[i]));
    else
      used += (size_t)snprintf(abandoned + used, cap - used, "%s%s", used > 1 ? "," : "", jobs[i].id);
  }
  abandoned[used++] = '}';
  abandoned[used] = '\0';
  if (json_array_size(results) > 0) {
    char *text = json_dumps(results, JSON_COMPACT);
    struct record_ctx rc = {.d = d, .results = text};
    if (run(db, record_tx, &rc, "record attempts") && (rc.counts[2] || rc.counts[3]))
      log_json("warn", "webhooks: deliveries given up",
               json_pack("{s:I, s:I}", "given_up", (json_int_t)rc.counts[2], "subscriptions_disabled",
                         (json_int_t)rc.counts[3]));
    free(text);
  }
  if (used > 2)
    run(db, release_tx, abandoned, "release abandoned deliveries");
  json_decref(results);
  free(abandoned);
}

/* One round; 1 when work is still waiting (go again at once). */
static int round_once(struct delivery *d)
{
  struct db *db = db_thread();
  if (!db_ready(db)) {
    if (!d->db_down_logged)
      log_json("warn", "webhooks: database unreachable; delivery paused", NULL);
    d->db_down_logged = 1;
    return 0;
  }
  d->db_down_logged = 0;
  db->actor = "webhooks";
  db->request_id = NULL;
  struct enqueue_ctx eq = {0};
  if (!run(db, enqueue_tx, &eq, "enqueue"))
    return 0;
  struct job jobs[BATCH];
  memset(jobs, 0, sizeof jobs);
  struct claim_ctx cl = {.d = d, .jobs = jobs};
  int claimed = run(db, claim_tx, &cl, "claim");
  if (claimed && cl.n > 0) {
    post_all(d, jobs, cl.n);
    settle(d, db, jobs, cl.n);
  }
  for (int i = 0; i < cl.n; i++)
    job_free(&jobs[i]);
  return claimed && (eq.more || cl.n == BATCH) && !atomic_load(&d->stopping);
}

static void *delivery_main(void *arg)
{
  struct delivery *d = arg;
  while (!atomic_load(&d->stopping)) {
    if (round_once(d))
      continue;
    pthread_mutex_lock(&d->mu);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += d->interval_ms / 1000;
    until.tv_nsec += (long)(d->interval_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    while (!atomic_load(&d->stopping) && pthread_cond_timedwait(&d->cv, &d->mu, &until) != ETIMEDOUT)
      ;
    pthread_mutex_unlock(&d->mu);
  }
  db_pool_shutdown(); /* this thread's connection */
  return NULL;
}

struct delivery *delivery_start(const struct config *cfg)
{
  internal_addr_allow(cfg->webhook_allow_private != 0);
  if (cfg->webhook_interval_ms == 0)
    return NULL;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    log_error("webhooks: libcurl cannot start; no delivery thread");
    return NULL;
  }
  struct delivery *d = calloc(1, sizeof *d);
  if (!d) {
    curl_global_cleanup();
    return NULL;
  }
  d->interval_ms = cfg->webhook_interval_ms;
  d->timeout_ms = cfg->webhook_timeout_ms;
  snprintf(d->retry_base_ms, sizeof d->retry_base_ms, "%u", cfg->webhook_retry_base_ms);
  snprintf(d->retry_window_ms, sizeof d->retry_window_ms, "%llu", cfg->webhook_retry_window_s * 1000ULL);
  /* A batch's POSTs run at once, so all end within one timeout; as much
   * again is room for recording them.  A lease that runs out early only
   * costs a duplicate POST, one that is long delays a dead instance's
   * deliveries. */
  snprintf(d->lease_ms, sizeof d->lease_ms, "%u", 2 * cfg->webhook_timeout_ms + 1000u);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&d->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&d->mu, NULL);
  if (pthread_create(&d->thread, NULL, delivery_main, d) != 0) {
    log_error("webhooks: cannot start the delivery thread");
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
    curl_global_cleanup();
    return NULL;
  }
  log_json("info", "webhook delivery started",
           json_pack("{s:i, s:i, s:i, s:i}", "interval_ms", (int)cfg->webhook_interval_ms, "timeout_ms",
                     (int)cfg->webhook_timeout_ms, "retry_base_ms", (int)cfg->webhook_retry_base_ms,
                     "retry_window_s", (int)cfg->webhook_retry_window_s));
  return d;
}

void delivery_stop(struct delivery *d)
{
  if (!d)
    return;
  pthread_mutex_lock(&d->mu);
  atomic_store(&d->stopping, 1);
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
  pthread_join(d->thread, NULL);
  pthread_cond_destroy(&d->cv);
  pthread_mutex_destroy(&d->mu);
  free(d);
  curl_global_cleanup();
  log_info("webhook delivery stopped");
}
