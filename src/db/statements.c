/* Every module's statement list: all are prepared on each new connection,
 * so a typo in any SQL fails at start-up, not on first use. */
#include "arc/api_keys.h"
#include "arc/db.h"
#include "arc/events.h"
#include "arc/idempotency.h"
#include "arc/sweep.h"
#include "arc/ledger.h"

extern const struct db_stmt health_stmts[];
extern const struct db_stmt db_tx_stmts[];

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
    NULL,
};
