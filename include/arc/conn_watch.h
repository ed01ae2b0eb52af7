/* The server's open connections, watched (src/http/conn_watch.c): each is
 * waiting for a request's headers or answering one.  A connection that
 * waits longer than the header deadline (a client dripping a header byte a
 * second resets any idle timer, and an idle keep-alive connection holds a
 * slot as well), or whose client has gone (libmicrohttpd 0.9.75 with epoll
 * notices only at its idle timeout), is shut down; when the server is full,
 * the connection that has waited longest makes room for a new one. */
#ifndef ARC_CONN_WATCH_H
#define ARC_CONN_WATCH_H

struct conn_watch;

/* Watches connections on descriptors below MAX_FD, closing those that wait
 * more than HEADER_TIMEOUT_MS for a request's headers.  NULL on failure. */
struct conn_watch *conn_watch_start(unsigned max_fd, unsigned header_timeout_ms);
void conn_watch_stop(struct conn_watch *w);

/* A connection accepted on FD: waiting for its first request.  0, or -1
 * when FD is beyond the table (the caller closes it). */
int conn_watch_opened(struct conn_watch *w, int fd);
/* Its request's headers are in: it is answering. */
void conn_watch_request_began(struct conn_watch *w, int fd);
/* Its answer went: waiting for the next request's headers. */
void conn_watch_request_ended(struct conn_watch *w, int fd);
/* It is closed (before its descriptor is): never touched again. */
void conn_watch_closed(struct conn_watch *w, int fd);
/* Shuts down the connection that has waited longest for a request, to make
 * room; 1 when there was one, 0 when every connection is answering. */
int conn_watch_evict_oldest(struct conn_watch *w);

#endif
