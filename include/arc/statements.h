/* The statement registry: every module's statement list, each defined in
 * the module's repository file, all prepared on every new connection by
 * the pool (src/db/statements.c lists them), so a SQL typo fails at
 * start-up.  A module's functions live in its own header; its statements
 * are named here only. */
#ifndef ARC_STATEMENTS_H
#define ARC_STATEMENTS_H

#include "arc/db.h"

/* Infrastructure: src/http/health.c, src/db/tx.c, src/http/idempotency.c,
 * src/auth/api_keys_repo.c. */
extern const struct db_stmt health_stmts[];
extern const struct db_stmt db_tx_stmts[];
extern const struct db_stmt idempotency_stmts[];
extern const struct db_stmt api_keys_stmts[];

/* The ledger (src/ledger/ *_repo.c). */
extern const struct db_stmt customers_stmts[];
extern const struct db_stmt contacts_stmts[];
extern const struct db_stmt invoices_stmts[];
extern const struct db_stmt adjustments_stmts[];
extern const struct db_stmt payments_stmts[];

/* The collection work (src/work/ *_repo.c). */
extern const struct db_stmt call_logs_stmts[];
extern const struct db_stmt promises_stmts[];
extern const struct db_stmt disputes_stmts[];
extern const struct db_stmt payment_plans_stmts[];
extern const struct db_stmt escalations_stmts[];
extern const struct db_stmt receipts_stmts[];
extern const struct db_stmt call_sheet_stmts[];

/* The scheduler (src/schedule/ *_repo.c and rules.c). */
extern const struct db_stmt follow_ups_stmts[];
extern const struct db_stmt runs_stmts[];
extern const struct db_stmt sweep_stmts[];

/* Integrations (src/integrate/ *_repo.c). */
extern const struct db_stmt events_stmts[];
extern const struct db_stmt reports_stmts[];
extern const struct db_stmt webhooks_stmts[];
extern const struct db_stmt imports_stmts[];

/* GET /metrics (src/http/metrics_get.c). */
extern const struct db_stmt metrics_stmts[];

/* All of the above, NULL-terminated (src/db/statements.c). */
extern const struct db_stmt *const db_statement_lists[];

#endif
