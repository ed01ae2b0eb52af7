/* SQL of contacts (placeholder until implemented). */
#include "arc/ledger.h"

const struct db_stmt contacts_stmts[] = {{NULL, NULL}};
