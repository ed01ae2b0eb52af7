/* Statement lists of the ledger repositories (the src/ledger/ *_repo.c files). */
#ifndef ARC_LEDGER_H
#define ARC_LEDGER_H

#include "arc/db.h"

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
extern const struct db_stmt reports_stmts[];
extern const struct db_stmt webhooks_stmts[];
extern const struct db_stmt imports_stmts[];
extern const struct db_stmt metrics_stmts[];
extern const struct db_stmt receipts_stmts[];
extern const struct db_stmt call_sheet_stmts[];
/* The scheduler's (src/schedule/ *_repo.c and rules.c). */
extern const struct db_stmt follow_ups_stmts[];
extern const struct db_stmt runs_stmts[];

#endif
