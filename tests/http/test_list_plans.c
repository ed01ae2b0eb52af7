/* Filtered lists read the filter's index under the plan the server keeps.
 * A statement is prepared once per connection, and after five executions
 * PostgreSQL may keep a generic plan, made without the parameters' values:
 * "($3 IS NULL OR customer_id = $3)" then cannot use an index, and a rare
 * customer meant a walk of every invoice.  Each list has a statement per
 * selective filter (docs/conventions.md, "list statement"); this test
 * prepares a copy of each one's SQL, as the server does, forces the
 * generic plan, and asserts that the plan reads the filter's index and not
 * the table's primary key.  The tables are near empty here, where a
 * sequential scan beats any index; enable_seqscan = off takes that way
 * out, so what is left is the choice that matters on a large book: the
 * filter's index or a walk of the primary key.  A GIN index (?invoice_id)
 * is costed from its size, so those three tables get 20,000 rows first, in
 * a transaction rolled back at the end.  (bench/list_plans times the same
 * plans on a million invoices.) */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/statements.h"

struct plan_case {
  const char *stmt;
  int n;
  const char *params[10]; /* SQL literals, NULL for NULL */
  const char *index;      /* the index the plan must read */
  const char *pkey;       /* the primary key it must not walk */
};

#define I "invoices_pkey"
static const struct plan_case cases[] = {
    {"invoices_select_page_by_customer", 9, {NULL, "51", "1"}, "invoices_customer_idx", I},
    {"invoices_select_page_by_status", 9, {NULL, "51", NULL, "'void'"}, "invoices_status_list_idx", I},
    {"invoices_select_page_by_number", 9, {NULL, "51", NULL, NULL, "'INV-1'"}, "invoices_number_key", I},
    {"invoices_select_page_by_external_id", 9, {NULL, "51", NULL, NULL, NULL, "'x'"}, "invoices_external_id_key", I},
    {"payments_select_page_by_customer", 8, {NULL, "51", "1"}, "payments_customer_idx", "payments_pkey"},
    {"payments_select_page_by_status", 8, {NULL, "51", NULL, "'reversed'"}, "payments_status_list_idx",
     "payments_pkey"},
    {"payments_select_page_by_external_id", 8, {NULL, "51", NULL, NULL, "'x'"}, "payments_external_id_key",
     "payments_pkey"},
    {"customers_select_page_by_external_id", 9, {NULL, "51", "'x'"}, "customers_external_id_key", "customers_pkey"},
    {"customers_select_page_by_collector", 9, {NULL, "51", NULL, NULL, "'a@example.com'"}, "customers_collector_idx",
     "customers_pkey"},
    {"customers_select_page_by_salesperson", 9, {NULL, "51", NULL, NULL, NULL, "'a@example.com'"},
     "customers_salesperson_idx", "customers_pkey"},
    {"call_logs_select_page_by_customer", 10, {NULL, "51", "1"}, "call_logs_customer_list_idx", "call_logs_pkey"},
    {"call_logs_select_page_by_invoice", 10, {NULL, "51", NULL, "1"}, "call_logs_invoice_idx", "call_logs_pkey"},
    {"call_logs_select_page_by_logged_by", 10, {NULL, "51", NULL, NULL, NULL, NULL, NULL, NULL, NULL, "'a'"},
     "call_logs_logged_by_idx", "call_logs_pkey"},
    {"promises_select_page_by_customer", 9, {NULL, "51", "1"}, "promises_customer_idx", "promises_pkey"},
    {"promises_select_page_by_status", 9, {NULL, "51", NULL, "'cancelled'"}, "promises_status_idx", "promises_pkey"},
    {"promises_select_page_by_call_log", 9, {NULL, "51", NULL, NULL, "1"}, "promises_call_log_id_key",
     "promises_pkey"},
    {"promises_select_page_by_invoice", 9, {NULL, "51", NULL, NULL, NULL, "1"}, "promises_invoice_ids_idx",
     "promises_pkey"},
    {"disputes_select_page_by_customer", 6, {NULL, "51", "1"}, "disputes_customer_idx", "disputes_pkey"},
    {"disputes_select_page_by_invoice", 6, {NULL, "51", NULL, "1"}, "disputes_invoice_idx", "disputes_pkey"},
    {"disputes_select_page_by_status", 6, {NULL, "51", NULL, NULL, "'rejected'"}, "disputes_status_idx",
     "disputes_pkey"},
    {"payment_plans_select_page_by_customer", 5, {NULL, "51", "1"}, "payment_plans_customer_idx",
     "payment_plans_pkey"},
    {"payment_plans_select_page_by_status", 5, {NULL, "51", NULL, "'cancelled'"}, "payment_plans_status_idx",
     "payment_plans_pkey"},
    {"payment_plans_select_page_by_invoice", 5, {NULL, "51", NULL, NULL, "1"}, "payment_plans_invoice_ids_idx",
     "payment_plans_pkey"},
    {"escalations_select_page_by_customer", 6, {NULL, "51", "1"}, "escalations_customer_idx", "escalations_pkey"},
    {"escalations_select_page_by_status", 6, {NULL, "51", NULL, "'resolved'"}, "escalations_status_idx",
     "escalations_pkey"},
    {"escalations_select_page_by_assignee", 6, {NULL, "51", NULL, NULL, NULL, "'a'"}, "escalations_assignee_idx",
     "escalations_pkey"},
    {"events_select_feed_by_customer", 5, {NULL, "51", NULL, "1"}, "events_customer_idx", "events_feed_idx"},
};

/* The generic plan of statement K's SQL for its parameters, as JSON text. */
static char *generic_plan(PGconn *c, const struct plan_case *k)
{
  const char *sql = db_statement_sql(k->stmt);
  if (!sql)
    fail_msg("%s: no such statement in the repositories' lists", k->stmt);
  exec_ok(c, "DEALLOCATE ALL");
  PGresult *r = PQprepare(c, "plan_case", sql, 0, NULL);
  if (PQresultStatus(r) != PGRES_COMMAND_OK)
    fail_msg("%s: %s", k->stmt, PQerrorMessage(c));
  PQclear(r);
  char explain[512];
  size_t used = (size_t)snprintf(explain, sizeof explain, "EXPLAIN (FORMAT JSON) EXECUTE plan_case(");
  for (int i = 0; i < k->n; i++)
    used += (size_t)snprintf(explain + used, sizeof explain - used, "%s%s", i ? ", " : "",
                             k->params[i] ? k->params[i] : "NULL");
  snprintf(explain + used, sizeof explain - used, ")");
  r = PQexec(c, explain);
  if (PQresultStatus(r) != PGRES_TUPLES_OK)
    fail_msg("%s: %s", k->stmt, PQerrorMessage(c));
  char *plan = strdup(PQgetvalue(r, 0, 0));
  PQclear(r);
  return plan;
}

static int plan_reads(const char *plan, const char *index)
{
  char needle[160];
  snprintf(needle, sizeof needle, "\"Index Name\": \"%s\"", index);
  return strstr(plan, needle) != NULL;
}

static void filtered_lists_read_their_index(void **state)
{
  (void)state;
  PGconn *c = PQconnectdb(getenv("DATABASE_URL"));
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  exec_ok(c, "BEGIN");
  exec_ok(c, "SET LOCAL session_replication_role = replica"); /* no triggers, no foreign keys */
  exec_ok(c, "INSERT INTO call_logs (customer_id, invoice_ids, channel, direction, outcome, contact_name, "
             "occurred_at, logged_by) SELECT g % 500 + 1, ARRAY[g], 'phone', 'outbound', 'reached', 'x', now(), 'a' "
             "FROM generate_series(1, 20000) g");
  exec_ok(c, "INSERT INTO promises (customer_id, invoice_ids, amount, currency, promised_on, created_by) "
             "SELECT g % 500 + 1, ARRAY[g], 100, 'USD', current_date, 'a' FROM generate_series(1, 20000) g");
  exec_ok(c, "INSERT INTO payment_plans (customer_id, invoice_ids, currency, total, grace_days, max_missed, "
             "created_by, status) SELECT g, ARRAY[g], 'USD', 100, 0, 1, 'a', 'completed' "
             "FROM generate_series(1, 20000) g");
  exec_ok(c, "ANALYZE");
  exec_ok(c, "SET plan_cache_mode = force_generic_plan");
  exec_ok(c, "SET enable_seqscan = off");
  int bad = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct plan_case *k = &cases[i];
    char *plan = generic_plan(c, k);
    if (!plan_reads(plan, k->index) || plan_reads(plan, k->pkey)) {
      fprintf(stderr, "%s: the generic plan does not read %s alone:\n%s\n", k->stmt, k->index, plan);
      bad++;
    }
    free(plan);
  }
  exec_ok(c, "ROLLBACK");
  PQfinish(c);
  assert_int_equal(bad, 0);
}

/* Every variant of a list statement (a name with "_by_") is in the table
 * above, so a new one cannot go untested. */
static void every_variant_is_checked(void **state)
{
  (void)state;
  int missing = 0;
  for (const struct db_stmt *const *l = db_statement_lists; *l; l++)
    for (const struct db_stmt *s = *l; s->name; s++) {
      if (!strstr(s->name, "_select_page_by_") && !strstr(s->name, "_select_feed_by_"))
        continue;
      size_t i = 0;
      while (i < sizeof cases / sizeof cases[0] && strcmp(cases[i].stmt, s->name) != 0)
        i++;
      if (i == sizeof cases / sizeof cases[0]) {
        fprintf(stderr, "%s has no case in test_list_plans.c\n", s->name);
        missing++;
      }
    }
  assert_int_equal(missing, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(filtered_lists_read_their_index),
      cmocka_unit_test(every_variant_is_checked),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
