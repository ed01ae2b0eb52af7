/* The listening socket and its accepting thread (include/arc/acceptor.h). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "arc/acceptor.h"
#include "arc/log.h"

struct acceptor {
  int fd;   /* listening, non-blocking */
  int stop; /* eventfd: written once to stop the thread */
  unsigned port;
  acceptor_hand_over hand_over;
  void *cls;
  pthread_t thread;
};

static void *accept_loop(void *arg)
{
  struct acceptor *a = arg;
  struct pollfd fds[2] = {{.fd = a->fd, .events = POLLIN}, {.fd = a->stop, .events = POLLIN}};
  int starved = 0; /* out of descriptors or memory since the last accept */
  for (;;) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR)
      break;
    if (fds[1].revents)
      break;
    /* Everything queued, then back to waiting. */
    for (;;) {
      struct sockaddr_storage ss;
      socklen_t len = sizeof ss;
      int c = accept4(a->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c >= 0) {
        starved = 0;
        a->hand_over(a->cls, c, (struct sockaddr *)&ss, len);
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* Out of descriptors or memory: the connection stays queued; try
         * again shortly rather than spin on a socket that stays readable. */
        if (!starved++)
          log_error("accept: %s; retrying every 10 ms", strerror(errno));
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
      }
      break;
    }
  }
  return NULL;
}

struct acceptor *acceptor_start(const struct sockaddr *addr, socklen_t len, acceptor_hand_over hand_over,
                                void *cls)
{
  struct acceptor *a = calloc(1, sizeof *a);
  if (!a)
    return NULL;
  a->hand_over = hand_over;
  a->cls = cls;
  a->stop = -1;
  a->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int on = 1;
  if (a->fd < 0)
    goto fail;
  /* As before with libmicrohttpd's own socket: a restarted server binds at
   * once, and a new instance may listen beside the old during a handover. */
  if (setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      setsockopt(a->fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
    goto fail;
  if (addr->sa_family == AF_INET6 && setsockopt(a->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0)
    goto fail;
  if (bind(a->fd, addr, len) != 0 || listen(a->fd, SOMAXCONN) != 0)
    goto fail;
  struct sockaddr_storage bound;
  socklen_t blen = sizeof bound;
  if (getsockname(a->fd, (struct sockaddr *)&bound, &blen) != 0)
    goto fail;
  a->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&bound)->sin_port);
  a->stop = eventfd(0, EFD_CLOEXEC);
  if (a->stop < 0)
    goto fail;
  int rc = pthread_create(&a->thread, NULL, accept_loop, a);
  if (rc != 0) {
    errno = rc;
    goto fail;
  }
  return a;
fail:;
  int err = errno;
  if (a->fd >= 0)
    close(a->fd);
  if (a->stop >= 0)
    close(a->stop);
  free(a);
  errno = err;
  return NULL;
}

unsigned acceptor_port(const struct acceptor *a) { return a->port; }

void acceptor_stop(struct acceptor *a)
{
  if (!a)
    return;
  uint64_t one = 1;
  ssize_t w = write(a->stop, &one, sizeof one);
  (void)w;
  pthread_join(a->thread, NULL);
  /* Closing a listening socket resets the connections still queued on it:
   * their clients see a refusal at once instead of a hang. */
  close(a->fd);
  close(a->stop);
  free(a);
}
