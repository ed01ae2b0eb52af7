/* GET /metrics: Prometheus text exposition format 0.0.4.
 *
 * What the process records itself (requests, sweeps, connections) is read
 * from the recorder (metrics.h) and formatted here.  What lives in the
 * database (the webhook backlog, the last sweep of any instance) is read by
 * one prepared statement per scrape; when that fails the scrape still
 * answers, with arcollect_db_up 0 and without those.
 *
 * Requests are labelled by the route PATTERN ("/v1/customers/{id}"), never
 * the raw path, so the series are bounded: (routes x {method, HEAD}) plus
 * "unmatched" x 8 methods, each with a fixed list of status codes.  This
 * file numbers those series for the recorder (metrics_route_series). */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/metrics.h"
#include "arc/metrics_get.h"
#include "arc/problem.h"
#include "arc/router.h"
#include "arc/statements.h"

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

/* ---------------------------------------------------------------- series */

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

/* Series 2i: route i with its own method; 2i + 1: HEAD on route i (the
 * router serves HEAD with the GET route); then one per method for
 * "unmatched".  The route table's size is known only at link time, so the
 * recorder's table is made on first use. */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void series_init(void) { metrics_http_init(2 * arc_routes_count + N_METHODS); }

size_t metrics_route_series(const struct route *route, enum http_method method)
{
  pthread_once(&g_once, series_init);
  /* A route of another table (none in the server) counts as unmatched. */
  uintptr_t p = (uintptr_t)route, first = (uintptr_t)arc_routes,
            end = (uintptr_t)(arc_routes + arc_routes_count);
  if (route && p >= first && p < end)
    return 2 * (size_t)(route - arc_routes) + (method == HTTP_HEAD && route->method != HTTP_HEAD);
  return 2 * arc_routes_count + method_index(method);
}

static void series_labels(size_t s, const char **method, const char **route)
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
static void out_hist(struct out *o, const char *name, const char **kv, size_t n, const struct metrics_hist *s)
{
  kv[2 * n] = "le";
  for (size_t i = 0; i <= s->n; i++) {
    kv[2 * n + 1] = i < s->n ? s->le[i] : "+Inf";
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
  size_t n_series = metrics_http_series_count(), n_status = metrics_http_status_count();
  out_family(o, "arcollect_http_requests_total", "counter",
             "HTTP requests answered by this instance, by method, route pattern (\"unmatched\" when no "
             "route has the path and method: 404, 405) and status code.");
  for (size_t s = 0; s < n_series; s++) {
    const char *kv[6] = {"method", NULL, "route", NULL, "status", NULL};
    series_labels(s, &kv[1], &kv[3]);
    for (size_t i = 0; i < n_status; i++) {
      unsigned long long n = metrics_http_requests(s, i);
      if (!n)
        continue;
      char code[8];
      kv[5] = metrics_http_status_label(i, code);
      out_series(o, "arcollect_http_requests_total", "", kv, 3);
      out_add(o, "%llu\n", n);
    }
  }
  out_family(o, "arcollect_http_request_duration_seconds", "histogram",
             "Time from a request's headers to the end of its reply on this instance, by method and "
             "route pattern.");
  for (size_t s = 0; s < n_series; s++) {
    struct metrics_hist snap;
    metrics_http_duration(s, &snap);
    if (!snap.count)
      continue;
    const char *kv[6] = {"method", NULL, "route", NULL};
    series_labels(s, &kv[1], &kv[3]);
    out_hist(o, "arcollect_http_request_duration_seconds", kv, 2, &snap);
  }
  out_family(o, "arcollect_http_requests_unanswered_total", "counter",
             "Requests on this instance whose client went away before a reply was sent.");
  out_add(o, "arcollect_http_requests_unanswered_total %llu\n", metrics_http_unanswered());
}

static void out_sweeps(struct out *o)
{
  enum { T = METRICS_SWEEP_TRIGGERS, K = METRICS_SWEEP_OUTCOMES };
  struct metrics_hist snap[T][K];
  for (size_t t = 0; t < T; t++)
    for (size_t k = 0; k < K; k++)
      metrics_sweep_duration(t, k, &snap[t][k]);
  out_family(o, "arcollect_scheduler_runs_total", "counter",
             "Sweeps run by this instance, by trigger (scheduler thread or POST /v1/scheduler/runs) and "
             "outcome (ok; skipped: another instance was sweeping; failed).");
  for (size_t t = 0; t < T; t++)
    for (size_t k = 0; k < K; k++)
      if (snap[t][k].count) {
        const char *kv[4] = {"trigger", metrics_sweep_triggers[t], "outcome", metrics_sweep_outcomes[k]};
        out_series(o, "arcollect_scheduler_runs_total", "", kv, 2);
        out_add(o, "%llu\n", snap[t][k].count);
      }
  out_family(o, "arcollect_scheduler_run_duration_seconds", "histogram",
             "How long the sweeps of this instance took, by trigger and outcome.");
  for (size_t t = 0; t < T; t++)
    for (size_t k = 0; k < K; k++)
      if (snap[t][k].count) {
        const char *kv[6] = {"trigger", metrics_sweep_triggers[t], "outcome", metrics_sweep_outcomes[k]};
        out_hist(o, "arcollect_scheduler_run_duration_seconds", kv, 2, &snap[t][k]);
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
  out_add(o, "arcollect_db_connections{state=\"open\"} %lld\n", metrics_db_connections(1));
  out_add(o, "arcollect_db_connections{state=\"down\"} %lld\n", metrics_db_connections(0));
  out_family(o, "arcollect_db_connection_attempts_total", "counter",
             "Database connection attempts of this instance, by outcome.");
  out_add(o, "arcollect_db_connection_attempts_total{outcome=\"ok\"} %llu\n", metrics_db_connect_attempts(1));
  out_add(o, "arcollect_db_connection_attempts_total{outcome=\"failed\"} %llu\n",
          metrics_db_connect_attempts(0));
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
  pthread_once(&g_once, series_init);
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
