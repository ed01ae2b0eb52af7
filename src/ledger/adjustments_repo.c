/* SQL of adjustments (placeholder until implemented). */
#include "arc/ledger.h"

const struct db_stmt adjustments_stmts[] = {{NULL, NULL}};
