/* How GET /metrics (src/http/metrics_get.c) labels requests: the recorder
 * (metrics.h) counts numbered series, this says which number a request's
 * route and method have. */
#ifndef ARC_METRICS_GET_H
#define ARC_METRICS_GET_H

#include <stddef.h>

#include "arc/router.h"

/* The series of a request: ROUTE is the matched route of arc_routes (NULL
 * when no route matched the path and method: 404, 405), METHOD as parsed
 * (0 when unknown).  The server passes it to metrics_http_request once per
 * request, in the completion callback. */
size_t metrics_route_series(const struct route *route, enum http_method method);

#endif
