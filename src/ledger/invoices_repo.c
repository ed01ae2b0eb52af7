/* SQL of invoices.  The writes with rules (status changes, the external
 * upsert) are plpgsql functions in invoices.sql. */
#include "arc/statements.h"

#define INVOICE_DOC "i.id, i.version, arc_invoice_json(i)::text"

const struct db_stmt invoices_stmts[] = {
    {"invoices_insert",
     "INSERT INTO invoices AS i (customer_id, external_id, number, currency, original_amount, amount, "
     "balance, issued_on, due_on, po_number, description, factored) "
     "SELECT (p->>'customer_id')::bigint, p->>'external_id', p->>'number', p->>'currency', "
     "(p->>'amount')::bigint, (p->>'amount')::bigint, (p->>'amount')::bigint, (p->>'issued_on')::date, "
     "(p->>'due_on')::date, p->>'po_number', p->>'description', coalesce((p->>'factored')::boolean, false) "
     "FROM (SELECT $1::jsonb AS p) s "
     "RETURNING " INVOICE_DOC},
    {"invoices_select_by_id",
     "SELECT " INVOICE_DOC " FROM invoices i WHERE i.id = $1::bigint"},
    /* Filters: $3 customer_id, $4 status, $5 number, $6 external_id,
     * $7 currency, $8 overdue_as_of (open and due before that day),
     * $9 updated_since. */
    {"invoices_select_page",
     "SELECT " INVOICE_DOC " FROM invoices i "
     "WHERE ($1::bigint IS NULL OR i.id > $1::bigint) "
     "AND ($3::bigint IS NULL OR i.customer_id = $3::bigint) "
     "AND ($4::text IS NULL OR i.status = $4::text) "
     "AND ($5::text IS NULL OR i.number = $5::text) "
     "AND ($6::text IS NULL OR i.external_id = $6::text) "
     "AND ($7::text IS NULL OR i.currency = $7::text) "
     "AND ($8::date IS NULL OR (i.status = 'open' AND i.due_on < $8::date)) "
     "AND ($9::timestamptz IS NULL OR i.updated_at >= $9::timestamptz) "
     "ORDER BY i.id LIMIT $2::bigint"},
    /* PATCH: lock first so If-Match is checked against the version we change. */
    {"invoices_lock", "SELECT version FROM invoices WHERE id = $1::bigint FOR UPDATE"},
    {"invoices_update", "SELECT res_id, res_version, res_doc FROM arc_invoice_update($1::bigint, $2::jsonb)"},
    {"invoices_upsert",
     "SELECT res_id, res_version, res_doc, res_created FROM arc_invoice_upsert($1::text, $2::jsonb, $3::text)"},
    {NULL, NULL},
};
