/* The statement registry: every module's statement list, each defined in
 * the module's repository file, all prepared on every new connection by
 * the pool (src/db/statements.c lists them), so a SQL typo fails at
 * start-up.  A module's functions live in its own header; its statements
 * are named here only. */
#ifndef ARC_STATEMENTS_H
#define ARC_STATEMENTS_H

#include "arc/db.h"

/* Pieces of list statements (docs/conventions.md, "list statement"); the
 * plan a list keeps is a generic one, planned without the parameters'
 * values, so each piece is written for that plan.
 *
 * LIST_AFTER: the keyset cursor P (NULL: the first page) as a range of
 * COL, so the index gives the page (ids are identities, from 1).
 * LIST_IF: an optional filter, COND when parameter P is given.  Written as a
 * CASE because the planner estimates "(P IS NULL OR COND)" at 0.5 % of the
 * rows: a few of them made every page look like one row, and a sort of the
 * whole table look free.
 * LIST_BY: the filter COL = P of a list's variant for that filter, as the
 * range of an index (COL, ID) from (P, cursor) to the last P, with ORDER BY
 * COL, ID (the same order as ID, COL being fixed): no other index gives that
 * order, so even a generic plan reads the filter's index, and reads just
 * the page. */
#define LIST_AFTER(col, p) col " > coalesce(" p ", 0)"
#define LIST_IF(p, cond) "CASE WHEN " p " IS NULL THEN true ELSE " cond " END"
#define LIST_BY(col, p, id, cursor) \
  col " <= " p " AND (" col ", " id ") > (" p ", coalesce(" cursor ", 0))"

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

/* GET /v1/meta (src/http/meta.c). */
extern const struct db_stmt meta_stmts[];

/* GET /metrics (src/http/metrics_get.c). */
extern const struct db_stmt metrics_stmts[];

/* All of the above, NULL-terminated (src/db/statements.c). */
extern const struct db_stmt *const db_statement_lists[];

/* The SQL of the statement named NAME in those lists, or NULL (for tools
 * and tests that prepare a copy of it: bench/list_plans,
 * tests/http/test_list_plans.c). */
const char *db_statement_sql(const char *name);

#endif
