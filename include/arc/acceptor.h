/* The listening socket and the thread that accepts on it (src/http/acceptor.c).
 *
 * libmicrohttpd's thread pool accepts in whichever worker wakes first, up
 * to ten connections at a time, so a burst of new clients can land on one
 * worker while another idles: each worker answers its own connections one
 * request at a time, so theirs wait twice as long.  Accepting in one thread
 * of our own lets the server choose the worker of every connection
 * (hand_over in src/http/server.c). */
#ifndef ARC_ACCEPTOR_H
#define ARC_ACCEPTOR_H

#include <sys/socket.h>

struct acceptor;

/* Called in the acceptor's thread with each accepted socket, which it owns
 * from then on (closes it, or hands it on). */
typedef void (*acceptor_hand_over)(void *cls, int fd, const struct sockaddr *addr, socklen_t len);

/* Listens on ADDR (port 0: a free one) and starts accepting.  NULL on
 * failure, with errno set. */
struct acceptor *acceptor_start(const struct sockaddr *addr, socklen_t len, acceptor_hand_over hand_over,
                                void *cls);
/* The port it listens on. */
unsigned acceptor_port(const struct acceptor *a);
/* Stops accepting and refuses connections the kernel has queued; returns
 * once the thread has ended and the socket is closed. */
void acceptor_stop(struct acceptor *a);

#endif
