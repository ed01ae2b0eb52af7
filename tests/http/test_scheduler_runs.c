/* Scheduler runs: POST /v1/scheduler/runs sweeps now (waiting for a sweep
 * in progress), GET lists and reads runs; the scheduler thread of the real
 * arcollectd binary sweeps at start and every interval, skips while
 * another instance sweeps, and stops cleanly on SIGTERM.  Of several
 * sweepers against one database exactly one sweeps at a time, and a sweep
 * repeated for the same as_of creates nothing new.
 *
 * To see sweeps overlap when the lock fails, a test trigger makes each
 * sweep last a while (pg_sleep when its run row is inserted, so inside
 * [started_at, finished_at]). */
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "arc/db.h"
#include "arc/http.h"
#include "arc/sweep.h"

extern char **environ;

/* lock_timeout is half of it: a sweep waits 1.5 s for the lock, then 503. */
#define STATEMENT_TIMEOUT_MS "3000"
#define LOCK_TIMEOUT_S 1.5

/* ---- helpers ---- */

/* Every sweep lasts at least SECS from its start (0 = back to normal). */
static void slow_sweeps(double secs)
{
  if (secs <= 0) {
    harness_sql("DROP TRIGGER IF EXISTS test_slow_sweep ON scheduler_runs");
    return;
  }
  harness_sql("CREATE OR REPLACE FUNCTION test_slow_sweep() RETURNS trigger LANGUAGE plpgsql AS "
              "$$ BEGIN PERFORM pg_sleep(%g); RETURN NEW; END $$",
              secs);
  harness_sql("CREATE OR REPLACE TRIGGER test_slow_sweep BEFORE INSERT ON scheduler_runs "
              "FOR EACH ROW EXECUTE FUNCTION test_slow_sweep()");
}

/* Pairs of runs whose [started_at, finished_at] intersect. */
static long long overlapping_runs(void)
{
  return harness_sql_int("SELECT count(*) FROM scheduler_runs a JOIN scheduler_runs b ON a.id < b.id "
                         "WHERE tstzrange(a.started_at, a.finished_at, '[]') && "
                         "tstzrange(b.started_at, b.finished_at, '[]')");
}

/* Open (or snoozed) follow-ups that exist twice for one customer and reason. */
static long long duplicate_follow_ups(void)
{
  return harness_sql_int("SELECT count(*) FROM (SELECT customer_id, reason FROM follow_ups "
                         "WHERE status IN ('open', 'snoozed') GROUP BY customer_id, reason "
                         "HAVING count(*) > 1) d");
}

/* The sum of the counts in a created/closed object. */
static long long count_sum(const json_t *counts)
{
  long long n = 0;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)counts, k, v) n += json_integer_value(v);
  return n;
}

/* The connection of hold_sweep_lock() (the harness's), kept until
 * released (by the teardown when a test failed). */
static PGconn *holder;

static void release_sweep_lock(void)
{
  PGresult *r = PQexec(holder, "COMMIT");
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  PQfinish(holder);
  holder = NULL;
  assert_true(ok);
}

/* ---- a POST on its own thread and libcurl handle ---- */

struct async_post {
  char body[256];
  pthread_t thread;
  atomic_int done;
  double finished_at; /* now_s() when the reply came */
  long status;
  json_t *json;
};

static size_t collect(char *ptr, size_t size, size_t n, void *ud)
{
  char **buf = ud;
  size_t len = size * n, had = *buf ? strlen(*buf) : 0;
  char *grown = realloc(*buf, had + len + 1);
  if (!grown)
    return 0;
  memcpy(grown + had, ptr, len);
  grown[had + len] = '\0';
  *buf = grown;
  return len;
}

static void *post_run(void *arg)
{
  struct async_post *p = arg;
  CURL *c = curl_easy_init();
  char url[256], auth[256], *body = NULL;
  snprintf(url, sizeof url, "%s/v1/scheduler/runs", harness_base());
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok(ROLE_ADMIN));
  struct curl_slist *hl = NULL;
  hl = curl_slist_append(hl, auth);
  hl = curl_slist_append(hl, "Content-Type: application/json");
  hl = curl_slist_append(hl, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, p->body);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  p->status = -1;
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &p->status);
  p->finished_at = now_s();
  p->json = body ? json_loads(body, 0, NULL) : NULL;
  free(body);
  curl_slist_free_all(hl);
  curl_easy_cleanup(c);
  atomic_store(&p->done, 1);
  return NULL;
}

static void post_start(struct async_post *p, const char *body)
{
  memset(p, 0, sizeof *p);
  snprintf(p->body, sizeof p->body, "%s", body);
  assert_int_equal(pthread_create(&p->thread, NULL, post_run, p), 0);
}

static void post_join(struct async_post *p) { pthread_join(p->thread, NULL); }

/* File scope: the teardown frees the replies of a failed test. */
static struct async_post posts[2];

/* ---- POST, GET ---- */

static void post_without_as_of(void **state)
{
  (void)state;
  struct http_resp r = {0};
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 201);
  const char *id = jstr(r.json, "id");
  assert_non_null(id);
  char loc[64];
  snprintf(loc, sizeof loc, "/v1/scheduler/runs/%s", id);
  assert_string_equal(r.location, loc);
  assert_string_equal(jstr(r.json, "trigger"), "api");
  assert_string_equal(jstr(r.json, "actor"), "admin@example.com");
  assert_true(json_is_object(json_object_get(r.json, "created")));
  assert_true(json_is_object(json_object_get(r.json, "closed")));
  assert_non_null(jstr(r.json, "as_of"));
  assert_non_null(jstr(r.json, "started_at"));
  assert_non_null(jstr(r.json, "finished_at"));
  /* as_of is now (the transaction's start), and the run took place after it. */
  assert_int_equal(harness_sql_int("SELECT (as_of BETWEEN now() - interval '1 minute' AND now() "
                                   "AND as_of <= started_at AND started_at <= finished_at)::int "
                                   "FROM scheduler_runs WHERE id = %s",
                                   id),
                   1);
  char *as_of = harness_sql("SELECT arc_ts(as_of) FROM scheduler_runs WHERE id = %s", id);
  assert_non_null(as_of);
  assert_string_equal(jstr(r.json, "as_of"), as_of);
  free(as_of);

  /* GET returns the same document. */
  json_t *posted = json_incref(r.json);
  http(&r, "GET", loc, ROLE_MANAGER, NULL, NULL);
  assert_status(&r, 200);
  assert_true(json_equal(r.json, posted));
  json_decref(posted);
  http_resp_clear(&r);
}

/* After days without a sweep (the server was down), the next one makes
 * what those days would have, due on the days they fell due: an invoice due
 * four days ago is overdue since three days ago; a failed call seven days
 * ago was to be retried four days ago.  Both are on today's worklist. */
static void catch_up_after_downtime(void **state)
{
  (void)state;
  char today[16], inv[32], late[32], called[32], want[16];
  day(today, 0);
  sql_customer(late, "Catch Up Late Ltd");
  sql_invoice(inv, .customer = late, .amount = 41000, .from = today, .issued_in = -34, .due_in = -4);
  sql_customer(called, "Catch Up Called Ltd");
  sql_invoice(inv, .customer = called, .amount = 42000, .from = today, .issued_in = -40, .due_in = -10);
  harness_sql("INSERT INTO call_logs (customer_id, channel, direction, outcome, occurred_at, logged_by) "
              "VALUES (%s, 'phone', 'outbound', 'no_answer', now() - interval '7 days', 'x')",
              called);
  struct http_resp r = {0};
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{}", NULL);
  assert_status(&r, 201);
  http_resp_clear(&r);
  char *due = harness_sql("SELECT due_on FROM follow_ups WHERE customer_id = %s AND reason = 'overdue'", late);
  day(want, -3);
  assert_string_equal(due, want);
  free(due);
  due = harness_sql("SELECT due_on FROM follow_ups WHERE customer_id = %s AND reason = 'retry'", called);
  day(want, -4);
  assert_string_equal(due, want);
  free(due);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/follow-ups?limit=200");
  assert_status(&r, 200);
  int seen = 0;
  for (size_t i = 0; i < data_size(&r); i++) {
    const char *cus = jstr(json_array_get(json_object_get(r.json, "data"), i), "customer_id");
    seen += strcmp(cus, late) == 0 || strcmp(cus, called) == 0;
  }
  assert_int_equal(seen, 2);
  http_resp_clear(&r);
}

static void post_with_as_of(void **state)
{
  (void)state;
  struct http_resp r = {0};
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{\"as_of\": \"2026-01-31T14:05:00.25+02:00\"}", NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "as_of"), "2026-01-31T12:05:00.250000Z");
  assert_string_equal(jstr(r.json, "trigger"), "api");
  /* The body may also be an empty object. */
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{}", NULL);
  assert_status(&r, 201);
  http_resp_clear(&r);
}

static void refused_requests(void **state)
{
  (void)state;
  long long runs = harness_sql_int("SELECT count(*) FROM scheduler_runs");
  static const struct step steps[] = {
      {"manager may not sweep", "POST", "/v1/scheduler/runs", ROLE_MANAGER, "{}", 403, "forbidden", NULL},
      {"collector may not sweep", "POST", "/v1/scheduler/runs", ROLE_COLLECTOR, NULL, 403, "forbidden", NULL},
      {"integration may not sweep", "POST", "/v1/scheduler/runs", ROLE_INTEGRATION, NULL, 403, "forbidden", NULL},
      {"no key", "POST", "/v1/scheduler/runs", NO_KEY, NULL, 401, "unauthorized", NULL},
      {"as_of not a date-time", "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{\"as_of\": \"yesterday\"}", 422,
       "validation", "as_of"},
      {"as_of a date only", "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{\"as_of\": \"2026-01-31\"}", 422,
       "validation", "as_of"},
      {"as_of without offset", "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{\"as_of\": \"2026-01-31T10:00:00\"}",
       422, "validation", "as_of"},
      {"as_of not a calendar day", "POST", "/v1/scheduler/runs", ROLE_ADMIN,
       "{\"as_of\": \"2026-02-30T10:00:00Z\"}", 422, "validation", "as_of"},
      {"as_of a number", "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{\"as_of\": 1769860000}", 422, "validation",
       "as_of"},
      {"as_of null", "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{\"as_of\": null}", 422, "validation", "as_of"},
      {"unknown field", "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{\"trigger\": \"scheduler\"}", 422,
       "validation", "trigger"},
      {"not an object", "POST", "/v1/scheduler/runs", ROLE_ADMIN, "[]", 422, "validation", NULL},
      {"malformed JSON", "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{\"as_of\": ", 400, "malformed-json", NULL},
      {"collector may not list", "GET", "/v1/scheduler/runs", ROLE_COLLECTOR, NULL, 403, "forbidden", NULL},
      {"viewer may not list", "GET", "/v1/scheduler/runs", ROLE_VIEWER, NULL, 403, "forbidden", NULL},
      {"collector may not read", "GET", "/v1/scheduler/runs/1", ROLE_COLLECTOR, NULL, 403, "forbidden", NULL},
      {"manager lists", "GET", "/v1/scheduler/runs", ROLE_MANAGER, NULL, 200, NULL, NULL},
      {"no such run", "GET", "/v1/scheduler/runs/987654321", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"not an id", "GET", "/v1/scheduler/runs/abc", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"id too large", "GET", "/v1/scheduler/runs/99999999999999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"bad limit", "GET", "/v1/scheduler/runs?limit=0", ROLE_ADMIN, NULL, 422, "validation", "limit"},
      {"bad cursor", "GET", "/v1/scheduler/runs?cursor=x", ROLE_ADMIN, NULL, 422, "validation", "cursor"},
      {"bad as_of_from", "GET", "/v1/scheduler/runs?as_of_from=2026-01-01", ROLE_ADMIN, NULL, 422, "validation",
       "as_of_from"},
      {"bad as_of_to", "GET", "/v1/scheduler/runs?as_of_to=soon", ROLE_ADMIN, NULL, 422, "validation",
       "as_of_to"},
      {"unknown query", "GET", "/v1/scheduler/runs?trigger=api", ROLE_ADMIN, NULL, 422, "validation", "trigger"},
      {"no DELETE", "DELETE", "/v1/scheduler/runs/1", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
  };
  run_steps(steps, sizeof steps / sizeof steps[0]);
  /* The refused sweeps changed nothing. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM scheduler_runs"), runs);
}

static void list_newest_first(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char ids[3][32];
  static const char *const days[] = {"2020-03-01", "2020-03-02", "2020-03-03"};
  for (int i = 0; i < 3; i++) {
    char body[96];
    snprintf(body, sizeof body, "{\"as_of\": \"%sT09:00:00Z\"}", days[i]);
    json_t *run = create_ok("/v1/scheduler/runs", body);
    snprintf(ids[i], sizeof ids[i], "%s", jstr(run, "id"));
    json_decref(run);
  }
  /* Newest first, two per page. */
  http(&r, "GET", "/v1/scheduler/runs?limit=2", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  json_t *data = json_object_get(r.json, "data");
  assert_int_equal(json_array_size(data), 2);
  assert_string_equal(jstr(json_array_get(data, 0), "id"), ids[2]);
  assert_string_equal(jstr(json_array_get(data, 1), "id"), ids[1]);
  char next[64];
  snprintf(next, sizeof next, "%s", jstr(r.json, "next_cursor"));
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/scheduler/runs?limit=2&cursor=%s", next);
  assert_status(&r, 200);
  data = json_object_get(r.json, "data");
  assert_true(json_array_size(data) >= 1);
  assert_string_equal(jstr(json_array_get(data, 0), "id"), ids[0]);
  /* Every page strictly newer-to-older. */
  for (size_t i = 1; i < json_array_size(data); i++)
    assert_true(atoll(jstr(json_array_get(data, i - 1), "id")) > atoll(jstr(json_array_get(data, i), "id")));

  /* as_of from (inclusive) to (exclusive). */
  http(&r, "GET", "/v1/scheduler/runs?as_of_from=2020-03-02T09:00:00Z&as_of_to=2020-03-03T09:00:00Z",
       ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  data = json_object_get(r.json, "data");
  assert_int_equal(json_array_size(data), 1);
  assert_string_equal(jstr(json_array_get(data, 0), "id"), ids[1]);
  assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
  http(&r, "GET", "/v1/scheduler/runs?as_of_from=2020-03-02T00:00:00%2B01:00&as_of_to=2020-03-04T00:00:00Z",
       ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 2);
  http_resp_clear(&r);
}

/* ---- one sweep at a time ---- */

/* Customers with overdue invoices: work the first sweep must create. */
static void overdue_customers(int n)
{
  for (int i = 0; i < n; i++) {
    char name[64], number[64];
    snprintf(name, sizeof name, "Race %d", i);
    snprintf(number, sizeof number, "RACE-%d", i);
    char cust[32];
    snprintf(cust, sizeof cust, "%s", make_customer(name));
    char *issued = harness_sql("SELECT (current_date - 60)::text");
    char *due = harness_sql("SELECT (current_date - 30)::text");
    make_invoice(cust, number, 10000 + i, issued, due);
    free(issued);
    free(due);
  }
}

static void concurrent_posts_take_turns(void **state)
{
  (void)state;
  overdue_customers(5);
  slow_sweeps(0.6);
  long long runs_before = harness_sql_int("SELECT coalesce(max(id), 0) FROM scheduler_runs");
  char *as_of = harness_sql("SELECT arc_ts(now())");
  char body[128];
  snprintf(body, sizeof body, "{\"as_of\": \"%s\"}", as_of);
  free(as_of);

  /* The second starts once the first is inside its sweep, so that the two
   * are served by different worker threads and truly run at once. */
  struct async_post *a = &posts[0], *b = &posts[1];
  double t0 = now_s();
  post_start(a, body);
  double deadline = now_s() + 10;
  while (harness_sql_int("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                         "AND datname = current_database()") < 1 &&
         now_s() < deadline)
    sleep_ms(10);
  post_start(b, body);
  post_join(a);
  post_join(b);
  double took = now_s() - t0;
  slow_sweeps(0);

  /* Both succeed; one waited for the other. */
  if (a->status != 201 || b->status != 201)
    fail_msg("expected 201 twice, got %ld and %ld", a->status, b->status);
  assert_true(took >= 2 * 0.6 * 0.95);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM scheduler_runs WHERE id > %lld", runs_before), 2);
  assert_int_equal(overlapping_runs(), 0);

  /* The first created the follow-ups; the second, for the same as_of,
   * nothing; and nothing exists twice. */
  int a_first = atoll(jstr(a->json, "id")) < atoll(jstr(b->json, "id"));
  json_t *first = a_first ? a->json : b->json, *second = a_first ? b->json : a->json;
  assert_true(count_sum(json_object_get(first, "created")) >= 5);
  assert_int_equal(count_sum(json_object_get(second, "created")), 0);
  assert_int_equal(duplicate_follow_ups(), 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM follow_ups WHERE run_id = %s", jstr(second, "id")), 0);
  assert_true(harness_sql_int("SELECT count(*) FROM follow_ups WHERE run_id = %s", jstr(first, "id")) >= 5);
}

/* Another sweeper holds the lock: the scheduler's kind of sweep skips
 * (409, nothing written), the API's waits and then runs. */
static void busy_lock_skip_or_wait(void **state)
{
  (void)state;
  struct db *db = db_thread();
  assert_true(db_ready(db));
  db->actor = "test-instance";
  long long runs = harness_sql_int("SELECT count(*) FROM scheduler_runs");
  struct reply rp = {0};

  holder = hold_sweep_lock();
  assert_int_equal(sweep_run(db, NULL, "scheduler", SWEEP_SKIP_IF_BUSY, 0, &rp), 409);
  assert_true(rp.is_problem);
  assert_string_equal(json_string_value(json_object_get(rp.json, "type")), "urn:arcollect:problem:conflict");
  assert_string_equal(json_string_value(json_object_get(rp.json, "detail")), "another sweep is running");
  reply_clear(&rp);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM scheduler_runs"), runs);

  /* The API's sweep waits while the lock is held... */
  struct async_post *p = &posts[0];
  post_start(p, "{}");
  sleep_ms(600);
  assert_false(atomic_load(&p->done));
  double released_at = now_s();
  release_sweep_lock();
  post_join(p);
  /* ...and runs once it is released. */
  assert_int_equal(p->status, 201);
  assert_true(p->finished_at >= released_at);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM scheduler_runs"), runs + 1);

  /* Free again: the skipping kind runs too, and records who ran it. */
  assert_int_equal(sweep_run(db, NULL, "scheduler", SWEEP_SKIP_IF_BUSY, 0, &rp), 201);
  json_t *doc = json_loads(rp.text, 0, NULL);
  assert_string_equal(jstr(doc, "trigger"), "scheduler");
  assert_string_equal(jstr(doc, "actor"), "test-instance");
  json_decref(doc);
  reply_clear(&rp);
  db_pool_shutdown();
}

/* A sweep held up longer than lock_timeout gives up: 503, retry later. */
static void lock_timeout_is_503(void **state)
{
  (void)state;
  long long runs = harness_sql_int("SELECT count(*) FROM scheduler_runs");
  holder = hold_sweep_lock();
  struct http_resp r = {0};
  double t0 = now_s();
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, NULL, NULL);
  double took = now_s() - t0;
  release_sweep_lock();
  assert_problem(&r, 503, "unavailable", NULL);
  assert_true(r.retry_after[0] != '\0');
  assert_true(took >= LOCK_TIMEOUT_S * 0.9);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM scheduler_runs"), runs);
  http_resp_clear(&r);
}

/* ---- the scheduler thread of arcollectd serve ---- */

#define START_DEADLINE_S 30
#define EXIT_DEADLINE_S 20

static pid_t children[2] = {-1, -1};
static char logs[2][128];

/* Starts arcollectd serve on the test database, sweeping every
 * INTERVAL_S, its log (stderr) into LOG.  The environment is built before
 * fork: the child only calls async-signal-safe functions. */
static pid_t spawn_serve(unsigned interval_s, const char *log)
{
  const char *binary = getenv("ARC_TEST_BINARY");
  if (!binary || !*binary)
    fail_msg("ARC_TEST_BINARY is not set (tests/meson.build sets it to the arcollectd executable)");
  char port_var[32], interval_var[48];
  snprintf(port_var, sizeof port_var, "ARC_PORT=%u", free_port());
  snprintf(interval_var, sizeof interval_var, "ARC_SCHEDULER_INTERVAL_S=%u", interval_s);
  const char *const extra[] = {port_var, interval_var, "ARC_BIND=127.0.0.1", "ARC_THREADS=1", NULL};
  size_t n = 0;
  while (environ[n])
    n++;
  char **envp = calloc(n + 5, sizeof *envp);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int overridden = 0;
    for (size_t j = 0; extra[j]; j++) {
      size_t nl = (size_t)(strchr(extra[j], '=') - extra[j]) + 1;
      overridden |= strncmp(environ[i], extra[j], nl) == 0;
    }
    if (!overridden)
      envp[o++] = environ[i];
  }
  for (size_t j = 0; extra[j]; j++)
    envp[o++] = (char *)extra[j];
  char *const argv[] = {(char *)binary, (char *)"serve", NULL};
  int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd, STDERR_FILENO);
    execve(binary, argv, envp);
    _exit(127);
  }
  close(fd);
  free(envp);
  assert_true(pid > 0);
  return pid;
}

/* Waits until COUNT_SQL counts at least N, failing if a child died. */
static void wait_for(const char *count_sql, long long n, const char *what)
{
  double deadline = now_s() + START_DEADLINE_S;
  while (harness_sql_int("%s", count_sql) < n) {
    for (int i = 0; i < 2; i++) {
      int status;
      if (children[i] > 0 && waitpid(children[i], &status, WNOHANG) == children[i]) {
        children[i] = -1;
        fail_msg("arcollectd exited early (status %d) waiting for %s", status, what);
      }
    }
    if (now_s() > deadline)
      fail_msg("no %s within %d s", what, START_DEADLINE_S);
    sleep_ms(50);
  }
}

/* SIGTERM to child I; asserts it exits 0 (no leaks either: sanitizers)
 * and returns how long that took. */
static double terminate(int i)
{
  double t0 = now_s();
  assert_int_equal(kill(children[i], SIGTERM), 0);
  int status = 0;
  pid_t r = 0;
  while ((r = waitpid(children[i], &status, WNOHANG)) == 0 && now_s() - t0 < EXIT_DEADLINE_S)
    sleep_ms(20);
  if (r != children[i])
    fail_msg("arcollectd did not exit within %d s of SIGTERM", EXIT_DEADLINE_S);
  children[i] = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail_msg("arcollectd exited with %s %d (log: %s)", WIFEXITED(status) ? "status" : "signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), logs[i]);
  return now_s() - t0;
}

/* Lines of LOG containing TEXT. */
static int log_lines(const char *log, const char *text)
{
  FILE *f = fopen(log, "r");
  if (!f)
    return 0;
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof line, f))
    n += strstr(line, text) != NULL;
  fclose(f);
  return n;
}

static void log_paths(void)
{
  for (int i = 0; i < 2; i++)
    snprintf(logs[i], sizeof logs[i], "/tmp/arc_test_scheduler_%d_%d.log", (int)getpid(), i);
}

/* Sweeps at start, logs each run, and SIGTERM wakes it from a long wait. */
static void thread_sweeps_at_start_and_stops(void **state)
{
  (void)state;
  log_paths();
  long long last = harness_sql_int("SELECT coalesce(max(id), 0) FROM scheduler_runs");
  children[0] = spawn_serve(3600, logs[0]);
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM scheduler_runs WHERE id > %lld AND trigger = 'scheduler' "
                            "AND actor = 'scheduler' AND finished_at IS NOT NULL", last);
  wait_for(sql, 1, "sweep at start");
  sleep_ms(300); /* the log line follows the commit */
  double took = terminate(0);
  assert_true(took < 10); /* not the hour until the next sweep */
  assert_int_equal(harness_sql_int("%s", sql), 1);
  assert_int_equal(log_lines(logs[0], "\"scheduler: sweep done\""), 1);
  assert_int_equal(log_lines(logs[0], "\"level\":\"error\""), 0);
}

/* SIGTERM during a sweep: the sweep finishes and commits, then it exits 0. */
static void sigterm_finishes_sweep_in_progress(void **state)
{
  (void)state;
  log_paths();
  long long last = harness_sql_int("SELECT coalesce(max(id), 0) FROM scheduler_runs");
  slow_sweeps(1.5);
  children[0] = spawn_serve(3600, logs[0]);
  double deadline = now_s() + START_DEADLINE_S;
  while (harness_sql_int("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                         "AND datname = current_database()") < 1) {
    if (now_s() > deadline)
      fail_msg("the scheduler's first sweep did not start within %d s", START_DEADLINE_S);
    sleep_ms(20);
  }
  double took = terminate(0);
  slow_sweeps(0);
  assert_true(took >= 1.0); /* it waited for the sweep */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM scheduler_runs WHERE id > %lld AND trigger = 'scheduler' "
                                   "AND finished_at IS NOT NULL",
                                   last),
                   1);
  assert_int_equal(log_lines(logs[0], "\"scheduler: sweep done\""), 1);
}

/* While another instance holds the lock, the thread skips its ticks and
 * says so; once free, it sweeps again every interval. */
static void thread_skips_while_busy(void **state)
{
  (void)state;
  log_paths();
  long long last = harness_sql_int("SELECT coalesce(max(id), 0) FROM scheduler_runs");
  holder = hold_sweep_lock();
  children[0] = spawn_serve(1, logs[0]);
  double deadline = now_s() + START_DEADLINE_S;
  while (log_lines(logs[0], "another instance is sweeping; skipped") < 2 && now_s() < deadline)
    sleep_ms(50);
  long long during = harness_sql_int("SELECT count(*) FROM scheduler_runs WHERE id > %lld", last);
  release_sweep_lock();
  assert_true(log_lines(logs[0], "another instance is sweeping; skipped") >= 2);
  assert_int_equal(during, 0);
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM scheduler_runs WHERE id > %lld AND trigger = 'scheduler'", last);
  wait_for(sql, 2, "two sweeps after the lock was released");
  terminate(0);
}

/* Two instances at once, each sweeping every second, sweeps lasting
 * 0.6 s: their runs never overlap, and both stop cleanly. */
static void two_instances_never_overlap(void **state)
{
  (void)state;
  log_paths();
  long long last = harness_sql_int("SELECT coalesce(max(id), 0) FROM scheduler_runs");
  slow_sweeps(0.6);
  children[0] = spawn_serve(1, logs[0]);
  children[1] = spawn_serve(1, logs[1]);
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM scheduler_runs WHERE id > %lld AND trigger = 'scheduler'", last);
  wait_for(sql, 8, "eight scheduler runs");
  terminate(0);
  terminate(1);
  slow_sweeps(0);
  assert_int_equal(overlapping_runs(), 0);
  assert_true(log_lines(logs[0], "\"scheduler: sweep done\"") >= 1);
  assert_true(log_lines(logs[1], "\"scheduler: sweep done\"") >= 1);
  /* Repeated sweeps for later instants still never made anything twice. */
  assert_int_equal(duplicate_follow_ups(), 0);
}

/* A failed test may leave children running, a slow trigger, log files. */
static int cleanup(void **state)
{
  (void)state;
  if (holder) {
    PQfinish(holder); /* ends its transaction: the lock goes with it */
    holder = NULL;
  }
  for (int i = 0; i < 2; i++) {
    json_decref(posts[i].json);
    posts[i].json = NULL;
  }
  slow_sweeps(0);
  for (int i = 0; i < 2; i++) {
    if (children[i] > 0) {
      kill(children[i], SIGKILL);
      waitpid(children[i], NULL, 0);
      children[i] = -1;
    }
    if (logs[i][0] && !getenv("ARC_TEST_VERBOSE"))
      unlink(logs[i]);
  }
  return 0;
}

int main(void)
{
  setenv("ARC_STATEMENT_TIMEOUT_MS", STATEMENT_TIMEOUT_MS, 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(post_without_as_of),
      cmocka_unit_test(post_with_as_of),
      cmocka_unit_test(catch_up_after_downtime),
      cmocka_unit_test(refused_requests),
      cmocka_unit_test(list_newest_first),
      cmocka_unit_test_teardown(concurrent_posts_take_turns, cleanup),
      cmocka_unit_test_teardown(busy_lock_skip_or_wait, cleanup),
      cmocka_unit_test_teardown(lock_timeout_is_503, cleanup),
      cmocka_unit_test_teardown(thread_sweeps_at_start_and_stops, cleanup),
      cmocka_unit_test_teardown(sigterm_finishes_sweep_in_progress, cleanup),
      cmocka_unit_test_teardown(thread_skips_while_busy, cleanup),
      cmocka_unit_test_teardown(two_instances_never_overlap, cleanup),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
