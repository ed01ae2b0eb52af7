/* list_plans: how long each filtered list takes under the plan the server
 * ends up with.  The server prepares its statements once per connection,
 * and after five executions PostgreSQL may keep a generic plan, one that
 * does not know the filter's value.  For each case below this program
 * prepares the statement's own SQL (from the repositories' statement
 * lists, as the server does), sets plan_cache_mode = force_generic_plan,
 * and runs EXPLAIN (ANALYZE, BUFFERS) EXECUTE with a rare and a common
 * value of the filter, read from the database.  Run it on the book of
 * sweep_bench --load-only (see bench/README.md, "Filtered lists").
 *
 *   list_plans            DATABASE_URL names the database
 *
 * The statement is the variant a handler picks for the filter (e.g.
 * invoices_select_page_by_customer); a build without that variant uses
 * the list's one statement, so the same program measures before and
 * after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "arc/statements.h"

#define RUNS 5

/* PARAMS: the statement's parameters in order, "?" for the filter's value,
 * NULL for SQL NULL.  RARE and COMMON: SQL giving one value each. */
struct list_case {
  const char *label, *list, *variant;
  int n;
  const char *params[10];
  const char *rare, *common;
};

#define N9 NULL, NULL, NULL, NULL, NULL, NULL, NULL
static const struct list_case cases[] = {
    {"invoices ?customer_id", "invoices_select_page", "invoices_select_page_by_customer", 9,
     {NULL, "51", "?", N9}, "SELECT max(id) FROM customers", "SELECT min(id) FROM customers"},
    {"invoices ?status", "invoices_select_page", "invoices_select_page_by_status", 9,
     {NULL, "51", NULL, "?", NULL, NULL, NULL, NULL, NULL}, "SELECT 'void'", "SELECT 'paid'"},
    {"invoices ?number", "invoices_select_page", "invoices_select_page_by_number", 9,
     {NULL, "51", NULL, NULL, "?", NULL, NULL, NULL, NULL}, "SELECT max(number) FROM invoices", NULL},
    {"invoices ?external_id", "invoices_select_page", "invoices_select_page_by_external_id", 9,
     {NULL, "51", NULL, NULL, NULL, "?", NULL, NULL, NULL}, "SELECT 'no-such-id'", NULL},
    {"payments ?customer_id", "payments_select_page", "payments_select_page_by_customer", 8,
     {NULL, "51", "?", NULL, NULL, NULL, NULL, NULL}, "SELECT max(customer_id) FROM payments",
     "SELECT min(customer_id) FROM payments"},
    {"payments ?status", "payments_select_page", "payments_select_page_by_status", 8,
     {NULL, "51", NULL, "?", NULL, NULL, NULL, NULL}, "SELECT 'reversed'", "SELECT 'received'"},
    {"payments ?external_id", "payments_select_page", "payments_select_page_by_external_id", 8,
     {NULL, "51", NULL, NULL, "?", NULL, NULL, NULL}, "SELECT 'no-such-id'", NULL},
    {"customers ?external_id", "customers_select_page", "customers_select_page_by_external_id", 9,
     {NULL, "51", "?", N9}, "SELECT 'no-such-id'", NULL},
    {"customers ?collector", "customers_select_page", "customers_select_page_by_collector", 9,
     {NULL, "51", NULL, NULL, "?", NULL, NULL, NULL, NULL}, "SELECT 'nobody@example.com'",
     "SELECT min(collector) FROM customers"},
    {"customers ?salesperson", "customers_select_page", "customers_select_page_by_salesperson", 9,
     {NULL, "51", NULL, NULL, NULL, "?", NULL, NULL, NULL}, "SELECT 'nobody@example.com'", NULL},
    {"call-logs ?customer_id", "call_logs_select_page", "call_logs_select_page_by_customer", 10,
     {NULL, "51", "?", NULL, NULL, NULL, NULL, NULL, NULL, NULL}, "SELECT max(customer_id) FROM call_logs",
     "SELECT min(customer_id) FROM call_logs"},
    {"call-logs ?invoice_id", "call_logs_select_page", "call_logs_select_page_by_invoice", 10,
     {NULL, "51", NULL, "?", NULL, NULL, NULL, NULL, NULL, NULL}, "SELECT max(id) FROM invoices", NULL},
    {"call-logs ?logged_by", "call_logs_select_page", "call_logs_select_page_by_logged_by", 10,
     {NULL, "51", NULL, NULL, NULL, NULL, NULL, NULL, NULL, "?"}, "SELECT 'nobody@example.com'",
     "SELECT min(logged_by) FROM call_logs"},
    {"promises ?customer_id", "promises_select_page", "promises_select_page_by_customer", 9,
     {NULL, "51", "?", N9}, "SELECT max(customer_id) FROM promises", NULL},
    {"promises ?status", "promises_select_page", "promises_select_page_by_status", 9,
     {NULL, "51", NULL, "?", NULL, NULL, NULL, NULL, NULL}, "SELECT 'cancelled'", "SELECT 'kept'"},
    {"promises ?call_log_id", "promises_select_page", "promises_select_page_by_call_log", 9,
     {NULL, "51", NULL, NULL, "?", NULL, NULL, NULL, NULL}, "SELECT max(id) FROM call_logs", NULL},
    {"promises ?invoice_id", "promises_select_page", "promises_select_page_by_invoice", 9,
     {NULL, "51", NULL, NULL, NULL, "?", NULL, NULL, NULL}, "SELECT max(id) FROM invoices", NULL},
    {"disputes ?customer_id", "disputes_select_page", "disputes_select_page_by_customer", 6,
     {NULL, "51", "?", NULL, NULL, NULL}, "SELECT max(customer_id) FROM disputes", NULL},
    {"disputes ?invoice_id", "disputes_select_page", "disputes_select_page_by_invoice", 6,
     {NULL, "51", NULL, "?", NULL, NULL}, "SELECT max(invoice_id) FROM disputes", NULL},
    {"disputes ?status", "disputes_select_page", "disputes_select_page_by_status", 6,
     {NULL, "51", NULL, NULL, "?", NULL}, "SELECT 'rejected'", "SELECT 'open'"},
    {"payment-plans ?customer_id", "payment_plans_select_page", "payment_plans_select_page_by_customer", 5,
     {NULL, "51", "?", NULL, NULL}, "SELECT max(customer_id) FROM payment_plans", NULL},
    {"payment-plans ?status", "payment_plans_select_page", "payment_plans_select_page_by_status", 5,
     {NULL, "51", NULL, "?", NULL}, "SELECT 'cancelled'", "SELECT 'active'"},
    {"payment-plans ?invoice_id", "payment_plans_select_page", "payment_plans_select_page_by_invoice", 5,
     {NULL, "51", NULL, NULL, "?"}, "SELECT max(invoice_ids[1]) FROM payment_plans", NULL},
    {"escalations ?customer_id", "escalations_select_page", "escalations_select_page_by_customer", 6,
     {NULL, "51", "?", NULL, NULL, NULL}, "SELECT max(customer_id) FROM escalations", NULL},
    {"escalations ?status", "escalations_select_page", "escalations_select_page_by_status", 6,
     {NULL, "51", NULL, "?", NULL, NULL}, "SELECT 'resolved'", "SELECT 'open'"},
    {"escalations ?assignee", "escalations_select_page", "escalations_select_page_by_assignee", 6,
     {NULL, "51", NULL, NULL, NULL, "?"}, "SELECT 'nobody@example.com'", NULL},
    {"events ?customer_id", "events_select_feed", "events_select_feed_by_customer", 5,
     {NULL, "51", NULL, "?", NULL}, "SELECT max(customer_id) FROM events", "SELECT 1"},
};

static PGresult *ok(PGconn *c, PGresult *r, const char *what)
{
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    fprintf(stderr, "list_plans: %s: %s", what, PQerrorMessage(c));
    exit(1);
  }
  return r;
}

/* The first index a plan node (or one below it) reads, or its node type. */
static void first_access(json_t *plan, char *out, size_t size)
{
  const char *idx = json_string_value(json_object_get(plan, "Index Name"));
  const char *node = json_string_value(json_object_get(plan, "Node Type"));
  if (idx || (node && strstr(node, "Seq Scan"))) {
    snprintf(out, size, "%s%s%s", node, idx ? " " : "", idx ? idx : "");
    return;
  }
  json_t *kids = json_object_get(plan, "Plans");
  for (size_t i = 0; i < json_array_size(kids) && !out[0]; i++)
    first_access(json_array_get(kids, i), out, size);
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void measure(PGconn *c, const struct list_case *k, const char *stmt, const char *kind, const char *value_sql)
{
  PGresult *r = ok(c, PQexec(c, value_sql), value_sql);
  if (PQntuples(r) < 1 || PQgetisnull(r, 0, 0)) {
    printf("%-30s %-6s (no value in this book)\n", k->label, kind);
    PQclear(r);
    return;
  }
  char *value = PQescapeLiteral(c, PQgetvalue(r, 0, 0), PQgetlength(r, 0, 0));
  PQclear(r);
  char sql[1024];
  size_t used = (size_t)snprintf(sql, sizeof sql, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE lp(");
  for (int i = 0; i < k->n; i++) {
    const char *p = k->params[i];
    used += (size_t)snprintf(sql + used, sizeof sql - used, "%s%s%s%s", i ? ", " : "", p && strcmp(p, "?") != 0 ? "'" : "",
                             !p ? "NULL" : strcmp(p, "?") == 0 ? value : p, p && strcmp(p, "?") != 0 ? "'" : "");
  }
  snprintf(sql + used, sizeof sql - used, ")");
  double ms[RUNS];
  long long rows = 0, blocks = 0;
  char access[128] = "";
  for (int run = 0; run < RUNS; run++) {
    r = ok(c, PQexec(c, sql), sql);
    json_t *doc = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    json_t *top = json_array_get(doc, 0), *plan = json_object_get(top, "Plan");
    ms[run] = json_number_value(json_object_get(top, "Execution Time"));
    rows = json_integer_value(json_object_get(plan, "Actual Rows"));
    blocks = json_integer_value(json_object_get(plan, "Shared Hit Blocks")) +
             json_integer_value(json_object_get(plan, "Shared Read Blocks"));
    access[0] = '\0';
    first_access(plan, access, sizeof access);
    json_decref(doc);
    PQclear(r);
  }
  qsort(ms, RUNS, sizeof ms[0], cmp_double);
  printf("%-30s %-6s %-22.22s %4lld rows %8.2f ms %7lld buffers  %s  (%s)\n", k->label, kind, value, rows,
         ms[RUNS / 2], blocks, access, stmt);
  PQfreemem(value);
}

int main(void)
{
  const char *url = getenv("DATABASE_URL");
  PGconn *c = PQconnectdb(url ? url : "");
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "list_plans: %s", PQerrorMessage(c));
    return 1;
  }
  PQclear(ok(c, PQexec(c, "SET plan_cache_mode = force_generic_plan"), "SET"));
  printf("generic plans, median of %d runs, 50 rows a page\n", RUNS);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct list_case *k = &cases[i];
    const char *stmt = db_statement_sql(k->variant) ? k->variant : k->list;
    PQclear(ok(c, PQexec(c, "DEALLOCATE ALL"), "DEALLOCATE"));
    PQclear(ok(c, PQprepare(c, "lp", db_statement_sql(stmt), 0, NULL), stmt));
    measure(c, k, stmt, "rare", k->rare);
    if (k->common)
      measure(c, k, stmt, "common", k->common);
  }
  PQfinish(c);
  return 0;
}
