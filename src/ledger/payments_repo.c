/* SQL of payments (placeholder until implemented). */
#include "arc/ledger.h"

const struct db_stmt payments_stmts[] = {{NULL, NULL}};
