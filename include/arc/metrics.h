/* Process metrics for GET /metrics (src/http/metrics.c), in Prometheus text
 * format.  The recorders below are called on hot paths by many threads:
 * they only add to fixed tables of C11 atomics, never allocate, never lock
 * and never touch the database.  Counters are per process (per instance);
 * values that live in the database are read once per scrape. */
#ifndef ARC_METRICS_H
#define ARC_METRICS_H

#include "arc/http.h"

struct route;

/* A monotonic clock in microseconds, for durations. */
long long metrics_clock_us(void);

/* One request answered: ROUTE is the matched route of arc_routes (NULL when
 * no route matched the path and method: 404, 405), METHOD as parsed (0 when
 * unknown), STATUS the reply's code (0 when none was sent: the client went
 * away first).  Server.c calls it once per request, in the completion
 * callback. */
void metrics_http_request(const struct route *route, enum http_method method, unsigned status,
                          long long duration_us);

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

#endif
