/* The server's open connections, watched (include/arc/conn_watch.h).
 *
 * A table indexed by descriptor, under one lock: taken when a connection
 * opens or closes, twice per request, and by the watcher every
 * WATCH_EVERY_MS.  Connections are ended by shutdown(2) on their socket,
 * never closed here: libmicrohttpd sees the end, closes it and tells
 * conn_watch_closed, before the descriptor is closed and can be reused, so
 * under the lock an open entry's descriptor is always that connection's. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "arc/conn_watch.h"

#define WATCH_EVERY_MS 250

enum state { CLOSED = 0, WAITING, ANSWERING, ENDING };

struct slot {
  uint8_t state;
  long long since_ms; /* when it began to wait */
};

struct conn_watch {
  pthread_mutex_t lock;
  struct slot *slots;
  unsigned max_fd;
  unsigned hi; /* above every descriptor opened so far: the scans stop there */
  unsigned header_timeout_ms;
  int stop; /* eventfd */
  pthread_t thread;
  struct pollfd *fds; /* the watcher's own: the waiting connections */
};

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Under the lock: ends connection FD (its socket shut down both ways). */
static void end_locked(struct conn_watch *w, int fd)
{
  w->slots[fd].state = ENDING;
  shutdown(fd, SHUT_RDWR);
}

/* One round: connections past the header deadline, and waiting ones whose
 * client has closed its side (it can send no more requests). */
static void watch_round(struct conn_watch *w)
{
  long long now = now_ms();
  unsigned n = 0;
  pthread_mutex_lock(&w->lock);
  for (unsigned fd = 0; fd < w->hi; fd++) {
    if (w->slots[fd].state != WAITING)
      continue;
    if (now - w->slots[fd].since_ms > (long long)w->header_timeout_ms)
      end_locked(w, (int)fd);
    else
      w->fds[n++] = (struct pollfd){.fd = (int)fd, .events = POLLRDHUP};
  }
  /* Under the lock, so no descriptor polled can be closed and reused meanwhile. */
  if (n > 0 && poll(w->fds, n, 0) > 0)
    for (unsigned i = 0; i < n; i++)
      if (w->fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR))
        end_locked(w, w->fds[i].fd);
  pthread_mutex_unlock(&w->lock);
}

static void *watch_loop(void *arg)
{
  struct conn_watch *w = arg;
  struct pollfd stop = {.fd = w->stop, .events = POLLIN};
  for (;;) {
    int rc = poll(&stop, 1, WATCH_EVERY_MS);
    if (rc > 0 || (rc < 0 && errno != EINTR))
      break;
    watch_round(w);
  }
  return NULL;
}

struct conn_watch *conn_watch_start(unsigned max_fd, unsigned header_timeout_ms)
{
  struct conn_watch *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->max_fd = max_fd;
  w->header_timeout_ms = header_timeout_ms;
  w->slots = calloc(max_fd, sizeof *w->slots);
  w->fds = calloc(max_fd, sizeof *w->fds);
  w->stop = eventfd(0, EFD_CLOEXEC);
  pthread_mutex_init(&w->lock, NULL);
  if (!w->slots || !w->fds || w->stop < 0 || pthread_create(&w->thread, NULL, watch_loop, w) != 0) {
    if (w->stop >= 0)
      close(w->stop);
    pthread_mutex_destroy(&w->lock);
    free(w->slots);
    free(w->fds);
    free(w);
    return NULL;
  }
  return w;
}

void conn_watch_stop(struct conn_watch *w)
{
  if (!w)
    return;
  uint64_t one = 1;
  ssize_t n = write(w->stop, &one, sizeof one);
  (void)n;
  pthread_join(w->thread, NULL);
  close(w->stop);
  pthread_mutex_destroy(&w->lock);
  free(w->slots);
  free(w->fds);
  free(w);
}

/* FD moves from state FROM to TO (and its wait starts now); in any other
 * state (ending, closed) it stays. */
static void set_state(struct conn_watch *w, int fd, enum state from, enum state to)
{
  if (fd < 0 || (unsigned)fd >= w->max_fd)
    return;
  pthread_mutex_lock(&w->lock);
  struct slot *s = &w->slots[fd];
  if (s->state == (uint8_t)from) {
    s->state = (uint8_t)to;
    s->since_ms = now_ms();
  }
  pthread_mutex_unlock(&w->lock);
}

int conn_watch_opened(struct conn_watch *w, int fd)
{
  if (fd < 0 || (unsigned)fd >= w->max_fd)
    return -1;
  pthread_mutex_lock(&w->lock);
  w->slots[fd] = (struct slot){.state = WAITING, .since_ms = now_ms()};
  if ((unsigned)fd >= w->hi)
    w->hi = (unsigned)fd + 1;
  pthread_mutex_unlock(&w->lock);
  return 0;
}

void conn_watch_request_began(struct conn_watch *w, int fd) { set_state(w, fd, WAITING, ANSWERING); }

void conn_watch_request_ended(struct conn_watch *w, int fd) { set_state(w, fd, ANSWERING, WAITING); }

void conn_watch_closed(struct conn_watch *w, int fd)
{
  if (fd < 0 || (unsigned)fd >= w->max_fd)
    return;
  pthread_mutex_lock(&w->lock);
  w->slots[fd].state = CLOSED;
  pthread_mutex_unlock(&w->lock);
}

int conn_watch_evict_oldest(struct conn_watch *w)
{
  int oldest = -1;
  pthread_mutex_lock(&w->lock);
  for (unsigned fd = 0; fd < w->hi; fd++)
    if (w->slots[fd].state == WAITING && (oldest < 0 || w->slots[fd].since_ms < w->slots[oldest].since_ms))
      oldest = (int)fd;
  if (oldest >= 0)
    end_locked(w, oldest);
  pthread_mutex_unlock(&w->lock);
  return oldest >= 0;
}
