/* A worker's event loop (include/arc/event_loop.h says why it is ours). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arc/db.h"
#include "arc/event_loop.h"
#include "arc/log.h"

struct event_loop {
  struct MHD_Daemon *daemon;
  event_loop_refused refused;
  void *cls;
  int pipe[2]; /* hand-overs, written whole (smaller than PIPE_BUF); fd -1: stop */
  pthread_t thread;
  int resumed; /* event_loop_resume since the last pass (the loop's thread only) */
};

struct hand_over {
  int fd;
  socklen_t len;
  struct sockaddr_storage addr;
};
_Static_assert(sizeof(struct hand_over) <= PIPE_BUF, "a hand-over is written whole");

/* Adds the connections handed over; 1 when told to stop. */
static int take_hand_overs(struct event_loop *l)
{
  struct hand_over h[16];
  ssize_t n = read(l->pipe[0], h, sizeof h);
  if (n < 0)
    return errno != EINTR && errno != EAGAIN;
  for (size_t i = 0; i < (size_t)n / sizeof *h; i++) {
    if (h[i].fd < 0)
      return 1;
    if (MHD_add_connection(l->daemon, h[i].fd, (struct sockaddr *)&h[i].addr, h[i].len) != MHD_YES)
      l->refused(l->cls, h[i].fd, (struct sockaddr *)&h[i].addr);
  }
  return 0;
}

/* Before the thread ends: the reads still in flight are answered and
 * their requests go on, as libmicrohttpd may not stop with a request
 * suspended. */
static void finish_reads(struct event_loop *l)
{
  struct db *db = db_thread_existing();
  while (db && (db->batch_head || db->batch_syncs)) {
    db_batch_wait(db);
    MHD_run(l->daemon); /* a request resumed here may batch a read again */
  }
}

static void *run(void *arg)
{
  struct event_loop *l = arg;
  pthread_setname_np(pthread_self(), "arc-worker");
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_EPOLL_FD);
  struct pollfd fds[3] = {{.fd = info->epoll_fd, .events = POLLIN}, {.fd = l->pipe[0], .events = POLLIN},
                          {.fd = -1, .events = POLLIN}};
  for (;;) {
    /* Until a connection's idle timeout at the latest; 0 while one has
     * data waiting to be processed.  The worker's connection (created by
     * its first request) is watched while batched reads are due. */
    MHD_UNSIGNED_LONG_LONG ms;
    int timeout = MHD_get_timeout(l->daemon, &ms) == MHD_YES ? (ms > INT_MAX ? INT_MAX : (int)ms) : -1;
    struct db *db = db_thread_existing();
    fds[2].fd = db ? db_batch_socket(db) : -1;
    /* Answers libpq has already read (while it sent more) make the socket
     * look idle: then do not wait. */
    if ((fds[2].fd >= 0 && db_batch_buffered(db)) || l->resumed)
      timeout = 0;
    if (poll(fds, 3, timeout) < 0) {
      if (errno != EINTR) {
        log_error("event loop: poll: %s", strerror(errno)); /* ENOMEM: try again shortly */
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
      }
      continue;
    }
    if ((fds[1].revents & POLLIN) && take_hand_overs(l))
      break;
    if (fds[2].fd >= 0)
      db_batch_receive(db, 0);
    l->resumed = 0;
    MHD_run(l->daemon);
    /* The reads this pass's requests left, sent together; while a batch is
     * out, the next one gathers until its answers are in. */
    db = db_thread_existing();
    if (db && !db->batch_syncs)
      db_batch_flush(db);
  }
  finish_reads(l);
  return NULL;
}

struct event_loop *event_loop_start(struct MHD_Daemon *daemon, event_loop_refused refused, void *cls)
{
  struct event_loop *l = calloc(1, sizeof *l);
  if (!l)
    return NULL;
  l->daemon = daemon;
  l->refused = refused;
  l->cls = cls;
  /* The read end does not block: a poll that saw it readable and was
   * interrupted is read again only when it is. */
  if (!MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_EPOLL_FD) || pipe2(l->pipe, O_CLOEXEC) != 0) {
    free(l);
    return NULL;
  }
  if (fcntl(l->pipe[0], F_SETFL, O_NONBLOCK) != 0 || pthread_create(&l->thread, NULL, run, l) != 0) {
    close(l->pipe[0]);
    close(l->pipe[1]);
    free(l);
    return NULL;
  }
  return l;
}

/* Writes record H to the loop's pipe, whole; 0, or -1. */
static int put(struct event_loop *l, const struct hand_over *h)
{
  ssize_t n;
  do
    n = write(l->pipe[1], h, sizeof *h);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)sizeof *h ? 0 : -1;
}

int event_loop_hand_over(struct event_loop *l, int fd, const struct sockaddr *addr, socklen_t len)
{
  struct hand_over h = {.fd = fd, .len = len};
  if (len > sizeof h.addr)
    return -1;
  memcpy(&h.addr, addr, len);
  return put(l, &h);
}

void event_loop_resume(struct event_loop *l, struct MHD_Connection *conn)
{
  MHD_resume_connection(conn);
  l->resumed = 1;
}

void event_loop_stop(struct event_loop *l)
{
  if (!l)
    return;
  put(l, &(struct hand_over){.fd = -1});
  pthread_join(l->thread, NULL);
  close(l->pipe[0]);
  close(l->pipe[1]);
  free(l);
}
