/* How connections are spread over the server's workers and counted
 * (src/http/acceptor.c, hand_over in src/http/server.c): a request held up
 * in its handler does not hold up new clients, and ARC_PER_IP_LIMIT counts
 * an address's connections across all workers.  Raw sockets from chosen
 * loopback addresses (127.0.x.y), so each part knows whose connections it
 * counts. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define PER_IP_LIMIT 3

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
  struct racer held = {.who = ROLE_ADMIN};
  snprintf(held.url, sizeof held.url, "%s/v1/customers", harness_base());
  snprintf(held.body, sizeof held.body, "{\"name\": \"Held Up Co\"}");
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, racer_run, &held), 0);
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
  assert_int_equal(held.done, 0); /* still held: the clients above did not wait for it */
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

int main(void)
{
  char limit[16];
  snprintf(limit, sizeof limit, "%d", PER_IP_LIMIT);
  setenv("ARC_PER_IP_LIMIT", limit, 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(held_request_holds_up_no_new_client),
      cmocka_unit_test(per_ip_limit_across_workers),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
