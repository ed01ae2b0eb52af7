/* SQL of receipt confirmations: arc_invoice_confirm_receipt() in
 * receipts.sql; the reply is the invoice. */
#include "arc/statements.h"

const struct db_stmt receipts_stmts[] = {
    /* Lock first so If-Match is checked against the version we change. */
    {"receipts_lock", "SELECT version FROM invoices WHERE id = $1::bigint FOR UPDATE"},
    {"receipts_confirm",
     "SELECT res_id, res_version, res_doc FROM arc_invoice_confirm_receipt($1::bigint, $2::jsonb)"},
    {NULL, NULL},
};
