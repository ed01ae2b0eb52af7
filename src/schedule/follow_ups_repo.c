/* placeholder */
#include "arc/ledger.h"
const struct db_stmt follow_ups_stmts[] = {{NULL, NULL}};
