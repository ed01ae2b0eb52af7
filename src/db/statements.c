/* Every module's statement list: all are prepared on each new connection,
 * so a typo in any SQL fails at start-up, not on first use. */
#include <string.h>

#include "arc/statements.h"

const struct db_stmt *const db_statement_lists[] = {
    health_stmts,
    db_tx_stmts,
    idempotency_stmts,
    api_keys_stmts,
    customers_stmts,
    contacts_stmts,
    invoices_stmts,
    adjustments_stmts,
    payments_stmts,
    call_logs_stmts,
    promises_stmts,
    disputes_stmts,
    payment_plans_stmts,
    escalations_stmts,
    receipts_stmts,
    call_sheet_stmts,
    follow_ups_stmts,
    runs_stmts,
    sweep_stmts,
    events_stmts,
    reports_stmts,
    webhooks_stmts,
    imports_stmts,
    metrics_stmts,
    meta_stmts,
    NULL,
};

const char *db_statement_sql(const char *name)
{
  for (const struct db_stmt *const *l = db_statement_lists; *l; l++)
    for (const struct db_stmt *s = *l; s->name; s++)
      if (strcmp(s->name, name) == 0)
        return s->sql;
  return NULL;
}
