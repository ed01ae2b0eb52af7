/* Which addresses a webhook may not reach unless ARC_WEBHOOK_ALLOW_PRIVATE=1
 * (src/integrate/internal_addr.c): the machine itself and the networks
 * around it, where a subscription could read or poke at what only the
 * server can reach (a database, a cloud's metadata service). */
#ifndef ARC_INTERNAL_ADDR_H
#define ARC_INTERNAL_ADDR_H

#include <sys/socket.h>

/* What kind of internal address SA is ("loopback", "private",
 * "link-local (cloud metadata among them)", ...), or NULL for a public
 * one.  IPv4 addresses mapped into IPv6 are judged as IPv4. */
const char *internal_addr_kind(const struct sockaddr *sa);

/* 1 when a webhook may not reach SA (LEN bytes): an internal address while
 * they are not allowed; WHY then says "<ip> is a <kind> address
 * (ARC_WEBHOOK_ALLOW_PRIVATE=1 allows it)".  0 when it may. */
int internal_addr_refused(const struct sockaddr *sa, socklen_t len, char *why, size_t size);

/* Whether webhooks may reach internal addresses (ARC_WEBHOOK_ALLOW_PRIVATE). */
void internal_addr_allow(int on);
int internal_addr_allowed(void);

#endif
