/* HTTP test harness: a fresh database per test program, migrated; the real
 * server in-process on port 0; libcurl as the client; one key per role. */
#ifndef ARC_TEST_HARNESS_H
#define ARC_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>

#include <sys/types.h>

#include "arc/auth.h"

/* Roles by index for tokens: tok(ROLE_ADMIN) etc.; NO_KEY sends none. */
#define NO_KEY ROLE_NONE

struct http_resp {
  long status;
  json_t *json;             /* parsed body, NULL when not JSON */
  char *body;               /* raw body */
  size_t body_len;
  char content_type[128];
  char location[256];
  char etag[64];
  char allow[128];
  char retry_after[32];
  char request_id[80];
  int replayed; /* Idempotent-Replayed: 1 "true", -1 another value, 0 absent */
  char headers[4096]; /* every header line as received, for resp_header() */
};

/* The value of response header NAME (any case) in OUT; 0 when absent. */
int resp_header(const struct http_resp *r, const char *name, char *out, size_t size);

/* Points the body and header callbacks of libcurl handle CURL (a CURL *)
 * at OUT, for tests that drive their own handles (threads, custom
 * requests); the caller sets STATUS and parses JSON after the transfer. */
void http_capture(void *curl, struct http_resp *out);

/* Seconds on the monotonic clock; a pause of MS milliseconds. */
double now_s(void);
void sleep_ms(long ms);

/* cmocka group setup/teardown. */
int harness_setup(void **state);
int harness_teardown(void **state);

/* The bearer token of a key with role R (NULL for NO_KEY). */
const char *tok(enum role r);

/* A request with a JSON body (or none when BODY is NULL).  HEADERS is a
 * NULL-terminated list of "Name: value" lines, or NULL.  Returns status. */
long http(struct http_resp *out, const char *method, const char *path, enum role who, const char *body,
          const char *const *headers);
/* Requests that must overlap: each on its own thread and connection,
 * straight to the server (not through Prism), answers discarded; STATUS is
 * filled in (0 when no answer), then DONE set.  METHOD NULL means POST;
 * HEADER, when not NULL, is one more "Name: value" line.  At most 16. */
struct racer {
  char url[256];
  const char *method;
  enum role who;
  const char *header;
  char body[1024];
  long status;
  _Atomic int done; /* for a test that checks the request is still waiting */
};
void run_racers(struct racer *rc, size_t n);
/* One racer, as a pthread start routine, for a request that must wait
 * while the test holds a lock: start it, release, join, read STATUS. */
void *racer_run(void *rc);

/* Printf-style path. */
long httpf(struct http_resp *out, const char *method, enum role who, const char *body, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Raw bytes with an explicit Content-Type (NULL: no Content-Type header). */
long http_raw(struct http_resp *out, const char *method, const char *path, enum role who, const char *body,
              size_t len, const char *content_type, const char *const *headers);
void http_resp_clear(struct http_resp *r);

/* The server's base URL, e.g. "http://127.0.0.1:41234". */
const char *harness_base(void);
uint16_t harness_port(void);

/* Contract mode: with ARC_TEST_PRISM=<path to Prism's CLI> in the
 * environment, http() (and so httpf, run_steps, create_ok...) goes through a
 * Prism validation proxy started for this program, which checks each
 * request and response against the served OpenAPI document; a response the
 * contract does not describe fails the test (else the test gets the server's
 * own bytes), and a request the contract forbids is re-sent to the server,
 * which must refuse it too (>= 400).
 * http_raw, HEAD and requests whose bytes Prism would rewrite go straight to
 * the server (see harness.c). Without ARC_TEST_PRISM nothing changes. */
/* Prism's base URL, or NULL when contract mode is off. */
const char *harness_prism_base(void);
/* So far: exchanges Prism checked, requests it refused (and the server
 * refused too), requests sent straight to the server. */
void harness_prism_counts(unsigned long *checked, unsigned long *refused, unsigned long *direct);

/* Runs SQL on the test database over a separate connection and returns the
 * first column of the first row (malloc'd; NULL when no row). */
char *harness_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
long long harness_sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Waits until N sessions of the test database wait for a lock (requests
 * held by a lock the test took); fails the test after 20 s. */
void wait_for_lock_waiters(long long n);

/* A connection of the test's own to the test database (DATABASE_URL), for
 * what must happen in another session: a lock held, a transaction left
 * open. exec_ok runs SQL on it and fails the test with PostgreSQL's
 * message unless it succeeds. */
void exec_ok(PGconn *c, const char *sql);
/* A new connection holding the sweep lock (pg_advisory_xact_lock(7250002),
 * src/schedule/runs_repo.c) in an open transaction, as another instance's
 * sweep would; it goes with that transaction (COMMIT, ROLLBACK, PQfinish). */
PGconn *hold_sweep_lock(void);

/* A digest of every column of every row of TABLES (a NULL-terminated list),
 * for "a refused write (or a repeated sweep) changed nothing": one before,
 * one after, compared. malloc'd. */
char *tables_fingerprint(const char *const *tables);
/* Sends the request, asserts it is refused with STATUS and problem SLUG
 * (naming FIELD when not NULL), and that no row of TABLES changed. */
void assert_refused(const char *const *tables, const char *method, const char *path, enum role who,
                    const char *body, const char *const *headers, long status, const char *slug, const char *field);

/* Runs the real arcollectd (ARC_TEST_BINARY, which tests/meson.build sets)
 * through the shell, against the test database (DATABASE_URL): ENV, when
 * not NULL, is variable assignments for it alone ("ARC_PORT='99999'"),
 * ARGS its arguments, shell-quoted by the caller. Returns its exit status
 * (-1 when it did not exit) and its stdout in OUT, stderr thrown away;
 * harness_run_binary_all puts its stderr in OUT too, with stdout. */
int harness_run_binary(const char *env, const char *args, char *out, size_t size);
int harness_run_binary_all(const char *env, const char *args, char *out, size_t size);

/* Starts BINARY serve as a child, with the test database and EXTRA
 * ("NAME=value", NULL-terminated) added to the environment, its stderr
 * appended to STDERR_PATH (NULL: this process's).  The environment is built
 * before fork: the child only calls async-signal-safe functions (this
 * process has server threads). */
pid_t harness_spawn_server(const char *binary, const char *const *extra, const char *stderr_path);
/* The child's exit status in *STATUS, waiting up to SECS; -1 if still running. */
int harness_wait_exit(pid_t pid, double secs, int *status);
/* GET URL on a fresh connection (body discarded), with an Authorization
 * value or none; the status, or -1 when nothing answered. */
long harness_get_status_as(const char *url, const char *authorization);
long harness_get_status(const char *url);

/* GET /healthz on a new connection, straight to the server, must answer
 * 200: after a request the server may have dropped, it is still serving. */
void assert_server_alive(void);

/* Assertions that say what went wrong. */
void assert_status(const struct http_resp *r, long status);
/* Status, problem+json content type, type urn:arcollect:problem:SLUG, and
 * when FIELD is not NULL an errors[] entry naming it. */
void assert_problem(const struct http_resp *r, long status, const char *slug, const char *field);

/* POST PATH with BODY as admin; asserts 201 and returns the body (caller decrefs). */
json_t *create_ok(const char *path, const char *body);
/* POST PATH with BODY as admin; asserts 201 and copies the new id to OUT. */
void create_id(char out[32], const char *path, const char *body);
/* Convenience creators returning the new id (static storage, copy it). */
const char *make_customer(const char *name);
const char *make_invoice(const char *customer_id, const char *number, long long amount,
                         const char *issued_on, const char *due_on);

/* An invoice for new_invoice() / sql_invoice(): CUSTOMER is required;
 * what is left unset takes the default after it. */
struct invoice_fields {
  const char *customer;  /* the customer's id */
  const char *number;    /* NULL: "INV-<n>", n counting the invoices numbered here */
  const char *currency;  /* NULL: "USD" */
  long long amount;      /* 0: 10000 (minor units) */
  const char *issued_on; /* NULL: from + issued_in, or 2025-01-01 (see below) */
  const char *due_on;    /* NULL: from + due_in, or 2025-02-01 */
  /* Days from FROM (NULL: today) for the dates left NULL, when FROM is set
   * or either is not 0; else those dates are the fixed 2025-01-01 and
   * 2025-02-01. */
  const char *from; /* YYYY-MM-DD */
  int issued_in, due_in;
  const char *extra; /* more members of the POST body, "\"factored\": true" (invoice_create only) */
};
/* Makes the invoice and copies its id to OUT. invoice_create goes through
 * POST /v1/invoices as admin (asserting 201), so the API's rules and events
 * apply; invoice_insert writes the row with SQL (amount = balance), for tests
 * whose subject is not the invoice. Call them as
 *   new_invoice(id, .customer = c, .amount = 500, .due_on = "2025-03-01");
 *   new_invoice(id, .customer = c, .from = BASE, .issued_in = -30, .due_in = 0); */
void invoice_create(char out[32], const struct invoice_fields *f);
void invoice_insert(char out[32], const struct invoice_fields *f);
#define new_invoice(out, ...) invoice_create((out), &(const struct invoice_fields){__VA_ARGS__})
#define sql_invoice(out, ...) invoice_insert((out), &(const struct invoice_fields){__VA_ARGS__})

/* The business's time zone (ARC_TIMEZONE, UTC when unset): "today" is
 * computed there, as the server does. */
const char *tz(void);
/* Today + DAYS in that time zone, as YYYY-MM-DD. */
void day(char out[16], int days);
/* DATE + DAYS, as YYYY-MM-DD. */
void date_plus(char out[16], const char *date, int days);
/* HH:MM on DATE + DAYS in the business's time zone, as an RFC 3339 instant. */
void instant_at(char out[40], const char *date, int days, const char *hhmm);
/* Whether instant TS (RFC 3339) is the database's real time of the last
 * minutes: when something is recorded as having happened, also by a sweep
 * replayed for another as_of (arc_recorded_at). */
int recorded_now(const char *ts);
/* The tables a sweep writes (beside events and its run). */
extern const char *const swept_tables[];
/* A full sweep for AS_OF right after one for it: fails (naming WHEN) if it
 * changes a row of swept_tables or writes an event. */
void sweep_full_changes_nothing(const char *when, const char *as_of);
/* POST /v1/scheduler/runs for 09:00 on DATE + DAYS: asserts 201 and
 * returns the run document (caller decrefs); sweep_at drops it.
 * ARC_TEST_SWEEPS (tests/meson.build) runs the same tests both ways:
 * "full" asks every sweep for "full": true; "checked" follows every sweep
 * with sweep_full_changes_nothing, so that each incremental sweep is shown
 * to do what a full one would. */
json_t *sweep_at_doc(const char *date, int days);
void sweep_at(const char *date, int days);
/* The sweeps for every day from DATE + FIRST to DATE + LAST. */
void sweep_days(const char *date, int first, int last);
/* A customer made with SQL, for tests that depend on one resource only. */
void sql_customer(char out[32], const char *name);

/* Read back with SQL: invoice INVOICE's balance; how many adjustments it has. */
long long balance_of(const char *invoice);
long long count_adjustments(const char *invoice);

/* The follow-ups of customer CUS for REASON, oldest first, as
 * "status:due[:closed_reason]" separated by spaces, due in days from DAY0
 * (NULL: today in the business's time zone); a held one adds
 * " held_by from..until" in days from DAY0 too ("open:3 attempt_cap 0..4"). */
void follow_up_story(char *out, size_t size, const char *cus, const char *reason, const char *day0);
/* That story must be WANT; WHEN says at which step of the test. */
void expect_story(const char *when, const char *cus, const char *reason, const char *day0, const char *want);

/* Polls GET /v1/imports/ID until the job is neither queued nor running (at
 * most 60 s); returns its document (caller decrefs). */
json_t *import_wait(const char *id);
/* 1 when S is a timestamp as the API writes them: 2026-01-31T14:05:00.123456Z. */
int ts_shape_ok(const char *s);
/* A loopback TCP port free at this moment, for a listener of the test's own. */
unsigned free_port(void);

/* A list reply's data array: its length, the id of item I. */
size_t data_size(const struct http_resp *r);
const char *data_id(const struct http_resp *r, size_t i);
/* 1 when member KEY of O is JSON null (absent is not null). */
int is_null(const json_t *o, const char *key);

const char *jstr(const json_t *o, const char *key);
long long jint(const json_t *o, const char *key);

/* DOC's member KEY as compact JSON (a scalar too) must be WANT. */
void expect_json(const json_t *doc, const char *key, const char *want);
/* Two readings of a document are the same: equal but for a follow-up's
 * customer_local_time, which is the time of reading. */
int same_document(const json_t *a, const json_t *b);
/* TMPL with its "%s" (if any) replaced by VALUE, for table rows that hold
 * an id to come: the rows are data, not formats. */
void fill_template(char *out, size_t size, const char *tmpl, const char *value);

/* Table-driven checks: each row is one request and what must come back. */
struct step {
  const char *label;
  const char *method;
  const char *path;
  enum role who;
  const char *body;
  long status;
  const char *problem; /* slug, or NULL for a success */
  const char *field;   /* a field errors[] must name, or NULL */
};
void run_steps(const struct step *steps, size_t n);

#endif
