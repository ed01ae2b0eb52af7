/* How connections are spread over the server's workers, counted and
 * watched (src/http/acceptor.c, conn_watch.c, hand_over in server.c): a
 * request held up in its handler does not hold up new clients;
 * ARC_PER_IP_LIMIT counts an address's connections across all workers;
 * slow headers are cut off at ARC_HEADER_TIMEOUT_S; gone clients free their
 * slots at once; thousands of idle and slow connections leave the server
 * answering, and a full server makes room.  Raw sockets from chosen
 * loopback addresses (127.0.x.y), so each part knows whose connections it
 * counts. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define PER_IP_LIMIT 3
#define HEADER_TIMEOUT_S 2
#define CONN_LIMIT 3000
#define IDLE 2000
#define SLOW 300

/* A TCP connection to the server from source address FROM. */
static int connect_from(const char *from)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in src = {.sin_family = AF_INET};
  assert_int_equal(inet_pton(AF_INET, from, &src.sin_addr), 1);
  assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof src), 0);
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(harness_port())};
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof dst), 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

/* GET /healthz on FD: the answer's status, 0 when the connection was
 * closed without one (or none came within 5 s). */
static int healthz_on(int fd)
{
  static const char req[] = "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";
  if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
    return 0;
  char buf[2048];
  ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  int status = 0;
  return sscanf(buf, "HTTP/1.1 %d", &status) == 1 ? status : 0;
}

/* A customer created from 127.0.1.200 (not 127.0.0.1, where a contract
 * run's proxy holds connections of its own): its answer's status. */
struct held_post {
  int status;
  atomic_int done;
};

static void *post_customer(void *arg)
{
  struct held_post *h = arg;
  static const char body[] = "{\"name\": \"Held Up Co\"}";
  char req[512];
  int n = snprintf(req, sizeof req,
                   "POST /v1/customers HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                   tok(ROLE_ADMIN), sizeof body - 1, body);
  int fd = connect_from("127.0.1.200");
  struct timeval tv = {30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[256];
  if (send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
    ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
    if (got > 12) {
      buf[got] = '\0';
      sscanf(buf, "HTTP/1.1 %d", &h->status);
    }
  }
  close(fd);
  atomic_store(&h->done, 1);
  return NULL;
}

/* A client that connects while another request waits in its handler (for a
 * lock the test holds) is answered at once, every time: new connections go
 * to the workers that are free, not in turn to the held one too.  Eight new
 * clients with four workers: in plain turn, two would wait for the held
 * request. */
static void held_request_holds_up_no_new_client(void **state)
{
  (void)state;
  harness_sql("BEGIN");
  free(harness_sql("LOCK TABLE customers IN SHARE ROW EXCLUSIVE MODE"));
  struct held_post held = {.status = 0};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, post_customer, &held), 0);
  wait_for_lock_waiters(1);
  sleep_ms(50); /* past the time a handler counts as held up */
  for (int i = 0; i < 8; i++) {
    char from[32];
    snprintf(from, sizeof from, "127.0.1.%d", i + 1);
    double start = now_s();
    int fd = connect_from(from);
    int status = healthz_on(fd);
    double took = now_s() - start;
    close(fd);
    if (status != 200 || took > 0.5)
      fail_msg("client %d: status %d after %.3f s while a request was held", i, status, took);
  }
  assert_int_equal(atomic_load(&held.done), 0); /* still held: the clients above did not wait for it */
  free(harness_sql("COMMIT"));
  pthread_join(t, NULL);
  assert_int_equal(held.status, 201);
}

/* ARC_PER_IP_LIMIT (3 here) counts an address's connections on all four
 * workers together: the fourth from one address is closed unanswered,
 * another address is served, and a closed connection makes room again. */
static void per_ip_limit_across_workers(void **state)
{
  (void)state;
  int held[PER_IP_LIMIT];
  for (int i = 0; i < PER_IP_LIMIT; i++) {
    held[i] = connect_from("127.0.0.3");
    assert_int_equal(healthz_on(held[i]), 200);
  }
  int over = connect_from("127.0.0.3");
  assert_int_equal(healthz_on(over), 0);
  close(over);
  int other = connect_from("127.0.0.4");
  assert_int_equal(healthz_on(other), 200);
  close(other);

  close(held[0]);
  /* The server counts the connection out once its worker reads the end. */
  int status = 0;
  for (int i = 0; i < 100 && status != 200; i++) {
    int fd = connect_from("127.0.0.3");
    status = healthz_on(fd);
    close(fd);
    if (status != 200)
      sleep_ms(20);
  }
  assert_int_equal(status, 200);
  for (int i = 1; i < PER_IP_LIMIT; i++)
    close(held[i]);
}

/* The N-th of many connections' source address: PER_IP_LIMIT connections
 * each from 127.0.<10 + k / 250>.<1 + k % 250>. */
static void many_from(int n, char *out, size_t size)
{
  int k = n / PER_IP_LIMIT;
  snprintf(out, size, "127.0.%d.%d", 10 + k / 250, 1 + k % 250);
}

/* 1 when the server has ended the connection on FD (its end read, or the
 * socket reset), within MS milliseconds. */
static int ended_by_server(int fd, int ms)
{
  struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
  if (poll(&p, 1, ms) <= 0)
    return 0;
  char b[512];
  ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* /healthz and an API read, each on a new connection from FROM: 200 both,
 * each within a second. */
static void still_answering(const char *from)
{
  double start = now_s();
  int fd = connect_from(from);
  int status = healthz_on(fd);
  close(fd);
  if (status != 200 || now_s() - start > 1.0)
    fail_msg("/healthz from %s: %d after %.3f s", from, status, now_s() - start);
  start = now_s();
  fd = connect_from(from);
  char req[512];
  int n = snprintf(req, sizeof req, "GET /v1/customers?limit=1 HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\n\r\n",
                   tok(ROLE_VIEWER));
  assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
  char buf[256];
  ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
  close(fd);
  if (got < 12 || strncmp(buf, "HTTP/1.1 200", 12) != 0 || now_s() - start > 1.0)
    fail_msg("GET /v1/customers from %s: %.12s after %.3f s", from, got > 0 ? buf : "(nothing)", now_s() - start);
}

/* A client that sends its headers a byte at a time never lets an idle
 * timer run out; ARC_HEADER_TIMEOUT_S (2 s here) ends it all the same,
 * counted from the connection's opening. */
static void slow_headers_cut_off(void **state)
{
  (void)state;
  enum { N = 20 };
  static const char head[] = "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: ";
  int fds[N];
  double ended_at[N] = {0}, start = now_s();
  for (int i = 0; i < N; i++) {
    char from[32];
    snprintf(from, sizeof from, "127.0.3.%d", i + 1);
    fds[i] = connect_from(from);
  }
  int open = N;
  for (int round = 0; open > 0 && now_s() - start < HEADER_TIMEOUT_S + 3; round++) {
    for (int i = 0; i < N; i++) {
      if (ended_at[i] > 0)
        continue;
      char byte = round < (int)sizeof head - 1 ? head[round] : 'x';
      ssize_t sent = send(fds[i], &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent < 0 || ended_by_server(fds[i], 0)) {
        ended_at[i] = now_s() - start;
        open--;
      }
    }
    sleep_ms(100); /* ten bytes a second: never 2 s idle */
  }
  for (int i = 0; i < N; i++) {
    close(fds[i]);
    if (ended_at[i] == 0)
      fail_msg("slow client %d still connected %.1f s after opening", i, now_s() - start);
    if (ended_at[i] < HEADER_TIMEOUT_S - 0.3)
      fail_msg("slow client %d cut off after %.2f s, before the deadline", i, ended_at[i]);
  }
  still_answering("127.0.3.200");
}

/* Counts the server's sockets in CLOSE-WAIT (their client gone, the
 * server not yet closed): /proc/net/tcp, local port the server's. */
static int close_wait_count(void)
{
  FILE *f = fopen("/proc/net/tcp", "r");
  assert_non_null(f);
  char line[512];
  int n = 0;
  unsigned port = harness_port();
  while (fgets(line, sizeof line, f)) {
    unsigned local_port, st;
    if (sscanf(line, " %*d: %*8x:%x %*8x:%*x %x", &local_port, &st) == 2 && local_port == port && st == 0x08)
      n++;
  }
  fclose(f);
  return n;
}

/* Clients that had a request answered and went away free their slots at
 * once: no socket of the server waits in CLOSE-WAIT for an idle timer
 * (libmicrohttpd 0.9.75 with epoll noticed only at its timeout, 30 s). */
static void gone_clients_free_their_slots(void **state)
{
  (void)state;
  enum { N = 60 };
  int fds[N];
  for (int i = 0; i < N; i++) {
    char from[32];
    snprintf(from, sizeof from, "127.0.5.%d", i + 1);
    fds[i] = connect_from(from);
    assert_int_equal(healthz_on(fds[i]), 200);
  }
  sleep_ms(100);
  for (int i = 0; i < N; i++)
    close(fds[i]);
  double start = now_s();
  int left = close_wait_count();
  while (left > 0 && now_s() - start < 3.0) {
    sleep_ms(50);
    left = close_wait_count();
  }
  if (left > 0)
    fail_msg("%d server sockets still in CLOSE-WAIT 3 s after their clients left", left);
  print_message("CLOSE-WAIT gone %.2f s after %d clients left\n", now_s() - start, N);
}

/* 2,000 idle connections and 300 slow ones, from many addresses, leave
 * /healthz and an API read answering within a second from another address;
 * the slow ones are cut off at the header deadline, and once the server is
 * full (ARC_CONN_LIMIT 3,000 here), a new client still gets in: the
 * connection that has waited longest makes room. */
static void crowds_leave_room(void **state)
{
  (void)state;
  enum { FILL = CONN_LIMIT - IDLE - SLOW };
  /* Both ends of CONN_LIMIT connections live in this process. */
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 2 * CONN_LIMIT + 1024) {
    print_message("skipped: %llu file descriptors allowed, %d needed\n", (unsigned long long)rl.rlim_cur,
                  2 * CONN_LIMIT + 1024);
    skip();
  }
  static int fds[IDLE + SLOW + FILL];
  int n = 0;
  for (; n < IDLE + SLOW; n++) {
    char from[32];
    many_from(n, from, sizeof from);
    fds[n] = connect_from(from);
    if (n >= IDLE)
      assert_int_equal(send(fds[n], "GET /healthz HTTP/1.1\r\nHo", 26, MSG_NOSIGNAL), 26);
  }
  still_answering("127.0.6.1");
  /* The slow ones end at their deadline; the idle ones too (they have had
   * no request either): the server is empty again. */
  sleep_ms((HEADER_TIMEOUT_S + 1) * 1000);
  int ended = 0;
  for (int i = 0; i < n; i++)
    ended += ended_by_server(fds[i], 0);
  if (ended != n)
    fail_msg("%d of %d waiting connections still open after the header deadline", n - ended, n);
  for (int i = 0; i < n; i++)
    close(fds[i]);

  /* Full: the first of CONN_LIMIT idle connections makes room for a new one. */
  for (n = 0; n < CONN_LIMIT; n++) {
    char from[32];
    many_from(n, from, sizeof from);
    fds[n] = connect_from(from);
  }
  sleep_ms(200); /* all handed over */
  still_answering("127.0.6.2");
  assert_true(ended_by_server(fds[0], 1000));
  for (int i = 0; i < n; i++)
    close(fds[i]);
}

/* Whether BUF (LEN bytes) holds one whole answer (headers and the
 * Content-Length body); its status in *STATUS. */
static int answer_complete(const char *buf, size_t len, int *status)
{
  const char *end = strstr(buf, "\r\n\r\n");
  if (!end)
    return 0;
  const char *cl = strcasestr(buf, "\r\nContent-Length:");
  size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
  if (len < (size_t)(end + 4 - buf) + body)
    return 0;
  *status = 0;
  sscanf(buf, "HTTP/1.1 %d", status);
  return 1;
}

/* 256 keep-alive clients reading from the database as fast as they are
 * answered (as wrk does), three times 3 s on two workers: every client is
 * answered again and again, and a client after them too.  libmicrohttpd 0.9.75's epoll loop in its
 * own thread left connections of such a crowd unprocessed: 200-600 answers
 * a second instead of 20,000, then none for a new client (128 connections
 * a worker, all waiting: include/arc/event_loop.h); the server's own loop
 * (ARC_POLL=epoll, the default) and poll() both serve them. */
/* ROUND's clients come from addresses of their own: the server may not yet
 * have seen the last round's clients go when the next connect, and three
 * share an address (PER_IP_LIMIT). */
static void crowd_once(int round)
{
  enum { N = 256, MIN_EACH = 5 };
  static int fds[N], answered[N];
  static size_t have[N];
  static char buf[N][4096];
  struct pollfd pf[N];
  char req[512];
  int len = snprintf(req, sizeof req, "GET /v1/customers?limit=1 HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\n\r\n",
                     tok(ROLE_VIEWER));
  for (int i = 0; i < N; i++) {
    char from[32];
    many_from(3000 + round * 3 * ((N + 2) / 3) + i, from, sizeof from); /* no address shared across rounds */
    fds[i] = connect_from(from);
    answered[i] = 0;
    have[i] = 0;
    pf[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    assert_int_equal(send(fds[i], req, (size_t)len, MSG_NOSIGNAL), len);
  }
  double start = now_s();
  long total = 0;
  while (now_s() - start < 3.0) {
    if (poll(pf, N, 100) <= 0)
      continue;
    for (int i = 0; i < N; i++) {
      if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      ssize_t n = recv(fds[i], buf[i] + have[i], sizeof buf[i] - 1 - have[i], MSG_DONTWAIT);
      if (n <= 0)
        fail_msg("client %d: connection ended after %d answers, %.2f s in (%s)", i, answered[i], now_s() - start,
                 n < 0 ? strerror(errno) : "closed");
      have[i] += (size_t)n;
      buf[i][have[i]] = '\0';
      int status;
      if (!answer_complete(buf[i], have[i], &status))
        continue;
      if (status != 200)
        fail_msg("client %d: %d", i, status);
      answered[i]++;
      total++;
      have[i] = 0;
      assert_int_equal(send(fds[i], req, (size_t)len, MSG_NOSIGNAL), len);
    }
  }
  int least = answered[0];
  for (int i = 0; i < N; i++) {
    close(fds[i]);
    if (answered[i] < least)
      least = answered[i];
  }
  print_message("%ld answers to %d keep-alive clients in 3 s, at least %d each\n", total, N, least);
  if (least < MIN_EACH)
    fail_msg("a client had %d answers in 3 s (of %ld in all)", least, total);
  still_answering("127.0.6.3");
}

static void crowd_of_keep_alive_readers(void **state)
{
  (void)state;
  for (int i = 0; i < 3; i++)
    crowd_once(i);
}

int main(void)
{
  char limit[16], timeout[16], conns[16];
  snprintf(limit, sizeof limit, "%d", PER_IP_LIMIT);
  setenv("ARC_PER_IP_LIMIT", limit, 1);
  snprintf(timeout, sizeof timeout, "%d", HEADER_TIMEOUT_S);
  setenv("ARC_HEADER_TIMEOUT_S", timeout, 1);
  snprintf(conns, sizeof conns, "%d", CONN_LIMIT);
  setenv("ARC_CONN_LIMIT", conns, 1);
  /* Two workers, as on the benchmark machine: each holds more clients. */
  setenv("ARC_THREADS", "2", 1);
  /* This process holds both ends of every connection. */
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(held_request_holds_up_no_new_client),
      cmocka_unit_test(per_ip_limit_across_workers),
      cmocka_unit_test(slow_headers_cut_off),
      cmocka_unit_test(gone_clients_free_their_slots),
      cmocka_unit_test(crowds_leave_room),
      cmocka_unit_test(crowd_of_keep_alive_readers),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
