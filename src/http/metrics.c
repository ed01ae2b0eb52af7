/* GET /metrics: Prometheus text exposition format 0.0.4.
 *
 * What the process records itself (requests, sweeps, connections) lives in
 * fixed tables of C11 atomics that the recorders of metrics.h add to with
 * relaxed increments: no lock, no allocation, no query on the hot path.
 * Those values are per process (per instance); Prometheus sums instances.
 * What lives in the database (the webhook backlog, the last sweep of any
 * instance) is read by one prepared statement per scrape; when that fails
 * the scrape still answers, with arcollect_db_up 0 and without those.
 *
 * Requests are labelled by the route PATTERN ("/v1/customers/{id}"), never
 * the raw path, so the series are bounded: (routes x {method, HEAD}) plus
 * "unmatched" x 8 methods, each with a fixed list of status codes. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/statements.h"
#include "arc/metrics.h"
#include "arc/problem.h"
#include "arc/router.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

const struct db_stmt metrics_stmts[] = {
    /* Values shared by all instances, as text: pending webhook deliveries;
     * how long the most overdue one has been due (0 when none is: the
     * delivery thread keeps up), found through the due index; the end of
     * the newest sweep (runs commit one at a time, so the newest id). */
    {"metrics_select",
     "SELECT (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending')::text, "
     "coalesce(greatest((SELECT extract(epoch FROM now() - next_attempt_at) FROM webhook_deliveries "
     "                   WHERE status = 'pending' AND next_attempt_at IS NOT NULL "
     "                   ORDER BY next_attempt_at LIMIT 1), 0), 0)::numeric(20,3)::text, "
     "(SELECT extract(epoch FROM finished_at)::numeric(20,6)::text FROM scheduler_runs "
     " WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1)"},
    {NULL, NULL},
};

/* ------------------------------------------------------------ histograms */

#define MAX_BUCKETS 16

struct buckets {
  size_t n;
  long long le_us[MAX_BUCKETS]; /* upper bounds, ascending */
  const char *le[MAX_BUCKETS];  /* the same as label values, in seconds */
};

/* Prometheus's default buckets: most requests take milliseconds. */
static const struct buckets http_buckets = {
    11,
    {5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000},
    {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"},
};

/* A sweep of a large book takes seconds (bench/: ~10 s for 1M invoices). */
static const struct buckets sweep_buckets = {
    12,
    {10000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000, 300000000},
    {"0.01", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "300"},
};

/* Per-bucket (not cumulative) counts, the last one past every bound; the
 * scrape adds them up, so +Inf always equals _count. */
struct hist {
  atomic_ullong bucket[MAX_BUCKETS + 1];
  atomic_ullong sum_us;
};

static void hist_observe(struct hist *h, const struct buckets *b, long long us)
{
  if (us < 0)
    us = 0;
  size_t i = 0;
  while (i < b->n && us > b->le_us[i])
    i++;
  atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)us, memory_order_relaxed);
}

/* A copy of a histogram taken once, so that its lines agree. */
struct hist_snap {
  unsigned long long cumulative[MAX_BUCKETS + 1];
  unsigned long long count, sum_us;
};

static void hist_snapshot(struct hist *h, const struct buckets *b, struct hist_snap *s)
{
  unsigned long long run = 0;
  for (size_t i = 0; i <= b->n; i++) {
    run += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
    s->cumulative[i] = run;
  }
  s->count = run;
  s->sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
}

/* ------------------------------------------------------------- requests */

/* The status codes counted one by one; any other is counted as its class
 * ("4xx"), so the label set stays bounded whatever a handler answers. */
static const unsigned status_codes[] = {200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308,
                                        400, 401, 403, 404, 405, 406, 408, 409, 410, 411, 412,
                                        413, 414, 415, 416, 417, 421, 422, 425, 426, 428, 429,
                                        431, 500, 501, 502, 503, 504, 505};
#define N_CODES (sizeof status_codes / sizeof status_codes[0])
#define N_STATUS (N_CODES + 5)
static const char *const status_classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

static size_t status_index(unsigned status)
{
  for (size_t i = 0; i < N_CODES; i++)
    if (status_codes[i] == status)
      return i;
  return N_CODES + (status / 100 - 1);
}

/* Methods of requests that matched no route, by their bit in enum
 * http_method; anything else is "other". */
static const struct {
  enum http_method m;
  const char *name;
} methods[] = {
    {HTTP_GET, "GET"},     {HTTP_HEAD, "HEAD"},     {HTTP_POST, "POST"},       {HTTP_PUT, "PUT"},
    {HTTP_PATCH, "PATCH"}, {HTTP_DELETE, "DELETE"}, {HTTP_OPTIONS, "OPTIONS"}, {0, "other"},
};
#define N_METHODS (sizeof methods / sizeof methods[0])

static size_t method_index(enum http_method m)
{
  for (size_t i = 0; i + 1 < N_METHODS; i++)
    if (methods[i].m == m)
      return i;
  return N_METHODS - 1;
}

struct http_slot {
  atomic_ullong by_status[N_STATUS];
  struct hist duration;
};

/* Slot 2i: route i with its own method; 2i + 1: HEAD on route i (the router
 * serves HEAD with the GET route); then one per method for "unmatched". */
static struct http_slot *g_slots;
static size_t g_n_slots;
static atomic_ullong g_unanswered;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* The route table's size is known only at link time: the table is made
 * once, on first use, and lives as long as the process. */
static void slots_init(void)
{
  g_slots = calloc(2 * arc_routes_count + N_METHODS, sizeof *g_slots);
  if (g_slots)
    g_n_slots = 2 * arc_routes_count + N_METHODS;
}

static size_t slot_of(const struct route *route, enum http_method method)
{
  /* A route of another table (none in the server) counts as unmatched. */
  uintptr_t p = (uintptr_t)route, first = (uintptr_t)arc_routes,
            end = (uintptr_t)(arc_routes + arc_routes_count);
  if (route && p >= first && p < end)
    return 2 * (size_t)(route - arc_routes) + (method == HTTP_HEAD && route->method != HTTP_HEAD);
  return 2 * arc_routes_count + method_index(method);
}

static void slot_labels(size_t s, const char **method, const char **route)
{
  if (s < 2 * arc_routes_count) {
    const struct route *r = &arc_routes[s / 2];
    *route = r->pattern;
    *method = s % 2 ? "HEAD" : methods[method_index(r->method)].name;
  } else {
    *route = "unmatched";
    *method = methods[s - 2 * arc_routes_count].name;
  }
}

long long metrics_clock_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

void metrics_http_request(const struct route *route, enum http_method method, unsigned status,
                          long long duration_us)
{
  pthread_once(&g_once, slots_init);
  if (status < 100 || status > 599) {
    atomic_fetch_add_explicit(&g_unanswered, 1, memory_order_relaxed);
    return;
  }
  if (!g_slots)
    return;
  struct http_slot *sl = &g_slots[slot_of(route, method)];
  atomic_fetch_add_explicit(&sl->by_status[status_index(status)], 1, memory_order_relaxed);
  hist_observe(&sl->duration, &http_buckets, duration_us);
}

/* ---------------------------------------------------------------- sweeps */

static const char *const triggers[] = {"scheduler", "api", "other"};
static const char *const outcomes[] = {"ok", "skipped", "failed"};
static struct hist g_sweeps[3][3];

void metrics_sweep_run(const char *trigger, enum metrics_sweep_outcome outcome, long long duration_us)
{
  size_t t = trigger && strcmp(trigger, "scheduler") == 0 ? 0 : trigger && strcmp(trigger, "api") == 0 ? 1 : 2;
  size_t o = outcome <= METRICS_SWEEP_FAILED ? (size_t)outcome : 2;
  hist_observe(&g_sweeps[t][o], &sweep_buckets, duration_us);
}

/* ------------------------------------------------------------ connections */

/* Each thread's connection state as last reported (-1: it holds none), so
 * that the gauges move only when a thread's state changes. */
static _Thread_local int tl_db_state = -1;
static atomic_llong g_db_state[2]; /* [0] down, [1] open */
static atomic_ullong g_connects[2]; /* [0] failed, [1] ok */

void metrics_db_thread_state(int state)
{
  if (state > 1)
    state = 1;
  if (state == tl_db_state)
    return;
  if (tl_db_state >= 0)
    atomic_fetch_sub_explicit(&g_db_state[tl_db_state], 1, memory_order_relaxed);
  if (state >= 0)
    atomic_fetch_add_explicit(&g_db_state[state], 1, memory_order_relaxed);
  tl_db_state = state < 0 ? -1 : state;
}

void metrics_db_connect(int ok)
{
  atomic_fetch_add_explicit(&g_connects[ok ? 1 : 0], 1, memory_order_relaxed);
}

/* --------------------------------------------------------------- output */

struct out {
  char *buf;
  size_t len, cap;
  int failed; /* out of memory */
};

static void out_add(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_add(struct out *o, const char *fmt, ...)
{
  if (o->failed)
    return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      o->failed = 1;
      return;
    }
    if ((size_t)n < o->cap - o->len) {
      o->len += (size_t)n;
      return;
    }
    size_t cap = o->cap * 2 + (size_t)n;
    char *b = realloc(o->buf, cap);
    if (!b) {
      o->failed = 1;
      return;
    }
    o->buf = b;
    o->cap = cap;
  }
}

/* A label value with \, " and newline escaped, as the format requires. */
static void out_label_value(struct out *o, const char *v)
{
  out_add(o, "\"");
  while (*v) {
    size_t plain = strcspn(v, "\\\"\n");
    out_add(o, "%.*s", (int)plain, v);
    v += plain;
    if (*v) {
      out_add(o, "\\%c", *v == '\n' ? 'n' : *v);
      v++;
    }
  }
  out_add(o, "\"");
}

/* NAME{k1="v1",...} from N (key, value) pairs; no braces when N is 0. */
static void out_series(struct out *o, const char *name, const char *suffix, const char *const *kv, size_t n)
{
  out_add(o, "%s%s", name, suffix);
  for (size_t i = 0; i < n; i++) {
    out_add(o, "%s%s=", i ? "," : "{", kv[2 * i]);
    out_label_value(o, kv[2 * i + 1]);
  }
  if (n)
    out_add(o, "}");
  out_add(o, " ");
}

static void out_family(struct out *o, const char *name, const char *type, const char *help)
{
  out_add(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void out_seconds(struct out *o, unsigned long long us)
{
  out_add(o, "%llu.%06llu\n", us / 1000000ULL, us % 1000000ULL);
}

/* The _bucket, _sum and _count lines of one histogram series; KV has room
 * for one more pair after its N, for le. */
static void out_hist(struct out *o, const char *name, const char **kv, size_t n, const struct buckets *b,
                     const struct hist_snap *s)
{
  kv[2 * n] = "le";
  for (size_t i = 0; i <= b->n; i++) {
    kv[2 * n + 1] = i < b->n ? b->le[i] : "+Inf";
    out_series(o, name, "_bucket", kv, n + 1);
    out_add(o, "%llu\n", s->cumulative[i]);
  }
  out_series(o, name, "_sum", kv, n);
  out_seconds(o, s->sum_us);
  out_series(o, name, "_count", kv, n);
  out_add(o, "%llu\n", s->count);
}

static void out_http(struct out *o)
{
  out_family(o, "arcollect_http_requests_total", "counter",
             "HTTP requests answered by this instance, by method, route pattern (\"unmatched\" when no "
             "route has the path and method: 404, 405) and status code.");
  for (size_t s = 0; s < g_n_slots; s++) {
    const char *kv[6] = {"method", NULL, "route", NULL, "status", NULL};
    slot_labels(s, &kv[1], &kv[3]);
    for (size_t i = 0; i < N_STATUS; i++) {
      unsigned long long n = atomic_load_explicit(&g_slots[s].by_status[i], memory_order_relaxed);
      if (!n)
        continue;
      char code[8];
      snprintf(code, sizeof code, "%u", i < N_CODES ? status_codes[i] : 0);
      kv[5] = i < N_CODES ? code : status_classes[i - N_CODES];
      out_series(o, "arcollect_http_requests_total", "", kv, 3);
      out_add(o, "%llu\n", n);
    }
  }
  out_family(o, "arcollect_http_request_duration_seconds", "histogram",
             "Time from a request's headers to the end of its reply on this instance, by method and "
             "route pattern.");
  for (size_t s = 0; s < g_n_slots; s++) {
    struct hist_snap snap;
    hist_snapshot(&g_slots[s].duration, &http_buckets, &snap);
    if (!snap.count)
      continue;
    const char *kv[6] = {"method", NULL, "route", NULL};
    slot_labels(s, &kv[1], &kv[3]);
    out_hist(o, "arcollect_http_request_duration_seconds", kv, 2, &http_buckets, &snap);
  }
  out_family(o, "arcollect_http_requests_unanswered_total", "counter",
             "Requests on this instance whose client went away before a reply was sent.");
  out_add(o, "arcollect_http_requests_unanswered_total %llu\n",
          atomic_load_explicit(&g_unanswered, memory_order_relaxed));
}

static void out_sweeps(struct out *o)
{
  struct hist_snap snap[3][3];
  for (size_t t = 0; t < 3; t++)
    for (size_t k = 0; k < 3; k++)
      hist_snapshot(&g_sweeps[t][k], &sweep_buckets, &snap[t][k]);
  out_family(o, "arcollect_scheduler_runs_total", "counter",
             "Sweeps run by this instance, by trigger (scheduler thread or POST /v1/scheduler/runs) and "
             "outcome (ok; skipped: another instance was sweeping; failed).");
  for (size_t t = 0; t < 3; t++)
    for (size_t k = 0; k < 3; k++)
      if (snap[t][k].count) {
        const char *kv[4] = {"trigger", triggers[t], "outcome", outcomes[k]};
        out_series(o, "arcollect_scheduler_runs_total", "", kv, 2);
        out_add(o, "%llu\n", snap[t][k].count);
      }
  out_family(o, "arcollect_scheduler_run_duration_seconds", "histogram",
             "How long the sweeps of this instance took, by trigger and outcome.");
  for (size_t t = 0; t < 3; t++)
    for (size_t k = 0; k < 3; k++)
      if (snap[t][k].count) {
        const char *kv[6] = {"trigger", triggers[t], "outcome", outcomes[k]};
        out_hist(o, "arcollect_scheduler_run_duration_seconds", kv, 2, &sweep_buckets, &snap[t][k]);
      }
}

static void out_db(struct out *o, int db_up)
{
  out_family(o, "arcollect_db_up", "gauge",
             "1 when this scrape could read the database, 0 when it could not.");
  out_add(o, "arcollect_db_up %d\n", db_up);
  out_family(o, "arcollect_db_connections", "gauge",
             "Database connections of this instance (one per worker thread, plus the scheduler's and "
             "the webhook delivery's) as each thread last saw it: open, or down and reconnecting.");
  out_add(o, "arcollect_db_connections{state=\"open\"} %lld\n",
          atomic_load_explicit(&g_db_state[1], memory_order_relaxed));
  out_add(o, "arcollect_db_connections{state=\"down\"} %lld\n",
          atomic_load_explicit(&g_db_state[0], memory_order_relaxed));
  out_family(o, "arcollect_db_connection_attempts_total", "counter",
             "Database connection attempts of this instance, by outcome.");
  out_add(o, "arcollect_db_connection_attempts_total{outcome=\"ok\"} %llu\n",
          atomic_load_explicit(&g_connects[1], memory_order_relaxed));
  out_add(o, "arcollect_db_connection_attempts_total{outcome=\"failed\"} %llu\n",
          atomic_load_explicit(&g_connects[0], memory_order_relaxed));
}

/* The values the database holds, from the one row of metrics_select. */
static void out_shared(struct out *o, const PGresult *r)
{
  out_family(o, "arcollect_webhook_backlog", "gauge",
             "Webhook deliveries not yet delivered nor given up (all instances; from the database).");
  out_add(o, "arcollect_webhook_backlog %s\n", PQgetvalue(r, 0, 0));
  out_family(o, "arcollect_webhook_oldest_due_seconds", "gauge",
             "How long the most overdue pending webhook delivery has been due; 0 when none is "
             "(all instances; from the database).");
  out_add(o, "arcollect_webhook_oldest_due_seconds %s\n", PQgetvalue(r, 0, 1));
  out_family(o, "arcollect_scheduler_last_run_timestamp_seconds", "gauge",
             "When the newest sweep of any instance finished, in seconds since the epoch (absent before "
             "the first; from the database).");
  if (!PQgetisnull(r, 0, 2))
    out_add(o, "arcollect_scheduler_last_run_timestamp_seconds %s\n", PQgetvalue(r, 0, 2));
}

unsigned metrics_get(struct request *rq, struct reply *rp)
{
  pthread_once(&g_once, slots_init);
  struct db *db = rq->db ? rq->db : db_thread();
  PGresult *r = db_ready(db) ? db_exec(db, "metrics_select", 0, NULL) : NULL;
  /* A failed read may just have found this thread's connection gone. */
  metrics_db_thread_state(db_ready(db));

  struct out o = {.cap = 16384};
  o.buf = malloc(o.cap);
  o.failed = !o.buf;
  out_family(&o, "arcollect_up", "gauge", "1: this instance answers.");
  out_add(&o, "arcollect_up 1\n");
  out_db(&o, r != NULL);
  out_http(&o);
  out_sweeps(&o);
  if (r)
    out_shared(&o, r);
  PQclear(r);
  if (o.failed) {
    free(o.buf);
    return reply_problem(rp, PROBLEM_INTERNAL, "out of memory");
  }
  reply_text(rp, 200, o.buf);
  rp->content_type = CONTENT_TYPE;
  return 200;
}
