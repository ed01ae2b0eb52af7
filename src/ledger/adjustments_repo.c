/* SQL of invoice adjustments.  Applying one is arc_invoice_adjust() in
 * adjustments.sql: the invoice row lock, the balance rule and
 * the record in one call. */
#include "arc/statements.h"

#define ADJUSTMENT_DOC "a.id, 1::bigint, arc_adjustment_json(a)::text"

const struct db_stmt adjustments_stmts[] = {
    {"adjustments_insert",
     "SELECT res_id, res_version, res_doc "
     "FROM arc_invoice_adjust($1::bigint, $2::text, $3::bigint, $4::text, $5::text)"},
    {"adjustments_select_by_id",
     "SELECT " ADJUSTMENT_DOC " FROM invoice_adjustments a WHERE a.invoice_id = $1::bigint AND a.id = $2::bigint"},
    /* $3 invoice, $4 kind. */
    {"adjustments_select_page",
     "SELECT " ADJUSTMENT_DOC " FROM invoice_adjustments a "
     "WHERE a.invoice_id = $3::bigint AND ($1::bigint IS NULL OR a.id > $1::bigint) "
     "AND ($4::text IS NULL OR a.kind = $4::text) "
     "ORDER BY a.id LIMIT $2::bigint"},
    {"adjustments_invoice_exists", "SELECT 1 FROM invoices WHERE id = $1::bigint"},
    {NULL, NULL},
};
