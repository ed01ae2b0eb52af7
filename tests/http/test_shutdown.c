/* SIGTERM drains: the real arcollectd binary, run as a child process, stops
 * accepting connections, finishes the request it is reading, and exits 0
 * (under the sanitizers, 0 also means no leaks at exit).
 *
 * The request is made slow from the outside: its body is sent in two parts
 * and the last part only after SIGTERM, so it is in flight for certain. */
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define START_DEADLINE_S 30
#define EXIT_DEADLINE_S 20
#define LAST_PART_DELAY_MS 1000

static pid_t child = -1;

/* 1 when a TCP connection to PORT is refused (nothing listening). */
static int connection_refused(unsigned port)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
  int err = errno;
  close(fd);
  return rc != 0 && err == ECONNREFUSED;
}

/* ---- the slow request ---- */

struct slow {
  char url[128];
  char auth[256];
  const char *body;
  size_t len, sent, last_part;
  atomic_int first_part_sent; /* set by the reader: the request is under way */
  atomic_int term_sent;       /* set by the test: SIGTERM has been sent */
  long status;
  CURLcode rc;
  char *resp;
  size_t resp_len;
};
static struct slow slow_req; /* file scope: the teardown frees its reply */

/* Hands curl the body: all but the last part at once; the last part only
 * after SIGTERM went out, and a second later. */
static size_t slow_read(char *buf, size_t size, size_t nitems, void *ud)
{
  struct slow *s = ud;
  size_t cap = size * nitems, n;
  if (s->sent == 0) {
    n = s->len - s->last_part;
    if (n > cap)
      n = cap;
    memcpy(buf, s->body, n);
    s->sent += n;
    atomic_store(&s->first_part_sent, 1);
    return n;
  }
  if (s->sent < s->len) {
    double deadline = now_s() + 10;
    while (!atomic_load(&s->term_sent) && now_s() < deadline)
      sleep_ms(10);
    sleep_ms(LAST_PART_DELAY_MS);
    n = s->len - s->sent;
    if (n > cap)
      n = cap;
    memcpy(buf, s->body + s->sent, n);
    s->sent += n;
    return n;
  }
  return 0;
}

static size_t slow_write(char *ptr, size_t size, size_t n, void *ud)
{
  struct slow *s = ud;
  size_t len = size * n;
  s->resp = realloc(s->resp, s->resp_len + len + 1);
  memcpy(s->resp + s->resp_len, ptr, len);
  s->resp_len += len;
  s->resp[s->resp_len] = '\0';
  return len;
}

static void *slow_post(void *arg)
{
  struct slow *s = arg;
  CURL *c = curl_easy_init();
  struct curl_slist *hl = NULL;
  hl = curl_slist_append(hl, s->auth);
  hl = curl_slist_append(hl, "Content-Type: application/json");
  hl = curl_slist_append(hl, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, s->url);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, slow_read);
  curl_easy_setopt(c, CURLOPT_READDATA, s);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->len); /* Content-Length, not chunked */
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, slow_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  s->rc = curl_easy_perform(c);
  if (s->rc == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s->status);
  curl_slist_free_all(hl);
  curl_easy_cleanup(c);
  return NULL;
}

/* Starts the real binary (two worker threads, event loop POLL_MODE, 10 s
 * of grace) on a free port, its stderr in LOG_PATH, and waits until it
 * answers /healthz; returns the port. */
static unsigned start_child(const char *poll_mode, char *log_path, size_t size)
{
  const char *binary = getenv("ARC_TEST_BINARY");
  if (!binary || !*binary)
    fail_msg("ARC_TEST_BINARY is not set (tests/meson.build sets it to the arcollectd executable)");
  assert_non_null(getenv("DATABASE_URL")); /* set by harness_setup: the child shares the test database */

  unsigned port = free_port();
  char port_var[32], poll_var[32], url[128];
  snprintf(port_var, sizeof port_var, "ARC_PORT=%u", port);
  snprintf(poll_var, sizeof poll_var, "ARC_POLL=%s", poll_mode);
  const char *const extra[] = {port_var, "ARC_BIND=127.0.0.1", "ARC_SCHEDULER_INTERVAL_S=0", "ARC_THREADS=2",
                               "ARC_SHUTDOWN_GRACE_S=10", poll_var, NULL};
  snprintf(log_path, size, "/tmp/arc-shutdown-%d-%s.log", (int)getpid(), poll_mode);
  unlink(log_path);
  child = harness_spawn_server(binary, extra, log_path);
  assert_true(child > 0);

  /* Up: /healthz answers. */
  snprintf(url, sizeof url, "http://127.0.0.1:%u/healthz", port);
  double deadline = now_s() + START_DEADLINE_S;
  int status = 0;
  while (harness_get_status(url) != 200) {
    if (waitpid(child, &status, WNOHANG) == child) {
      child = -1;
      fail_msg("arcollectd exited before serving (status %d)", status);
    }
    if (now_s() > deadline)
      fail_msg("arcollectd did not answer /healthz within %d s", START_DEADLINE_S);
    sleep_ms(50);
  }

  return port;
}

/* The whole scenario with the child's event loop set to POLL_MODE. */
static void drain_scenario(const char *poll_mode)
{
  char log_path[96];
  unsigned port = start_child(poll_mode, log_path, sizeof log_path);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%u", port);
  double deadline;
  /* Started without a word from libmicrohttpd (its logger is the first
   * option: it used to warn "MHD_OPTION_EXTERNAL_LOGGER is not the first
   * option" at every start). */
  FILE *lf = fopen(log_path, "r");
  assert_non_null(lf);
  char line[2048];
  while (fgets(line, sizeof line, lf))
    if (strstr(line, "libmicrohttpd"))
      fail_msg("libmicrohttpd said at start: %s", line);
  fclose(lf);
  unlink(log_path);

  /* The slow request: creating an API key, the last bytes after SIGTERM. */
  free(slow_req.resp);
  memset(&slow_req, 0, sizeof slow_req);
  snprintf(slow_req.url, sizeof slow_req.url, "%s/v1/api-keys", base);
  snprintf(slow_req.auth, sizeof slow_req.auth, "Authorization: Bearer %s", tok(ROLE_ADMIN));
  slow_req.body = "{\"role\": \"viewer\", \"name\": \"created while stopping\"}";
  slow_req.len = strlen(slow_req.body);
  slow_req.last_part = 3;
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, slow_post, &slow_req), 0);
  deadline = now_s() + 10;
  while (!atomic_load(&slow_req.first_part_sent) && now_s() < deadline)
    sleep_ms(5);
  int started = atomic_load(&slow_req.first_part_sent);
  sleep_ms(300); /* the server has the headers and the first part */

  double term_at = now_s();
  int killed = kill(child, SIGTERM) == 0;
  atomic_store(&slow_req.term_sent, 1);

  /* While the slow request is still being read, new connections are
   * refused (allow the signal a moment to be taken). */
  int refused = 0;
  deadline = now_s() + 0.6;
  while (!refused && now_s() < deadline) {
    refused = connection_refused(port);
    if (!refused)
      sleep_ms(20);
  }
  double refused_at = now_s();

  pthread_join(th, NULL);
  double answered_at = now_s();
  int exit_status = 0;
  int exited = harness_wait_exit(child, EXIT_DEADLINE_S, &exit_status) == 0;
  if (!exited) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
  }
  child = -1;
  double exited_at = now_s();

  /* Now judge what was seen. */
  assert_true(started);
  assert_true(killed);
  if (slow_req.rc != CURLE_OK)
    fail_msg("the in-flight request failed: %s", curl_easy_strerror(slow_req.rc));
  if (slow_req.status != 201)
    fail_msg("the in-flight request got %ld, not 201: %s", slow_req.status, slow_req.resp ? slow_req.resp : "");
  assert_true(answered_at - term_at >= LAST_PART_DELAY_MS / 1000.0 * 0.9);
  json_t *doc = json_loads(slow_req.resp, 0, NULL);
  assert_non_null(doc);
  assert_non_null(jstr(doc, "key"));
  assert_int_equal(harness_sql_int("SELECT count(*) FROM api_keys WHERE key_id = '%s' AND role = 'viewer'",
                                   jstr(doc, "id")),
                   1);
  json_decref(doc);
  if (!refused)
    fail_msg("new connections were still accepted %.2f s after SIGTERM", refused_at - term_at);
  assert_true(refused_at < answered_at); /* refused while the slow request was in flight */
  if (!exited)
    fail_msg("arcollectd did not exit within %d s of SIGTERM", EXIT_DEADLINE_S);
  if (!WIFEXITED(exit_status) || WEXITSTATUS(exit_status) != 0)
    fail_msg("arcollectd exited with %s %d", WIFEXITED(exit_status) ? "status" : "signal",
             WIFEXITED(exit_status) ? WEXITSTATUS(exit_status) : WTERMSIG(exit_status));
  assert_true(exited_at - term_at < EXIT_DEADLINE_S);
  /* And it is gone: nothing listens any more. */
  assert_true(connection_refused(port));
}

static void sigterm_drains_epoll(void **state)
{
  (void)state;
  drain_scenario("epoll");
}

static void sigterm_drains_poll(void **state)
{
  (void)state;
  drain_scenario("poll");
}

/* ---- keep-alive writers across SIGTERM ---- */

#define WRITERS 8
#define WRITES_MAX 4096

struct writer {
  unsigned port;
  int run, id;
  char auth[256];
  atomic_int *stop_at_failure; /* set by the test once SIGTERM went out */
  int answered[WRITES_MAX];    /* the n of each write answered 201 */
  int n_answered, n_sent, n_refused;
  long last_status;
  char connection_header[32]; /* Connection: of the last 503, if any */
};

static size_t discard(char *ptr, size_t size, size_t n, void *ud)
{
  (void)ptr;
  (void)ud;
  return size * n;
}

static size_t connection_of(char *line, size_t size, size_t n, void *ud)
{
  struct writer *w = ud;
  size_t len = size * n;
  if (len > 12 && strncasecmp(line, "Connection:", 11) == 0)
    snprintf(w->connection_header, sizeof w->connection_header, "%.*s", (int)(len - 11), line + 11);
  return len;
}

/* Sends C's request; the answer's status, 0 when none came. */
static long perform_status(CURL *c)
{
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

/* Creates customers one after another on one keep-alive connection, each
 * named for the run, the writer and its number, until a request fails:
 * before SIGTERM none does; after it, the first refusal (503) or lost
 * connection ends the writer. */
static void *write_until_refused(void *arg)
{
  struct writer *w = arg;
  CURL *c = curl_easy_init();
  struct curl_slist *hl = curl_slist_append(NULL, w->auth);
  hl = curl_slist_append(hl, "Content-Type: application/json");
  char url[96], body[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/customers", w->port);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, connection_of);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, w);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  for (int n = 0; n < WRITES_MAX; n++) {
    snprintf(body, sizeof body, "{\"name\": \"sigterm-%d-%d-%d\"}", w->run, w->id, n);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    w->connection_header[0] = '\0';
    w->n_sent++;
    long status = w->last_status = perform_status(c);
    if (status == 201) {
      w->answered[w->n_answered++] = n;
      continue;
    }
    if (status == 503)
      w->n_refused++;
    break;
  }
  curl_slist_free_all(hl);
  curl_easy_cleanup(c);
  return NULL;
}

/* Reads one customer by id again and again on one keep-alive connection
 * (batched reads: include/arc/db.h) until a request is refused or its
 * connection ends; counts answers that are not that customer. */
#define READERS 8

struct reader {
  unsigned port;
  char auth[256];
  char id[32];
  char body[4096];
  size_t len;
  int n_ok, n_refused, n_wrong;
  long last_status;
};

static size_t keep_body(char *ptr, size_t size, size_t n, void *ud)
{
  struct reader *r = ud;
  size_t len = size * n, room = sizeof r->body - 1 - r->len;
  memcpy(r->body + r->len, ptr, len < room ? len : room);
  r->len += len < room ? len : room;
  r->body[r->len] = '\0';
  return len;
}

static void *read_until_refused(void *arg)
{
  struct reader *r = arg;
  CURL *c = curl_easy_init();
  struct curl_slist *hl = curl_slist_append(NULL, r->auth);
  char url[96], want[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/customers/%s", r->port, r->id);
  snprintf(want, sizeof want, "{\"id\":\"%s\"", r->id);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  for (;;) {
    r->len = 0;
    r->body[0] = '\0';
    long status = r->last_status = perform_status(c);
    if (status == 200) {
      if (strncmp(r->body, want, strlen(want)) == 0)
        r->n_ok++;
      else
        r->n_wrong++;
      continue;
    }
    if (status == 503)
      r->n_refused++;
    else if (status != 0)
      r->n_wrong++;
    break;
  }
  curl_slist_free_all(hl);
  curl_easy_cleanup(c);
  return NULL;
}

/* SIGTERM in the middle of a keep-alive write load (issue 15), with reads
 * beside it: every write that was committed was answered 201, and every
 * write answered 201 was committed; every read answered is its own; the writes after the signal are refused with 503 and
 * Connection: close before any work, or find the connection closed; and
 * the process exits as soon as the writes in flight are done, not at the
 * end of its 10 s of grace.  Three runs. */
static void sigterm_answers_every_committed_write(void **state)
{
  (void)state;
  for (int run = 0; run < 3; run++) {
    char log_path[96];
    unsigned port = start_child("epoll", log_path, sizeof log_path);
    static struct writer w[WRITERS];
    pthread_t th[WRITERS];
    /* Readers beside the writers: reads wait in batches when the signal
     * comes, and each is still answered with its own customer or refused. */
    static struct reader rd[READERS];
    pthread_t rth[READERS];
    for (int i = 0; i < READERS; i++) {
      memset(&rd[i], 0, sizeof rd[i]);
      rd[i].port = port;
      sql_customer(rd[i].id, "Read While Stopping");
      snprintf(rd[i].auth, sizeof rd[i].auth, "Authorization: Bearer %s", tok(ROLE_VIEWER));
      assert_int_equal(pthread_create(&rth[i], NULL, read_until_refused, &rd[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
      memset(&w[i], 0, sizeof w[i]);
      w[i].port = port;
      w[i].run = run;
      w[i].id = i;
      snprintf(w[i].auth, sizeof w[i].auth, "Authorization: Bearer %s", tok(ROLE_ADMIN));
      assert_int_equal(pthread_create(&th[i], NULL, write_until_refused, &w[i]), 0);
    }
    sleep_ms(400); /* writing on every connection */
    double term_at = now_s();
    assert_int_equal(kill(child, SIGTERM), 0);
    int exit_status = 0;
    int exited = harness_wait_exit(child, EXIT_DEADLINE_S, &exit_status) == 0;
    double exited_at = now_s();
    if (!exited) {
      kill(child, SIGKILL);
      waitpid(child, NULL, 0);
    }
    child = -1;
    for (int i = 0; i < WRITERS; i++)
      pthread_join(th[i], NULL);
    long long reads = 0;
    for (int i = 0; i < READERS; i++) {
      pthread_join(rth[i], NULL);
      if (rd[i].n_wrong)
        fail_msg("run %d reader %d: %d answers not its customer (last status %ld: %s)", run, i, rd[i].n_wrong,
                 rd[i].last_status, rd[i].body);
      reads += rd[i].n_ok;
    }
    assert_true(reads > READERS); /* the reads were on before the signal */
    unlink(log_path);
    if (!exited)
      fail_msg("run %d: arcollectd did not exit within %d s of SIGTERM", run, EXIT_DEADLINE_S);
    assert_true(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0);
    if (exited_at - term_at > 2.0)
      fail_msg("run %d: exited %.2f s after SIGTERM: it waited for more than the writes in flight", run,
               exited_at - term_at);

    long long answered = 0, refused = 0, sent = 0;
    for (int i = 0; i < WRITERS; i++) {
      answered += w[i].n_answered;
      refused += w[i].n_refused;
      sent += w[i].n_sent;
      /* What each writer's answers say was done is what is in the table:
       * the same count and the same last write. */
      long long rows = harness_sql_int("SELECT count(*) FROM customers WHERE name LIKE 'sigterm-%d-%d-%%'", run, i);
      if (rows != w[i].n_answered)
        fail_msg("run %d writer %d: %lld customers committed, %d answered 201 (last status %ld)", run, i, rows,
                 w[i].n_answered, w[i].last_status);
      if (w[i].n_answered)
        assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE name = 'sigterm-%d-%d-%d'", run, i,
                                         w[i].answered[w[i].n_answered - 1]),
                         1);
      if (w[i].last_status == 503)
        assert_true(strstr(w[i].connection_header, "close") != NULL);
    }
    print_message("run %d: %lld writes, %lld answered 201, %lld refused with 503, %lld reads; exit %.3f s after "
                  "SIGTERM\n",
                  run, sent, answered, refused, reads, exited_at - term_at);
    assert_true(answered > WRITERS); /* the load was on before the signal */
  }
}

/* A failed scenario may leave the child running and a reply unfreed. */
static int reap_child(void **state)
{
  (void)state;
  free(slow_req.resp);
  slow_req.resp = NULL;
  if (child > 0) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    child = -1;
  }
  return 0;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(sigterm_drains_epoll, reap_child),
      cmocka_unit_test_teardown(sigterm_drains_poll, reap_child),
      cmocka_unit_test_teardown(sigterm_answers_every_committed_write, reap_child),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
