/* The metrics recorder (metrics.h): relaxed increments of C11 atomics in
 * fixed tables, no lock, no allocation, no query on the hot path. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arc/metrics.h"

/* ------------------------------------------------------------ histograms */

struct buckets {
  size_t n;
  long long le_us[METRICS_MAX_BUCKETS]; /* upper bounds, ascending */
  const char *le[METRICS_MAX_BUCKETS];  /* the same as label values, in seconds */
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
 * snapshot adds them up, so +Inf always equals the count. */
struct hist {
  atomic_ullong bucket[METRICS_MAX_BUCKETS + 1];
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

static void hist_snapshot(struct hist *h, const struct buckets *b, struct metrics_hist *s)
{
  unsigned long long run = 0;
  for (size_t i = 0; i <= b->n; i++) {
    run += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
    s->cumulative[i] = run;
  }
  s->n = b->n;
  s->le = b->le;
  s->count = run;
  s->sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
}

long long metrics_clock_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------- requests */

/* The status codes counted one by one; any other is counted as its class. */
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

struct http_series {
  atomic_ullong by_status[N_STATUS];
  struct hist duration;
};

/* Made once by metrics_http_init and kept for the life of the process. */
struct http_table {
  size_t n;
  struct http_series series[];
};
static _Atomic(struct http_table *) g_http;
static atomic_ullong g_unanswered;

void metrics_http_init(size_t n_series)
{
  if (atomic_load(&g_http) || n_series == 0)
    return;
  struct http_table *t = calloc(1, sizeof *t + n_series * sizeof t->series[0]), *none = NULL;
  if (!t)
    return;
  t->n = n_series;
  if (!atomic_compare_exchange_strong(&g_http, &none, t))
    free(t); /* another caller made it first */
}

/* Series I of the table, or NULL (no table yet, or I out of range). */
static struct http_series *series_at(size_t i)
{
  struct http_table *t = atomic_load_explicit(&g_http, memory_order_acquire);
  return t && i < t->n ? &t->series[i] : NULL;
}

void metrics_http_request(size_t series, unsigned status, long long duration_us)
{
  if (status < 100 || status > 599) {
    atomic_fetch_add_explicit(&g_unanswered, 1, memory_order_relaxed);
    return;
  }
  struct http_series *sl = series_at(series);
  if (!sl)
    return;
  atomic_fetch_add_explicit(&sl->by_status[status_index(status)], 1, memory_order_relaxed);
  hist_observe(&sl->duration, &http_buckets, duration_us);
}

size_t metrics_http_series_count(void)
{
  struct http_table *t = atomic_load_explicit(&g_http, memory_order_acquire);
  return t ? t->n : 0;
}

size_t metrics_http_status_count(void) { return N_STATUS; }

const char *metrics_http_status_label(size_t i, char buf[8])
{
  if (i >= N_CODES)
    return status_classes[i - N_CODES];
  snprintf(buf, 8, "%u", status_codes[i]);
  return buf;
}

unsigned long long metrics_http_requests(size_t series, size_t status_slot)
{
  struct http_series *sl = series_at(series);
  return sl && status_slot < N_STATUS ? atomic_load_explicit(&sl->by_status[status_slot], memory_order_relaxed) : 0;
}

void metrics_http_duration(size_t series, struct metrics_hist *out)
{
  static struct hist empty;
  struct http_series *sl = series_at(series);
  hist_snapshot(sl ? &sl->duration : &empty, &http_buckets, out);
}

unsigned long long metrics_http_unanswered(void)
{
  return atomic_load_explicit(&g_unanswered, memory_order_relaxed);
}

/* ---------------------------------------------------------------- sweeps */

const char *const metrics_sweep_triggers[METRICS_SWEEP_TRIGGERS] = {"scheduler", "api", "other"};
const char *const metrics_sweep_outcomes[METRICS_SWEEP_OUTCOMES] = {"ok", "skipped", "failed"};
static struct hist g_sweeps[METRICS_SWEEP_TRIGGERS][METRICS_SWEEP_OUTCOMES];

void metrics_sweep_run(const char *trigger, enum metrics_sweep_outcome outcome, long long duration_us)
{
  size_t t = trigger && strcmp(trigger, "scheduler") == 0 ? 0 : trigger && strcmp(trigger, "api") == 0 ? 1 : 2;
  size_t o = outcome <= METRICS_SWEEP_FAILED ? (size_t)outcome : 2;
  hist_observe(&g_sweeps[t][o], &sweep_buckets, duration_us);
}

void metrics_sweep_duration(size_t trigger, size_t outcome, struct metrics_hist *out)
{
  hist_snapshot(&g_sweeps[trigger % METRICS_SWEEP_TRIGGERS][outcome % METRICS_SWEEP_OUTCOMES], &sweep_buckets,
                out);
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

long long metrics_db_connections(int open)
{
  return atomic_load_explicit(&g_db_state[open ? 1 : 0], memory_order_relaxed);
}

unsigned long long metrics_db_connect_attempts(int ok)
{
  return atomic_load_explicit(&g_connects[ok ? 1 : 0], memory_order_relaxed);
}
