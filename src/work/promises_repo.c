/* SQL of promises (placeholder until implemented). */
#include "arc/ledger.h"

const struct db_stmt promises_stmts[] = {{NULL, NULL}};
