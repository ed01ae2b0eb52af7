/* SQL of receipts (placeholder until implemented). */
#include "arc/ledger.h"

const struct db_stmt receipts_stmts[] = {{NULL, NULL}};
