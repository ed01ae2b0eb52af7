/* SQL of invoices (placeholder until implemented). */
#include "arc/ledger.h"

const struct db_stmt invoices_stmts[] = {{NULL, NULL}};
