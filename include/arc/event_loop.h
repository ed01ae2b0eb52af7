/* A worker's event loop in a thread of our own (src/http/event_loop.c).
 *
 * libmicrohttpd 0.9.75 runs an epoll daemon's loop in its own thread with
 * a blocking epoll_wait that it calls again whenever the last call filled
 * its 128 events: with 128 connections all waiting for answers it blocks
 * there, holding their requests, until the idle timeout.  Its poll() loop
 * has no such stall but serves connections in a fixed order, so under load
 * the last one answered in a round is not yet back when the next round
 * polls and waits two rounds every time (a collector's worklist: p90 17 ms,
 * p99 33 ms at 32 clients).  Here the daemon runs without a thread of its
 * own: this loop waits on its epoll descriptor and then lets it work
 * without blocking (MHD_run), so it serves connections in the order their
 * requests arrived and never waits while one is ready.  It also waits for
 * the answers of the worker's batched database reads (db.h), sends the
 * reads a pass of the daemon left, and lets their requests go on. */
#ifndef ARC_EVENT_LOOP_H
#define ARC_EVENT_LOOP_H

#include <sys/socket.h>

struct MHD_Connection;
struct MHD_Daemon;
struct event_loop;

/* Called in the loop's thread when the daemon refused a connection handed
 * over (it has closed the socket). */
typedef void (*event_loop_refused)(void *cls, int fd, const struct sockaddr *addr);

/* Starts the thread that runs DAEMON, started with MHD_USE_EPOLL and no
 * thread of its own.  NULL on failure. */
struct event_loop *event_loop_start(struct MHD_Daemon *daemon, event_loop_refused refused, void *cls);
/* Gives accepted socket FD from ADDR (LEN bytes) to the loop's thread,
 * which adds it to the daemon (libmicrohttpd adds connections only in the
 * thread that runs the daemon).  0, or -1 when it could not be handed over
 * (the caller still owns FD). */
int event_loop_hand_over(struct event_loop *l, int fd, const struct sockaddr *addr, socklen_t len);
/* Resumes CONN, a request suspended on this loop, in the loop's own
 * thread, and has the loop's next pass run the daemon without waiting:
 * libmicrohttpd's own wake-up for a resume did not always make the epoll
 * descriptor readable, so a resumed request could wait for unrelated
 * traffic, or for good when there was none. */
void event_loop_resume(struct event_loop *l, struct MHD_Connection *conn);
/* Ends the thread after the connections handed over so far are added; the
 * daemon is then the caller's to stop. */
void event_loop_stop(struct event_loop *l);

#endif
