/* SQL of call_sheet (placeholder until implemented). */
#include "arc/ledger.h"

const struct db_stmt call_sheet_stmts[] = {{NULL, NULL}};
