/* SQL of disputes (placeholder until implemented). */
#include "arc/ledger.h"

const struct db_stmt disputes_stmts[] = {{NULL, NULL}};
