/* Connections per client address (src/http/ip_limit.c): ARC_PER_IP_LIMIT,
 * counted across all of the server's workers. */
#ifndef ARC_IP_LIMIT_H
#define ARC_IP_LIMIT_H

#include <sys/socket.h>

struct ip_limit;

/* A table allowing at most PER_IP connections per address (0: no limit). */
struct ip_limit *ip_limit_new(unsigned per_ip);
void ip_limit_free(struct ip_limit *t);
/* Counts one more connection from ADDR's address (the port is ignored):
 * 1, or 0 when the address is at its limit (nothing counted).  Thread-safe. */
int ip_limit_take(struct ip_limit *t, const struct sockaddr *addr);
/* Counts one connection from ADDR's address less. */
void ip_limit_give(struct ip_limit *t, const struct sockaddr *addr);
/* The connections counted for ADDR's address now. */
unsigned ip_limit_count(struct ip_limit *t, const struct sockaddr *addr);

#endif
