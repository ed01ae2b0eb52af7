/* SQL of the call sheet: one statement builds it all (see
 * call_sheet.sql); no row when the customer does not exist. */
#include "arc/statements.h"

const struct db_stmt call_sheet_stmts[] = {
    {"call_sheet_select",
     "SELECT s::text FROM arc_call_sheet($1::bigint) AS s WHERE s IS NOT NULL"},
    {NULL, NULL},
};
