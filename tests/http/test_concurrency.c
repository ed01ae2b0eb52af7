/* Concurrent payments never over-allocate.  Several client threads, each
 * with its own libcurl handle (the harness's http() shares one handle and
 * is not thread-safe), fire payments at the same invoices at once; then the
 * database must add up exactly: every accepted allocation is in the
 * balance, no refused one is, and nothing went below zero. */
#include "harness.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8
#define PER_THREAD 10
#define CALLS (THREADS * PER_THREAD)

struct call {
  const char *method;
  char path[128];
  char body[1024];
  long long amount; /* what the call asks to allocate or pay */
  long status;      /* out */
  char type[96];    /* out: problem type, or "" */
  char id[32];      /* out: the payment id on success */
};

struct worker {
  struct call *calls;
  size_t n;
  pthread_barrier_t *start;
};

struct buf {
  char *data;
  size_t len;
};

static size_t collect(char *ptr, size_t size, size_t n, void *ud)
{
  struct buf *b = ud;
  size_t len = size * n;
  char *grown = realloc(b->data, b->len + len + 1);
  if (!grown)
    return 0;
  b->data = grown;
  memcpy(b->data + b->len, ptr, len);
  b->len += len;
  b->data[b->len] = '\0';
  return len;
}

/* One request on this thread's own handle; fills the call's outputs. */
static void perform(CURL *c, struct call *k)
{
  char url[256], auth[256];
  struct buf b = {0};
  struct curl_slist *hl = NULL;
  snprintf(url, sizeof url, "%s%s", harness_base(), k->path);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok(ROLE_ADMIN));
  hl = curl_slist_append(hl, auth);
  hl = curl_slist_append(hl, "Content-Type: application/json");
  hl = curl_slist_append(hl, "Expect:");
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, k->method);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, k->body);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  k->status = curl_easy_perform(c) == CURLE_OK ? 0 : -1;
  if (k->status == 0)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &k->status);
  curl_slist_free_all(hl);
  json_t *j = b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
  const char *type = json_string_value(json_object_get(j, "type"));
  const char *id = json_string_value(json_object_get(j, "id"));
  snprintf(k->type, sizeof k->type, "%s", type ? type : "");
  snprintf(k->id, sizeof k->id, "%s", id && !type ? id : "");
  if (!j && k->status > 0)
    snprintf(k->type, sizeof k->type, "unparsed: %.80s", b.data ? b.data : "");
  json_decref(j);
  free(b.data);
}

static void *work(void *arg)
{
  struct worker *w = arg;
  CURL *c = curl_easy_init();
  pthread_barrier_wait(w->start);
  for (size_t i = 0; i < w->n; i++)
    perform(c, &w->calls[i]);
  curl_easy_cleanup(c);
  return NULL;
}

/* Runs CALLS calls, PER_THREAD on each of THREADS threads, all released at
 * once. */
static void run_concurrently(struct call *calls)
{
  pthread_t th[THREADS];
  struct worker w[THREADS];
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, THREADS);
  for (int t = 0; t < THREADS; t++) {
    w[t] = (struct worker){.calls = calls + t * PER_THREAD, .n = PER_THREAD, .start = &start};
    assert_int_equal(pthread_create(&th[t], NULL, work, &w[t]), 0);
  }
  for (int t = 0; t < THREADS; t++)
    pthread_join(th[t], NULL);
  pthread_barrier_destroy(&start);
}

static int is_type(const struct call *k, const char *slug)
{
  char want[96];
  snprintf(want, sizeof want, "urn:arcollect:problem:%s", slug);
  return strcmp(k->type, want) == 0;
}

/* The books add up for every invoice and payment in the database. */
static void assert_books_balance(void)
{
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices i WHERE i.balance < 0 OR i.balance <> i.amount - "
                                   "coalesce((SELECT sum(x.amount) FROM payment_allocations x WHERE x.invoice_id = "
                                   "i.id AND x.reversed_at IS NULL), 0)"),
                   0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payments p WHERE p.unapplied < 0 OR p.amount <> p.unapplied "
                                   "+ coalesce((SELECT sum(x.amount) FROM payment_allocations x WHERE x.payment_id = "
                                   "p.id), 0)"),
                   0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices WHERE status IN ('open', 'paid') AND "
                                   "(status = 'paid') <> (balance = 0)"),
                   0);
}

static void explicit_allocations_race(const char *name, long long n, long long unit, long long base, long long spread)
{
  char cust[32], inv[32];
  sql_customer(cust, name);
  sql_invoice(inv, .customer = cust, .amount = n, .due_on = "2025-06-01");
  struct call *calls = calloc(CALLS, sizeof *calls);
  long long asked = 0;
  for (int i = 0; i < CALLS; i++) {
    struct call *k = &calls[i];
    k->method = "POST";
    snprintf(k->path, sizeof k->path, "/v1/payments");
    k->amount = unit * (base + (i * 37) % spread);
    asked += k->amount;
    snprintf(k->body, sizeof k->body,
             "{\"customer_id\": \"%s\", \"amount\": %lld, \"currency\": \"USD\", \"received_on\": \"2026-01-10\", "
             "\"method\": \"ach\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": %lld}]}",
             cust, k->amount, inv, k->amount);
  }
  assert_true(asked > 2 * n); /* only some can fit */
  run_concurrently(calls);

  long long accepted_sum = 0, accepted = 0, refused_over = 0;
  for (int i = 0; i < CALLS; i++) {
    struct call *k = &calls[i];
    if (k->status == 201) {
      accepted++;
      accepted_sum += k->amount;
    } else if (k->status == 409 && is_type(k, "over-allocation")) {
      refused_over++; /* also once the invoice was paid off exactly: one type for one conflict */
    } else {
      fail_msg("call %d: unexpected %ld %s", i, k->status, k->type);
    }
  }
  long long balance = harness_sql_int("SELECT balance FROM invoices WHERE id = %s", inv);
  assert_true(accepted > 0);
  assert_true(refused_over > 0);
  assert_true(accepted_sum <= n);
  assert_int_equal(balance, n - accepted_sum);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payments WHERE customer_id = %s", cust), accepted);
  assert_int_equal(harness_sql_int("SELECT coalesce(sum(amount), 0) FROM payment_allocations WHERE invoice_id = %s", inv),
                   accepted_sum);
  assert_books_balance();
  free(calls);
}

static void concurrent_payments_never_over_allocate(void **state)
{
  (void)state;
  /* Multiples of 3 against 10000: the balance can never reach exactly 0, so
   * every refusal must be over-allocation. */
  explicit_allocations_race("Race Three", 10000, 3, 50, 150);
  /* Multiples of 100 against 6000: the invoice can be paid off exactly,
   * after which refusals are over-allocations too. */
  explicit_allocations_race("Race Hundred", 6000, 100, 1, 5);
}

static void concurrent_auto_allocation_is_exact(void **state)
{
  (void)state;
  char cust[32], inv[6][32];
  static const long long amounts[6] = {1000, 2500, 700, 4000, 1300, 3000};
  static const char *const due[6] = {"2025-03-01", "2025-01-01", "2025-02-01", "2025-01-01", "2025-05-01",
                                     "2025-04-01"};
  long long owed = 0;
  sql_customer(cust, "Auto Race");
  for (int i = 0; i < 6; i++) {
    sql_invoice(inv[i], .customer = cust, .amount = amounts[i], .due_on = due[i]);
    owed += amounts[i];
  }
  struct call *calls = calloc(CALLS, sizeof *calls);
  long long paid = 0;
  for (int i = 0; i < CALLS; i++) {
    struct call *k = &calls[i];
    k->method = "POST";
    snprintf(k->path, sizeof k->path, "/v1/payments");
    k->amount = 101 + (i * 53) % 400;
    paid += k->amount;
    snprintf(k->body, sizeof k->body,
             "{\"customer_id\": \"%s\", \"amount\": %lld, \"currency\": \"USD\", \"received_on\": \"2026-01-10\", "
             "\"method\": \"card\"}",
             cust, k->amount);
  }
  assert_true(paid > owed); /* some payments must end up as credit */
  run_concurrently(calls);
  for (int i = 0; i < CALLS; i++)
    if (calls[i].status != 201)
      fail_msg("call %d: unexpected %ld %s", i, calls[i].status, calls[i].type);

  /* Payments queue on the invoice locks, so exactly min(owed, paid) was
   * applied and the rest is credit, to the unit. */
  long long applied = owed < paid ? owed : paid;
  assert_int_equal(harness_sql_int("SELECT coalesce(sum(a.amount), 0) FROM payment_allocations a JOIN payments p ON "
                                   "p.id = a.payment_id WHERE p.customer_id = %s",
                                   cust),
                   applied);
  assert_int_equal(harness_sql_int("SELECT coalesce(sum(unapplied), 0) FROM payments WHERE customer_id = %s", cust),
                   paid - applied);
  assert_int_equal(harness_sql_int("SELECT sum(balance) FROM invoices WHERE customer_id = %s", cust), owed - applied);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payments WHERE customer_id = %s", cust), CALLS);
  for (int i = 0; i < 6; i++)
    assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE id = %s", inv[i]),
                     amounts[i] - harness_sql_int("SELECT coalesce(sum(amount), 0) FROM payment_allocations WHERE "
                                                  "invoice_id = %s AND reversed_at IS NULL",
                                                  inv[i]));
  /* Oldest first held throughout: no invoice got money while an older one
   * still has a balance. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices later JOIN invoices earlier ON earlier.customer_id = "
                                   "later.customer_id AND (earlier.due_on, earlier.id) < (later.due_on, later.id) "
                                   "WHERE later.customer_id = %s AND earlier.balance > 0 AND EXISTS (SELECT 1 FROM "
                                   "payment_allocations a WHERE a.invoice_id = later.id)",
                                   cust),
                   0);
  /* A payment left credit only when it paid off everything: no later
   * payment (ids are drawn under the invoice locks) found anything owed. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payments c WHERE c.customer_id = %s AND EXISTS (SELECT 1 "
                                   "FROM payment_allocations a WHERE a.payment_id = c.id) AND c.id > (SELECT "
                                   "min(id) FROM payments WHERE customer_id = %s AND unapplied > 0)",
                                   cust, cust),
                   0);
  assert_books_balance();
  free(calls);
}

/* Allocations naming the same two invoices in opposite orders: the
 * functions lock in id order, so nobody waits on anybody in a cycle and
 * every payment goes through. */
static void crossing_allocations_all_succeed(void **state)
{
  (void)state;
  char cust[32], a[32], b[32];
  sql_customer(cust, "Crossing");
  sql_invoice(a, .customer = cust, .amount = 1000000, .due_on = "2025-01-01");
  sql_invoice(b, .customer = cust, .amount = 1000000, .due_on = "2025-01-02");
  struct call *calls = calloc(CALLS, sizeof *calls);
  long long to_a = 0, to_b = 0;
  for (int i = 0; i < CALLS; i++) {
    struct call *k = &calls[i];
    k->method = "POST";
    snprintf(k->path, sizeof k->path, "/v1/payments");
    long long x = 10 + i, y = 20 + i;
    to_a += x;
    to_b += y;
    k->amount = x + y;
    if (i % 2)
      snprintf(k->body, sizeof k->body,
               "{\"customer_id\": \"%s\", \"amount\": %lld, \"currency\": \"USD\", \"received_on\": \"2026-01-10\", "
               "\"method\": \"wire\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": %lld}, "
               "{\"invoice_id\": \"%s\", \"amount\": %lld}]}",
               cust, k->amount, a, x, b, y);
    else
      snprintf(k->body, sizeof k->body,
               "{\"customer_id\": \"%s\", \"amount\": %lld, \"currency\": \"USD\", \"received_on\": \"2026-01-10\", "
               "\"method\": \"wire\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": %lld}, "
               "{\"invoice_id\": \"%s\", \"amount\": %lld}]}",
               cust, k->amount, b, y, a, x);
  }
  run_concurrently(calls);
  for (int i = 0; i < CALLS; i++)
    if (calls[i].status != 201)
      fail_msg("call %d: unexpected %ld %s", i, calls[i].status, calls[i].type);
  assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE id = %s", a), 1000000 - to_a);
  assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE id = %s", b), 1000000 - to_b);
  assert_books_balance();
  free(calls);
}

/* Payments and reversals at once, on one invoice: the balance always ends
 * as amount less what is still applied; each payment is reversed once. */
static void reversals_race_with_payments(void **state)
{
  (void)state;
  char cust[32], inv[32], body[512];
  sql_customer(cust, "Reversal Race");
  sql_invoice(inv, .customer = cust, .amount = 100000, .due_on = "2025-01-01");
  /* Ten payments to reverse, each targeted by eight requests at once. */
  char ids[PER_THREAD][32];
  for (int i = 0; i < PER_THREAD; i++) {
    snprintf(body, sizeof body,
             "{\"customer_id\": \"%s\", \"amount\": 1000, \"currency\": \"USD\", \"received_on\": \"2026-01-10\", "
             "\"method\": \"check\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 1000}]}",
             cust, inv);
    json_t *p = create_ok("/v1/payments", body);
    snprintf(ids[i], sizeof ids[i], "%s", jstr(p, "id"));
    json_decref(p);
  }
  assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE id = %s", inv), 90000);
  struct call *calls = calloc(CALLS, sizeof *calls);
  for (int t = 0; t < THREADS; t++)
    for (int k = 0; k < PER_THREAD; k++) {
      struct call *c = &calls[t * PER_THREAD + k];
      c->method = "POST";
      if (t == THREADS - 1) {
        /* One thread keeps paying while the others reverse. */
        snprintf(c->path, sizeof c->path, "/v1/payments");
        c->amount = 500;
        snprintf(c->body, sizeof c->body,
                 "{\"customer_id\": \"%s\", \"amount\": 500, \"currency\": \"USD\", \"received_on\": \"2026-01-10\", "
                 "\"method\": \"ach\"}",
                 cust);
      } else {
        snprintf(c->path, sizeof c->path, "/v1/payments/%s/reversal", ids[(k + t) % PER_THREAD]);
        snprintf(c->body, sizeof c->body, "{\"reason\": \"bounced (thread %d)\"}", t);
      }
    }
  run_concurrently(calls);
  int reversed_ok[PER_THREAD] = {0};
  for (int t = 0; t < THREADS; t++)
    for (int k = 0; k < PER_THREAD; k++) {
      struct call *c = &calls[t * PER_THREAD + k];
      if (t == THREADS - 1) {
        if (c->status != 201)
          fail_msg("payment %d: unexpected %ld %s", k, c->status, c->type);
        continue;
      }
      if (c->status == 200)
        reversed_ok[(k + t) % PER_THREAD]++;
      else if (!(c->status == 409 && is_type(c, "conflict")))
        fail_msg("reversal by thread %d: unexpected %ld %s", t, c->status, c->type);
    }
  for (int i = 0; i < PER_THREAD; i++)
    assert_int_equal(reversed_ok[i], 1);
  /* All ten reversed, ten new payments of 500 applied. */
  assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE id = %s", inv), 100000 - PER_THREAD * 500);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payments WHERE customer_id = %s AND status = 'reversed'", cust),
                   PER_THREAD);
  assert_books_balance();
  free(calls);
}

/* The same external payment sent by many workers at once is recorded once. */
static void concurrent_upserts_record_once(void **state)
{
  (void)state;
  char cust[32], inv[32];
  sql_customer(cust, "Upsert Race");
  sql_invoice(inv, .customer = cust, .amount = 50000, .due_on = "2025-01-01");
  struct call *calls = calloc(CALLS, sizeof *calls);
  for (int i = 0; i < CALLS; i++) {
    struct call *k = &calls[i];
    k->method = "PUT";
    /* Ten external payments, each sent by all eight threads. */
    snprintf(k->path, sizeof k->path, "/v1/payments/external/bank-%d", i % PER_THREAD);
    k->amount = 100 * (i % PER_THREAD + 1);
    snprintf(k->body, sizeof k->body,
             "{\"customer_id\": \"%s\", \"amount\": %lld, \"currency\": \"USD\", \"received_on\": \"2026-01-10\", "
             "\"method\": \"wire\"}",
             cust, k->amount);
  }
  run_concurrently(calls);
  int created[PER_THREAD] = {0};
  for (int i = 0; i < CALLS; i++) {
    if (calls[i].status == 201)
      created[i % PER_THREAD]++;
    else if (calls[i].status != 200)
      fail_msg("call %d: unexpected %ld %s", i, calls[i].status, calls[i].type);
  }
  long long total = 0;
  for (int i = 0; i < PER_THREAD; i++) {
    assert_int_equal(created[i], 1);
    total += 100 * (i + 1);
  }
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payments WHERE customer_id = %s", cust), PER_THREAD);
  assert_int_equal(harness_sql_int("SELECT balance FROM invoices WHERE id = %s", inv), 50000 - total);
  assert_books_balance();
  free(calls);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(concurrent_payments_never_over_allocate),
      cmocka_unit_test(concurrent_auto_allocation_is_exact),
      cmocka_unit_test(crossing_allocations_all_succeed),
      cmocka_unit_test(reversals_race_with_payments),
      cmocka_unit_test(concurrent_upserts_record_once),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
