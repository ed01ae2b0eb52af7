/* Batched reads (include/arc/db.h): a worker sends the reads of the
 * requests it has ready together and hands the answers back in order.
 * Every client must get the answer to its own request, also when writes
 * come between the reads, when a read of the batch fails, and when the
 * database connection is lost with reads in flight.  One worker, so that
 * the requests sent at once share its batch.  The first test drives the
 * batch directly, where what shares a batch is certain. */
#include "harness.h"

#include "arc/db.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define INVOICES 24

static char invoices[INVOICES][32];

static int connect_server(void)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(harness_port())};
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof dst), 0);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static void send_get(int fd, const char *path)
{
  char req[512];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\n\r\n", path,
                   tok(ROLE_ADMIN));
  assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
}

static void send_post(int fd, const char *path, const char *body)
{
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "POST %s HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                   path, tok(ROLE_ADMIN), strlen(body), body);
  assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
}

/* One answer on FD: its status, its body parsed (decref it), 0 when the
 * connection ended or nothing came within 10 s. */
static int read_answer(int fd, json_t **body)
{
  static char buf[65536];
  size_t have = 0;
  *body = NULL;
  for (;;) {
    ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
    if (n <= 0)
      return 0;
    have += (size_t)n;
    buf[have] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (!end)
      continue;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    size_t len = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    if (have < (size_t)(end + 4 - buf) + len)
      continue;
    int status = 0;
    sscanf(buf, "HTTP/1.1 %d", &status);
    *body = json_loadb(end + 4, len, 0, NULL);
    return status;
  }
}

/* An invoice of the set, or (one in eight) an id that is none. */
static const char *pick(unsigned *seed, char unknown[32])
{
  unsigned k = (unsigned)rand_r(seed);
  if (k % 8 == 0) {
    snprintf(unknown, 32, "%u", 900000000u + k % 1000u);
    return unknown;
  }
  return invoices[k % INVOICES];
}

/* Checks the answer to GET /v1/invoices/ID: 200 with that invoice, or 404
 * naming it for an id that is none.  Returns the status. */
static int check_invoice_answer(int status, json_t *body, const char *id, int known)
{
  if (known) {
    if (status != 200 || !body || strcmp(jstr(body, "id"), id) != 0)
      fail_msg("GET /v1/invoices/%s: %d with id %s", id, status, body ? jstr(body, "id") : "(none)");
  } else if (status != 404 || !body || !strstr(jstr(body, "detail"), id)) {
    fail_msg("GET /v1/invoices/%s (none): %d %s", id, status, body ? jstr(body, "detail") : "");
  }
  return status;
}

/* 48 keep-alive clients, each asking for one invoice after another as soon
 * as it has its answer, and every fourth creating a customer in between (a
 * write on the worker's connection while reads are in flight): each answer
 * is the one asked for. */
static void every_answer_is_its_own(void **state)
{
  (void)state;
  enum { N = 48 };
  int fds[N], writes = 0;
  long answers = 0;
  char asked[N][32];
  int known[N], posting[N];
  unsigned seed = 7;
  struct pollfd pf[N];
  for (int i = 0; i < N; i++) {
    fds[i] = connect_server();
    pf[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    char unknown[32];
    const char *id = pick(&seed, unknown);
    snprintf(asked[i], sizeof asked[i], "%s", id);
    known[i] = id != unknown;
    posting[i] = 0;
    char path[64];
    snprintf(path, sizeof path, "/v1/invoices/%s", id);
    send_get(fds[i], path);
  }
  double start = now_s();
  while (now_s() - start < 2.0) {
    if (poll(pf, N, 1000) <= 0)
      continue;
    for (int i = 0; i < N; i++) {
      if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      json_t *body;
      int status = read_answer(fds[i], &body);
      if (posting[i]) {
        if (status != 201 || !body || !jstr(body, "id")[0])
          fail_msg("client %d: POST /v1/customers answered %d", i, status);
        writes++;
      } else {
        check_invoice_answer(status, body, asked[i], known[i]);
      }
      json_decref(body);
      answers++;
      posting[i] = i % 4 == 0 && !posting[i];
      if (posting[i]) {
        send_post(fds[i], "/v1/customers", "{\"name\": \"Between Reads Co\"}");
        continue;
      }
      char unknown[32], path[64];
      const char *id = pick(&seed, unknown);
      snprintf(asked[i], sizeof asked[i], "%s", id);
      known[i] = id != unknown;
      snprintf(path, sizeof path, "/v1/invoices/%s", id);
      send_get(fds[i], path);
    }
  }
  for (int i = 0; i < N; i++)
    close(fds[i]);
  print_message("%ld answers, %d of them writes, in 2 s\n", answers, writes);
  assert_true(answers > 10 * N);
  assert_true(writes > 0);
}

/* Sends GET PATH on a new connection for each of N paths at once, then
 * reads the answers: their statuses and bodies in STATUS and BODY. */
static void burst(size_t n, char paths[][64], int *status, json_t **body)
{
  int fds[16];
  assert_true(n <= 16);
  for (size_t i = 0; i < n; i++)
    fds[i] = connect_server();
  for (size_t i = 0; i < n; i++)
    send_get(fds[i], paths[i]);
  for (size_t i = 0; i < n; i++) {
    status[i] = read_answer(fds[i], &body[i]);
    close(fds[i]);
  }
}

/* A read that fails (its table locked past lock_timeout) answers 503 with
 * Retry-After, and the reads sent with it, which PostgreSQL skips after a
 * failure in the batch, are run again and answered rightly. */
static void a_failed_read_leaves_its_batch_answered(void **state)
{
  (void)state;
  char hook[32], paths[9][64];
  char *id = harness_sql("INSERT INTO webhooks (url, event_types, secret) VALUES ('https://example.com/h', "
                         "'{*}', 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA') RETURNING id");
  assert_non_null(id);
  snprintf(hook, sizeof hook, "%s", id);
  free(id);
  free(harness_sql("BEGIN"));
  free(harness_sql("LOCK TABLE webhooks IN ACCESS EXCLUSIVE MODE"));
  snprintf(paths[0], sizeof paths[0], "/v1/webhooks/%s", hook);
  for (int i = 1; i < 9; i++)
    snprintf(paths[i], sizeof paths[i], "/v1/invoices/%.31s", invoices[i]);
  int status[9];
  json_t *body[9];
  burst(9, paths, status, body);
  free(harness_sql("ROLLBACK"));
  if (status[0] != 503 || strcmp(jstr(body[0], "type"), "urn:arcollect:problem:unavailable") != 0)
    fail_msg("the read of a locked table: %d %s", status[0], body[0] ? jstr(body[0], "type") : "");
  for (int i = 1; i < 9; i++)
    check_invoice_answer(status[i], body[i], invoices[i], 1);
  for (int i = 0; i < 9; i++)
    json_decref(body[i]);
  /* The worker's connection is fine afterwards. */
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/webhooks/%s", hook);
  assert_status(&r, 200);
  http_resp_clear(&r);
}

/* The database connection is lost while reads wait in it: each of them
 * answers 503 (nothing hangs), and the next requests are served on a new
 * connection. */
static void lost_connection_answers_every_read(void **state)
{
  (void)state;
  char paths[6][64];
  free(harness_sql("BEGIN"));
  free(harness_sql("LOCK TABLE invoices IN ACCESS EXCLUSIVE MODE"));
  for (int i = 0; i < 6; i++)
    snprintf(paths[i], sizeof paths[i], "/v1/invoices/%.31s", invoices[i]);
  int fds[6];
  for (int i = 0; i < 6; i++) {
    fds[i] = connect_server();
    send_get(fds[i], paths[i]);
  }
  wait_for_lock_waiters(1);
  free(harness_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE application_name = 'arcollectd' AND wait_event_type = 'Lock'"));
  free(harness_sql("ROLLBACK"));
  int unavailable = 0;
  for (int i = 0; i < 6; i++) {
    json_t *body;
    int status = read_answer(fds[i], &body);
    close(fds[i]);
    if (status != 503 && status != 200)
      fail_msg("GET %s with its connection lost: %d", paths[i], status);
    if (status == 200)
      check_invoice_answer(status, body, invoices[i], 1);
    unavailable += status == 503;
    json_decref(body);
  }
  /* The read that waited was cut off (reads after it may have come on the
   * next connection); the server connects again for the next requests. */
  assert_true(unavailable >= 1);
  struct http_resp r = {0};
  for (int tries = 0; tries < 100; tries++) {
    if (httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/invoices/%s", invoices[0]) == 200)
      break;
    sleep_ms(50);
  }
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "id"), invoices[0]);
  http_resp_clear(&r);
}

/* The batch itself, on a connection of its own: a read that fails makes
 * PostgreSQL skip the rest of its batch (up to its Sync), which is handed
 * back marked aborted, in order; a batch sent after that Sync runs; the
 * connection serves again afterwards. */
static const struct db_stmt probe_stmts[] = {
    {"probe_plus_one", "SELECT $1::int + 1"},
    {"probe_divide", "SELECT 1 / $1::int"},
    {NULL, NULL},
};

static void count_answer(struct db_read *rd) { (*(int *)rd->cls)++; }

static void a_failed_read_aborts_the_rest_of_its_batch(void **state)
{
  (void)state;
  const struct db_stmt *const lists[] = {probe_stmts, NULL};
  struct db *db = db_open(lists);
  assert_non_null(db);
  struct db_read rd[4] = {{0}};
  int answered = 0;
  for (int i = 0; i < 4; i++) {
    rd[i].done = count_answer;
    rd[i].cls = &answered;
  }
  const char *one[] = {"1"}, *zero[] = {"0"};
  assert_int_equal(db_batch_send(db, &rd[0], "probe_plus_one", 1, one), 0);
  assert_int_equal(db_batch_send(db, &rd[1], "probe_divide", 1, zero), 0);
  assert_int_equal(db_batch_send(db, &rd[2], "probe_plus_one", 1, one), 0);
  db_batch_flush(db);
  assert_int_equal(db_batch_send(db, &rd[3], "probe_plus_one", 1, one), 0);
  db_batch_wait(db);
  assert_int_equal(answered, 4);
  assert_non_null(rd[0].result);
  assert_string_equal(PQgetvalue(rd[0].result, 0, 0), "2");
  assert_null(rd[1].result);
  assert_string_equal(rd[1].err.sqlstate, "22012"); /* division by zero */
  assert_null(rd[2].result);
  assert_true(rd[2].aborted);
  assert_non_null(rd[3].result);
  assert_string_equal(PQgetvalue(rd[3].result, 0, 0), "2");
  for (int i = 0; i < 4; i++)
    db_read_clear(&rd[i]);
  PGresult *r = db_exec(db, "probe_plus_one", 1, one);
  assert_non_null(r);
  assert_string_equal(PQgetvalue(r, 0, 0), "2");
  PQclear(r);
  db_close(db);
}

static int setup(void **state)
{
  if (harness_setup(state) != 0)
    return -1;
  char cust[32];
  sql_customer(cust, "Batched Reads Ltd");
  for (int i = 0; i < INVOICES; i++)
    sql_invoice(invoices[i], .customer = cust, .amount = 1000 + i);
  return 0;
}

int main(void)
{
  /* One worker: requests sent together share its batch. */
  setenv("ARC_THREADS", "1", 1);
  /* A read waiting for a lock fails after half of it (lock_timeout). */
  setenv("ARC_STATEMENT_TIMEOUT_MS", "1000", 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_failed_read_aborts_the_rest_of_its_batch),
      cmocka_unit_test(every_answer_is_its_own),
      cmocka_unit_test(a_failed_read_leaves_its_batch_answered),
      cmocka_unit_test(lost_connection_answers_every_read),
  };
  return cmocka_run_group_tests(tests, setup, harness_teardown);
}
