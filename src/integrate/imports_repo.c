/* PLACEHOLDER: being written this session. */
#include "arc/db.h"
#include "arc/ledger.h"

const struct db_stmt imports_stmts[] = {
    {NULL, NULL},
};
