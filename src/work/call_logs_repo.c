/* SQL of call_logs (placeholder until implemented). */
#include "arc/ledger.h"

const struct db_stmt call_logs_stmts[] = {{NULL, NULL}};
