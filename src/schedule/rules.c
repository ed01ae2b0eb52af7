/* placeholder */
#include "arc/sweep.h"
const struct sweep_rule sweep_rules[] = {{NULL, NULL}};
const struct db_stmt sweep_stmts[] = {{NULL, NULL}};
