/* The HTTP server: worker threads (one libmicrohttpd daemon each) serving
 * the route table, fed connections by one accepting thread. */
#ifndef ARC_SERVER_H
#define ARC_SERVER_H

#include <stdint.h>

#include "arc/config.h"
#include "arc/router.h"

struct server;

/* Starts serving ROUTES with the settings in CFG (port 0 picks a free
 * port).  NULL on failure, logged. */
struct server *server_start(const struct config *cfg, const struct route *routes, size_t n_routes);
uint16_t server_port(const struct server *s);
/* Requests being handled now (not idle keep-alive connections). */
unsigned server_in_flight(const struct server *s);
/* Stops accepting, waits up to GRACE_MS for in-flight requests, stops. */
void server_stop(struct server *s, unsigned grace_ms);

#endif
