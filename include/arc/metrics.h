/* The process's metrics recorder: fixed tables of C11 atomics that hot
 * paths of many threads add to.  Recording never allocates, never locks
 * and never touches the database.  It depends on nothing of db/ or http/:
 * the pool, the sweep and the server record here, and GET /metrics
 * (src/http/metrics_get.c) reads the values back to format them.  Values
 * are per process (per instance). */
#ifndef ARC_METRICS_H
#define ARC_METRICS_H

#include <stddef.h>

/* A monotonic clock in microseconds, for durations. */
long long metrics_clock_us(void);

/* ---------------------------------------------------------- recording */

/* HTTP requests are counted per series, a small number the server's side
 * gives each (route, method) pair (metrics_route_series); the recorder
 * only counts.  Makes room for N_SERIES once (later calls do nothing);
 * requests recorded before are dropped. */
void metrics_http_init(size_t n_series);

/* One request answered: STATUS is the reply's code, 0 when none was sent
 * (the client went away first: counted as unanswered, whatever SERIES). */
void metrics_http_request(size_t series, unsigned status, long long duration_us);

enum metrics_sweep_outcome { METRICS_SWEEP_OK, METRICS_SWEEP_SKIPPED, METRICS_SWEEP_FAILED };

/* One sweep (sweep.c): TRIGGER "scheduler" or "api"; skipped when another
 * instance was sweeping. */
void metrics_sweep_run(const char *trigger, enum metrics_sweep_outcome outcome, long long duration_us);

/* The calling thread's database connection (pool.c): 1 open (connected and
 * prepared), 0 down (waiting to reconnect), -1 given up (the thread ends).
 * Only a change of the thread's own state touches the shared gauges. */
void metrics_db_thread_state(int state);

/* One connection attempt and whether it succeeded (pool.c). */
void metrics_db_connect(int ok);

/* ------------------------------------------------------------ reading */

#define METRICS_MAX_BUCKETS 16

/* A histogram copied once, so that its lines agree: cumulative counts per
 * upper bound, the last one +Inf (equal to count). */
struct metrics_hist {
  size_t n;              /* bounds, without +Inf */
  const char *const *le; /* the bounds as label values, in seconds */
  unsigned long long cumulative[METRICS_MAX_BUCKETS + 1];
  unsigned long long count, sum_us;
};

/* The series made by metrics_http_init (0 before). */
size_t metrics_http_series_count(void);
/* Status codes are counted one by one from a fixed list, any other by its
 * class ("4xx"), so the labels stay bounded. */
size_t metrics_http_status_count(void);
/* The label of status slot I ("200", "4xx"), in BUF. */
const char *metrics_http_status_label(size_t i, char buf[8]);
unsigned long long metrics_http_requests(size_t series, size_t status_slot);
void metrics_http_duration(size_t series, struct metrics_hist *out);
unsigned long long metrics_http_unanswered(void);

/* Sweeps by trigger ("scheduler", "api", "other") and outcome ("ok",
 * "skipped", "failed"). */
#define METRICS_SWEEP_TRIGGERS 3
#define METRICS_SWEEP_OUTCOMES 3
extern const char *const metrics_sweep_triggers[METRICS_SWEEP_TRIGGERS];
extern const char *const metrics_sweep_outcomes[METRICS_SWEEP_OUTCOMES];
void metrics_sweep_duration(size_t trigger, size_t outcome, struct metrics_hist *out);

/* Threads whose connection is open (OPEN = 1) or down (0). */
long long metrics_db_connections(int open);
/* Connection attempts that succeeded (OK = 1) or failed (0). */
unsigned long long metrics_db_connect_attempts(int ok);

#endif
