/* SQL of customers (placeholder until implemented). */
#include "arc/ledger.h"

const struct db_stmt customers_stmts[] = {{NULL, NULL}};
