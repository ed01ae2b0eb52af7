/* sweep_bench: how long the scheduler's sweep takes on a large book.
 *
 * Into an empty database (DATABASE_URL) it applies the migrations, loads
 * 100k customers, 1M invoices, the payments that paid them, 300k call
 * logs, 20k promises and 5k open disputes with set-based SQL, then times
 * sweep_run as the scheduler runs it: the first sweep, the same as_of
 * again (nothing changed: no rule runs), the same forced to run every rule
 * (it must do nothing), a preview of the next day, a sweep after 1,000
 * scattered writes (payments, call logs, promises), the next day, and the
 * next day again with every rule (it must do nothing either);
 * beside them, the bare SQL that reads what the rules read.  See
 * bench/README.md.
 *
 *   sweep_bench [--profile | --load-only]
 *
 * --profile also times each rule alone before each sweep, in a
 * transaction that is rolled back, to tell which rule the time goes to; --load-only stops after the
 * load (to study the rules with psql, EXPLAIN ANALYZE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "arc/config.h"
#include "arc/db.h"
#include "arc/http.h"
#include "arc/sweep.h"

#define CUSTOMERS 100000
#define INVOICES_PER_CUSTOMER 10
#define CALL_LOGS 300000
#define PROMISES 20000
#define DISPUTES 5000
/* Plus about 3,000 payment plans, 2,400 escalations, and 16,000 calls
 * that put 2,000 consumers past the attempt cap (see load()). */

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(PGconn *c, const char *what)
{
  fprintf(stderr, "sweep_bench: %s: %s", what, c ? PQerrorMessage(c) : "\n");
  exit(1);
}

/* Runs SQL (no result rows wanted); prints how long it took. */
static void run(PGconn *c, const char *label, const char *sql)
{
  double t0 = now_s();
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    fprintf(stderr, "sweep_bench: %s failed: %s", label, PQresultErrorMessage(r));
    PQclear(r);
    exit(1);
  }
  const char *n = PQcmdTuples(r);
  if (*label)
    printf("  %-34s %9s rows %8.2f s\n", label, *n ? n : "-", now_s() - t0);
  PQclear(r);
}

/* The first column of the first row of SQL, as a long long. */
static long long value(PGconn *c, const char *sql)
{
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
    die(c, sql);
  long long v = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  return v;
}

static char *text_value(PGconn *c, const char *sql)
{
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
    die(c, sql);
  char *v = strdup(PQgetvalue(r, 0, 0));
  PQclear(r);
  return v;
}

/* The book, relative to today (D): every statement is one set-based
 * INSERT ... SELECT over generate_series or the rows loaded before it.
 * Triggers (events, status, touch, foreign keys) are off while loading:
 * the columns they would set are set here, consistently. */
static void load(PGconn *c)
{
  printf("loading\n");
  /* One transaction: a failed load leaves the database empty. */
  run(c, "", "BEGIN");
  run(c, "", "SET LOCAL session_replication_role = replica");
  run(c, "", "SET LOCAL synchronous_commit = off");
  /* Mixed kinds; 40 collectors; every 8th wants a check-in, every 9th its
   * own cadence, every 50th asked us to stop calling; every 20th owes in
   * EUR. */
  run(c, "customers",
      "INSERT INTO customers (name, kind, email, collector, cadence_days, check_in_days, cease_communication, "
      "preferred_contact_days, created_at, updated_at) "
      "SELECT 'Bench customer ' || g, CASE WHEN g % 4 = 0 THEN 'consumer' ELSE 'commercial' END, "
      "'ap' || g || '@example.com', 'collector' || (g % 40) || '@example.com', "
      "CASE WHEN g % 9 = 0 THEN 5 END, CASE WHEN g % 8 = 0 THEN 30 + g % 61 END, g % 50 = 0, "
      "CASE WHEN g % 6 = 0 THEN ARRAY['tue', 'wed'] END, now() - interval '450 days', now() - interval '450 days' "
      "FROM generate_series(1, 100000) g");
  run(c, "", "CREATE TEMP TABLE bench_cus AS SELECT id, (row_number() OVER (ORDER BY id) - 1)::int AS n, "
             "CASE WHEN id % 20 = 0 THEN 'EUR' ELSE 'USD' END AS currency FROM customers");
  /* Ten invoices each, issued over the last 400 days on 15-60 day terms.
   * Of those past due, 38 in 100 are still open (35% of all invoices),
   * 6 in 100 of them half paid; the rest were paid.  Every 100th customer
   * sold one to a factor; a third of the receipts were confirmed. */
  run(c, "invoices",
      "INSERT INTO invoices (customer_id, number, currency, original_amount, amount, balance, issued_on, due_on, "
      "factored, status, receipt_confirmed_at, receipt_confirmed_via, created_at, updated_at) "
      "SELECT b.id, 'B-' || b.id || '-' || k, b.currency, v.amt, v.amt, "
      "CASE WHEN w.st = 'paid' THEN 0 WHEN v.h < 6 THEN v.amt / 2 ELSE v.amt END, "
      "v.issued, w.due, b.id % 100 = 0 AND k = 10, w.st, "
      "CASE WHEN v.h % 3 = 0 THEN (v.issued + 3)::timestamptz END, CASE WHEN v.h % 3 = 0 THEN 'email' END, "
      "v.issued::timestamptz, v.issued::timestamptz "
      "FROM bench_cus b CROSS JOIN generate_series(1, 10) k "
      "CROSS JOIN LATERAL (SELECT ((b.id * 7919 + k * 104729) % 100)::int AS h, "
      "  current_date - 400 + ((b.id * 37 + k * 41) % 400)::int AS issued, "
      "  (ARRAY[15, 30, 45, 60])[1 + (b.id + k) % 4] AS terms, 5000 + (b.id * 131 + k * 977) % 200000 AS amt) v "
      "CROSS JOIN LATERAL (SELECT v.issued + v.terms AS due, "
      "  CASE WHEN v.issued + v.terms < current_date AND v.h >= 38 THEN 'paid' ELSE 'open' END AS st) w");
  /* One payment per paid (or half-paid) invoice, referencing it, received
   * around its due date (some late), never after yesterday. */
  run(c, "payments",
      "INSERT INTO payments (customer_id, amount, currency, received_on, method, reference, status, unapplied, "
      "created_by, created_at, updated_at) "
      "SELECT i.customer_id, i.amount - i.balance, i.currency, "
      "least(greatest(i.issued_on, i.due_on - 10 + (i.id % 25)::int), current_date - 1), "
      "(ARRAY['ach', 'wire', 'check', 'card'])[1 + i.id % 4], i.number, 'received', 0, 'bench', now(), now() "
      "FROM invoices i WHERE i.balance < i.amount");
  run(c, "payment_allocations",
      "INSERT INTO payment_allocations (customer_id, payment_id, invoice_id, amount, created_at) "
      "SELECT p.customer_id, p.id, i.id, p.amount, p.created_at FROM payments p JOIN invoices i ON i.number = p.reference");
  /* Four contacts each for three customers in four, over the last 90
   * days: calls (answered or not), some inbound, some e-mails. */
  run(c, "call_logs",
      "INSERT INTO call_logs (customer_id, invoice_ids, channel, direction, outcome, contact_name, occurred_at, "
      "logged_by, created_at, updated_at) "
      "SELECT b.id, '{}', CASE WHEN g % 10 = 0 THEN 'email' ELSE 'phone' END, "
      "CASE WHEN g % 7 = 0 AND g % 10 <> 0 THEN 'inbound' ELSE 'outbound' END, "
      "CASE WHEN g % 10 = 0 THEN 'sent' ELSE (ARRAY['reached', 'no_answer', 'voicemail', 'reached', 'no_answer'])[1 + g % 5] END, "
      "'Accounts payable', now() - make_interval(days => g % 90, hours => g % 11), "
      "'collector' || (b.id % 40) || '@example.com', now(), now() "
      "FROM generate_series(1, 300000) g JOIN bench_cus b ON b.n = (g::bigint * 7919) % 75000");
  /* Promises from every fifth customer, due from 40 days ago to 10 days
   * ahead: those not yet due pending; of the others half kept, four in ten
   * broken, one in ten still pending (the sweep decides them). */
  run(c, "promises",
      "INSERT INTO promises (customer_id, amount, currency, promised_on, method, status, paid_amount, kept_at, "
      "broken_at, broken_on, created_by, created_at, updated_at) "
      "SELECT b.id, 10000 + b.n % 50000, b.currency, v.day, 'ach', v.st, "
      "CASE WHEN v.st = 'kept' THEN 10000 + b.n % 50000 ELSE 0 END, "
      "CASE WHEN v.st = 'kept' THEN v.day::timestamptz END, "
      "CASE WHEN v.st = 'broken' THEN (v.day + 2)::timestamptz END, CASE WHEN v.st = 'broken' THEN v.day + 2 END, 'bench', "
      "(v.day - 7)::timestamptz, (v.day - 7)::timestamptz "
      "FROM bench_cus b "
      "CROSS JOIN LATERAL (SELECT current_date - 40 + b.n % 50 AS day) d "
      "CROSS JOIN LATERAL (SELECT d.day, CASE WHEN d.day >= current_date - 1 THEN 'pending' "
      "  WHEN (b.n / 5) % 10 < 5 THEN 'kept' WHEN (b.n / 5) % 10 < 9 THEN 'broken' ELSE 'pending' END AS st) v "
      "WHERE b.n % 5 = 0");
  /* Open disputes on one open invoice each of 5,000 customers. */
  run(c, "disputes",
      "INSERT INTO disputes (customer_id, invoice_id, reason, amount, status, opened_by, created_at, updated_at) "
      "SELECT x.customer_id, x.id, 'pricing', x.balance, 'open', 'bench', x.at, x.at FROM ("
      "  SELECT DISTINCT ON (i.customer_id) i.customer_id, i.id, i.balance, "
      "         now() - make_interval(days => (i.id % 30)::int) AS at "
      "  FROM invoices i JOIN bench_cus b ON b.id = i.customer_id "
      "  WHERE i.status = 'open' AND b.n % 20 = 3 ORDER BY i.customer_id, i.id) x "
      "ORDER BY x.customer_id LIMIT 5000");
  /* Payment plans (P7) for every 33rd customer: four monthly
   * installments over its open, undisputed invoices, the first due 40 days
   * ago; half paid the first one.  The rest have missed two by now and
   * default in the first sweep (dunning resumes), the others are active with
   * one missed installment. */
  run(c, "payment_plans",
      "INSERT INTO payment_plans (customer_id, invoice_ids, currency, total, frequency, grace_days, max_missed, "
      "status, paid_amount, created_by, created_at, updated_at) "
      "SELECT i.customer_id, array_agg(i.id ORDER BY i.id), min(i.currency), sum(i.balance), 'monthly', 3, 2, "
      "'active', 0, 'bench', now() - interval '45 days', now() - interval '45 days' "
      "FROM invoices i JOIN bench_cus b ON b.id = i.customer_id "
      "WHERE b.n % 33 = 5 AND i.status = 'open' AND i.balance > 0 AND NOT i.factored "
      "AND NOT EXISTS (SELECT 1 FROM disputes d WHERE d.invoice_id = i.id) "
      "GROUP BY i.customer_id");
  run(c, "payment_plan_installments",
      "INSERT INTO payment_plan_installments (plan_id, customer_id, seq, due_on, amount, paid_amount, status, paid_at) "
      "SELECT p.id, p.customer_id, k, current_date - 70 + 30 * k, v.amount, "
      "CASE WHEN k = 1 AND p.id % 2 = 0 THEN v.amount ELSE 0 END, "
      "CASE WHEN k = 1 AND p.id % 2 = 0 THEN 'paid' ELSE 'pending' END, "
      "CASE WHEN k = 1 AND p.id % 2 = 0 THEN now() - interval '40 days' END "
      "FROM payment_plans p CROSS JOIN generate_series(1, 4) k "
      "CROSS JOIN LATERAL (SELECT CASE WHEN k < 4 THEN p.total / 4 ELSE p.total - 3 * (p.total / 4) END AS amount) v");
  run(c, "", "UPDATE payment_plans p SET paid_amount = x.paid FROM (SELECT plan_id, sum(paid_amount) AS paid "
             "FROM payment_plan_installments GROUP BY plan_id) x WHERE x.plan_id = p.id");
  run(c, "invoices in plans",
      "UPDATE invoices i SET plan_id = p.id FROM payment_plans p WHERE i.id = ANY (p.invoice_ids)");
  /* Escalations (P8) for every 41st customer: open at sales, every 4th of
   * them at legal (handed off), every 5th only proposed. */
  run(c, "escalations",
      "INSERT INTO escalations (customer_id, level, reason, assignee, status, proposed_by, proposed_at, opened_at, "
      "opened_by, created_at, updated_at) "
      "SELECT b.id, CASE WHEN b.n % 4 = 0 THEN 'legal' ELSE 'sales' END, 'bench', 'sales@example.com', "
      "CASE WHEN b.n % 5 = 0 THEN 'proposed' ELSE 'open' END, 'bench', now() - interval '20 days', "
      "CASE WHEN b.n % 5 <> 0 THEN now() - interval '20 days' END, 'bench', now() - interval '20 days', "
      "now() - interval '20 days' "
      "FROM bench_cus b WHERE b.n % 41 = 7");
  /* Consumers called often (P15): 2,000 of them with eight unanswered
   * calls over the last six days, past the seven-in-seven cap. */
  run(c, "call_logs (consumer cap)",
      "INSERT INTO call_logs (customer_id, invoice_ids, channel, direction, outcome, contact_name, occurred_at, "
      "logged_by, created_at, updated_at) "
      "SELECT b.id, '{}', 'phone', 'outbound', 'no_answer', 'Account holder', "
      "now() - make_interval(days => k % 6, hours => k), 'collector' || (b.id % 40) || '@example.com', now(), now() "
      "FROM bench_cus b CROSS JOIN generate_series(1, 8) k "
      "WHERE b.id % 4 = 0 AND b.n % 48 = 3");
  run(c, "", "DROP TABLE bench_cus");
  run(c, "", "COMMIT");
  run(c, "VACUUM ANALYZE", "VACUUM ANALYZE");
  /* The load wrote ~1.5 GB of WAL: its checkpoint would otherwise run
   * during the timed sweep, doubling that sweep's WAL with full-page images. */
  run(c, "CHECKPOINT", "CHECKPOINT");
}

/* Each rule alone, timed, in a transaction rolled back afterwards. */
static void profile(struct db *db, const char *as_of)
{
  printf("profile (each rule alone, rolled back) for as_of %s\n", as_of);
  run(db->conn, "", "BEGIN");
  const char *params[] = {as_of, "0"};
  double total = 0;
  for (const struct sweep_rule *rule = sweep_rules; rule->statement; rule++) {
    double t0 = now_s();
    PGresult *r = db_exec(db, rule->statement, 2, params);
    if (!r)
      die(db->conn, rule->name);
    double s = now_s() - t0;
    total += s;
    printf("  %-18s %8.3f s ", rule->name, s);
    for (int i = 0; i < PQntuples(r); i++)
      printf(" %s +%s -%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
    printf("\n");
    PQclear(r);
  }
  printf("  %-18s %8.3f s\n", "all rules", total);
  run(db->conn, "", "ROLLBACK");
}

/* CPU seconds the database server process behind CONN has used, or -1
 * when it cannot be read (a server on another machine): on a shared
 * machine it varies less from run to run than the wall clock. */
static double server_cpu_s(PGconn *conn)
{
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", PQbackendPID(conn));
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* Fields after the command name, which is in parentheses: utime and
   * stime are the 12th and 13th of them. */
  char *p = strrchr(buf, ')');
  unsigned long long utime = 0, stime = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return -1;
  return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* One timed sweep (FULL: every rule, whatever changed); prints its kind,
 * the run's counts, the events it wrote, the WAL it made and the server's
 * CPU time.  Returns what it did: follow-ups created and closed, and events
 * written. */
static long long timed_sweep(struct db *db, const char *label, const char *as_of, int full)
{
  struct reply rp = {0};
  long long last_event = value(db->conn, "SELECT coalesce(max(id), 0) FROM events");
  char *lsn = text_value(db->conn, "SELECT pg_current_wal_lsn()::text");
  double cpu0 = server_cpu_s(db->conn);
  double t0 = now_s();
  unsigned status = sweep_run(db, as_of, "api", SWEEP_WAIT, full, &rp);
  double secs = now_s() - t0;
  double cpu = cpu0 < 0 ? -1 : server_cpu_s(db->conn) - cpu0;
  json_t *doc = rp.json ? json_incref(rp.json) : json_loads(rp.text ? rp.text : "null", 0, NULL);
  if (status != 201) {
    char *text = json_dumps(doc, JSON_COMPACT);
    fprintf(stderr, "sweep_bench: %s: sweep answered %u: %s\n", label, status, text ? text : "");
    exit(1);
  }
  long long created_total = 0, closed_total = 0, events;
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(doc, "created"), k, v) created_total += json_integer_value(v);
  json_object_foreach(json_object_get(doc, "closed"), k, v) closed_total += json_integer_value(v);
  char *created = json_dumps(json_object_get(doc, "created"), JSON_COMPACT | JSON_SORT_KEYS);
  char *closed = json_dumps(json_object_get(doc, "closed"), JSON_COMPACT | JSON_SORT_KEYS);
  printf("%-22s as_of %s  %7.2f s  %-9s  created %lld %s  closed %lld %s\n", label,
         json_string_value(json_object_get(doc, "as_of")), secs, json_string_value(json_object_get(doc, "kind")),
         created_total, created, closed_total, closed);
  /* Escalations are not follow-ups: what the run proposed (or raised, or
   * proposed to climb) is counted by the run_id it left on them. */
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM escalations WHERE run_id = %lld",
           strtoll(json_string_value(json_object_get(doc, "id")), NULL, 10));
  printf("%-22s escalations proposed, raised or climbing: %lld", "", value(db->conn, sql));
  json_t *revisited = json_object_get(doc, "revisited");
  if (json_is_integer(revisited))
    printf("   customers revisited: %lld", (long long)json_integer_value(revisited));
  printf("\n");
  snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE id > %lld", last_event);
  events = value(db->conn, sql);
  snprintf(sql, sizeof sql, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '%s') / 1048576", lsn);
  printf("%-22s events written: %lld   WAL: %lld MB   server CPU: %.2f s\n", "", events, value(db->conn, sql), cpu);
  free(lsn);
  free(created);
  free(closed);
  json_decref(doc);
  reply_clear(&rp);
  return created_total + closed_total + events;
}

/* A preview of AS_OF (nothing written); prints its time and counts. */
static void timed_preview(struct db *db, const char *as_of)
{
  struct reply rp = {0};
  char *lsn = text_value(db->conn, "SELECT pg_current_wal_lsn()::text");
  double t0 = now_s();
  unsigned status = sweep_preview(db, as_of, 100, &rp);
  double secs = now_s() - t0;
  json_t *doc = json_loads(rp.text ? rp.text : "null", 0, NULL);
  if (status != 200 || !doc) {
    fprintf(stderr, "sweep_bench: preview answered %u: %s\n", status, rp.text ? rp.text : "");
    exit(1);
  }
  char *created = json_dumps(json_object_get(doc, "created"), JSON_COMPACT | JSON_SORT_KEYS);
  char *proposed = json_dumps(json_object_get(doc, "proposed"), JSON_COMPACT | JSON_SORT_KEYS);
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '%s') / 1048576", lsn);
  printf("%-22s as_of %s  %7.2f s  preview    would create %s, propose %s; WAL %lld MB (rolled back)\n",
         "preview of next day", as_of, secs, created, proposed, value(db->conn, sql));
  free(created);
  free(proposed);
  free(lsn);
  json_decref(doc);
  reply_clear(&rp);
}

/* 1,000 writes spread over the book, as the API makes them (triggers on):
 * 400 call logs, 300 payments (auto-allocated, arc_payment_record as
 * POST /v1/payments runs it) and 300 promises, for random customers. */
static void scattered_writes(PGconn *c)
{
  double t0 = now_s();
  run(c, "", "SELECT setseed(0.13)");
  run(c, "", "BEGIN");
  run(c, "", "SELECT set_config('arc.actor', 'bench', true)");
  run(c, "", "INSERT INTO call_logs (customer_id, channel, direction, outcome, occurred_at, logged_by) "
             "SELECT 1 + (random() * 99999)::bigint, 'phone', 'outbound', 'no_answer', now() - interval '1 minute', 'bench' "
             "FROM generate_series(1, 400)");
  run(c, "", "SELECT arc_payment_record(jsonb_build_object('customer_id', x.id::text, 'amount', 1000, "
             "'currency', x.currency, 'received_on', to_char(current_date, 'YYYY-MM-DD'), 'method', 'check'), 'bench') "
             "FROM (SELECT c.id, coalesce((SELECT i.currency FROM invoices i WHERE i.customer_id = c.id LIMIT 1), 'USD') "
             "      AS currency FROM customers c WHERE c.id IN (SELECT 1 + (random() * 99999)::bigint "
             "                                                   FROM generate_series(1, 300))) x");
  run(c, "", "INSERT INTO promises (customer_id, amount, currency, promised_on, created_by) "
             "SELECT x.id, 5000, 'USD', current_date + 7, 'bench' "
             "FROM (SELECT DISTINCT 1 + (random() * 99999)::bigint AS id FROM generate_series(1, 300)) x "
             "WHERE NOT EXISTS (SELECT 1 FROM promises p WHERE p.customer_id = x.id AND p.status = 'pending')");
  run(c, "", "COMMIT");
  printf("%-22s 1,000 writes (400 call logs, 300 payments, 300 promises) in %.2f s; %lld customers marked\n",
         "scattered writes", now_s() - t0, value(c, "SELECT count(*) FROM sweep_changes"));
}

/* The bare SQL that reads what the rules read, for comparison: the open
 * invoices by customer, the last contact of each, the open follow-ups. */
static void bare_reads(PGconn *c)
{
  double t0 = now_s();
  run(c, "", "SELECT count(*), sum(x.n) FROM (SELECT i.customer_id, count(*) AS n, sum(i.balance), min(i.due_on) "
             "FROM invoices i WHERE i.status = 'open' AND i.balance > 0 AND i.due_on < current_date "
             "GROUP BY i.customer_id) x");
  double invoices = now_s() - t0;
  t0 = now_s();
  run(c, "", "SELECT count(*) FROM (SELECT DISTINCT ON (l.customer_id) l.customer_id, l.id FROM call_logs l "
             "ORDER BY l.customer_id, l.occurred_at DESC, l.id DESC) x");
  double logs = now_s() - t0;
  t0 = now_s();
  run(c, "", "SELECT count(*), sum(f.amount_overdue) FROM follow_ups f WHERE f.status IN ('open', 'snoozed')");
  printf("%-22s overdue invoices by customer %.2f s, last contacts %.2f s, open follow-ups %.2f s\n",
         "bare SQL, same rows", invoices, logs, now_s() - t0);
}

int main(int argc, char **argv)
{
  setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows as it happens, also into a file */
  int want_profile = argc == 2 && strcmp(argv[1], "--profile") == 0;
  int load_only = argc == 2 && strcmp(argv[1], "--load-only") == 0;
  if (argc > 2 || (argc == 2 && !want_profile && !load_only)) {
    fprintf(stderr, "usage: DATABASE_URL=... sweep_bench [--profile | --load-only]\n");
    return 2;
  }
  /* A sweep this size is measured, not cut short: no statement timeout
   * unless one is asked for. */
  setenv("ARC_STATEMENT_TIMEOUT_MS", "3600000", 0);
  struct config cfg;
  if (config_load(&cfg) != 0)
    return 2;

  PGconn *c = db_connect_raw(cfg.database_url);
  if (!c)
    return 1;
  if (db_migrate(c, cfg.migrations_dir, cfg.code_dir, 0) != 0)
    die(c, "migrations failed");
  if (value(c, "SELECT count(*) FROM customers") != 0) {
    fprintf(stderr, "sweep_bench: the database already has customers; give it an empty database\n");
    return 2;
  }
  char *server = text_value(c, "SELECT current_setting('server_version') || ', shared_buffers ' || "
                               "current_setting('shared_buffers') || ', work_mem ' || current_setting('work_mem')");
  printf("cores: %ld   PostgreSQL %s\n", sysconf(_SC_NPROCESSORS_ONLN), server);
  free(server);
  double t0 = now_s();
  load(c);
  printf("loaded in %.1f s: %lld customers, %lld invoices (%lld open and overdue), %lld payments, "
         "%lld call logs, %lld promises, %lld open disputes\n",
         now_s() - t0, value(c, "SELECT count(*) FROM customers"), value(c, "SELECT count(*) FROM invoices"),
         value(c, "SELECT count(*) FROM invoices WHERE status = 'open' AND due_on < current_date"),
         value(c, "SELECT count(*) FROM payments"), value(c, "SELECT count(*) FROM call_logs"),
         value(c, "SELECT count(*) FROM promises"), value(c, "SELECT count(*) FROM disputes WHERE status = 'open'"));
  if (load_only) {
    PQfinish(c);
    config_free(&cfg);
    return 0;
  }
  char *as_of = text_value(c, "SELECT arc_ts(now())");
  char *next_day = text_value(c, "SELECT arc_ts(now() + interval '1 day')");
  PQfinish(c);

  if (db_pool_init(&cfg) != 0)
    return 1;
  struct db *db = db_thread();
  if (!db_ready(db)) {
    fprintf(stderr, "sweep_bench: cannot connect and prepare statements\n");
    return 1;
  }
  db->actor = "bench";
  if (want_profile)
    profile(db, as_of);
  timed_sweep(db, "first sweep", as_of, 0);
  timed_sweep(db, "same as_of again", as_of, 0);
  if (want_profile)
    profile(db, as_of);
  long long again = timed_sweep(db, "again, every rule", as_of, 1);
  timed_preview(db, next_day);
  scattered_writes(db->conn);
  char *later = text_value(db->conn, "SELECT arc_ts(now())"); /* after the writes; the same day, mostly */
  timed_sweep(db, "after 1,000 writes", later, 0);
  free(later);
  if (want_profile)
    profile(db, next_day);
  timed_sweep(db, "next day", next_day, 0);
  /* The incremental sweeps left the book as full ones would: every rule
   * now finds nothing to do. */
  long long after = timed_sweep(db, "next day, every rule", next_day, 1);
  bare_reads(db->conn);
  printf("follow-ups: %lld open\n", value(db->conn, "SELECT count(*) FROM follow_ups WHERE status = 'open'"));
  db_pool_shutdown();
  free(as_of);
  free(next_day);
  config_free(&cfg);
  if (again != 0 || after != 0) {
    fprintf(stderr, "sweep_bench: a sweep of every rule after the others made, closed or recorded %lld and %lld "
            "(should be 0)\n", again, after);
    return 1;
  }
  return 0;
}
