/* SQL of invoices.  The writes with rules (status changes, the external
 * upsert) are plpgsql functions in invoices.sql. */
#include "arc/statements.h"

/* A doc row: id, version and the document's fields, which the server
 * renders (resource.h); RETURNING has no FROM, so a write's row carries the
 * document rendered in SQL. */
#define INVOICE_ROW "i.id, i.version, d.* FROM invoices i CROSS JOIN LATERAL arc_invoice_fields(i) d"
#define INVOICE_DOC "i.id, i.version, arc_invoice_json(i)::text"

/* A page of invoices: LEAD (the cursor, and the filter the statement is
 * for), the other filters, ORDER BY.  Every variant names every parameter. */
#define INVOICES_PAGE(lead, customer, status, number, external_id, order)                                    \
  "SELECT " INVOICE_ROW " WHERE " lead " AND " customer " AND " status " AND " number        \
  " AND " external_id " AND " LIST_IF("$7::text", "i.currency = $7::text") " AND " LIST_IF(                  \
      "$8::date", "i.status = 'open' AND i.due_on < $8::date") " AND " LIST_IF("$9::timestamptz",            \
                                                                               "i.updated_at >= "            \
                                                                               "$9::timestamptz") " ORDER "  \
                                                                                                  "BY"       \
                                                                                                  " " order  \
                                                                                                  " LIMIT "  \
                                                                                                  "$2::"     \
                                                                                                  "bigint"
#define INVOICE_CUSTOMER LIST_IF("$3::bigint", "i.customer_id = $3::bigint")
#define INVOICE_STATUS LIST_IF("$4::text", "i.status = $4::text")
#define INVOICE_NUMBER LIST_IF("$5::text", "i.number = $5::text")
#define INVOICE_EXTERNAL_ID LIST_IF("$6::text", "i.external_id = $6::text")

const struct db_stmt invoices_stmts[] = {
    {"invoices_insert",
     "INSERT INTO invoices AS i (customer_id, external_id, number, currency, original_amount, amount, "
     "balance, issued_on, due_on, po_number, description, factored) "
     "SELECT (p->>'customer_id')::bigint, p->>'external_id', p->>'number', p->>'currency', "
     "(p->>'amount')::bigint, (p->>'amount')::bigint, (p->>'amount')::bigint, (p->>'issued_on')::date, "
     "(p->>'due_on')::date, p->>'po_number', p->>'description', coalesce((p->>'factored')::boolean, false) "
     "FROM (SELECT $1::jsonb AS p) s "
     "RETURNING " INVOICE_DOC},
    {"invoices_select_by_id", "SELECT " INVOICE_ROW " WHERE i.id = $1::bigint"},
    /* Filters: $3 customer_id, $4 status, $5 number, $6 external_id,
     * $7 currency, $8 overdue_as_of (open and due before that day),
     * $9 updated_since.  One statement per selective filter, the handler
     * picks it (statements.h, LIST_BY). */
    {"invoices_select_page", INVOICES_PAGE(LIST_AFTER("i.id", "$1::bigint"), INVOICE_CUSTOMER, INVOICE_STATUS,
                                           INVOICE_NUMBER, INVOICE_EXTERNAL_ID, "i.id")},
    {"invoices_select_page_by_customer",
     INVOICES_PAGE(LIST_BY("i.customer_id", "$3::bigint", "i.id", "$1::bigint"), "true", INVOICE_STATUS,
                   INVOICE_NUMBER, INVOICE_EXTERNAL_ID, "i.customer_id, i.id")},
    {"invoices_select_page_by_status",
     INVOICES_PAGE(LIST_BY("i.status", "$4::text", "i.id", "$1::bigint"), INVOICE_CUSTOMER, "true",
                   INVOICE_NUMBER, INVOICE_EXTERNAL_ID, "i.status, i.id")},
    /* number and external_id are unique: one row at most, found by the
     * unique index (with LIST_BY, as no other index gives the order). */
    {"invoices_select_page_by_number",
     INVOICES_PAGE(LIST_BY("i.number", "$5::text", "i.id", "$1::bigint"), INVOICE_CUSTOMER, INVOICE_STATUS,
                   "true", INVOICE_EXTERNAL_ID, "i.number, i.id")},
    {"invoices_select_page_by_external_id",
     INVOICES_PAGE(LIST_BY("i.external_id", "$6::text", "i.id", "$1::bigint"), INVOICE_CUSTOMER,
                   INVOICE_STATUS, INVOICE_NUMBER, "true", "i.external_id, i.id")},
    /* PATCH: lock first so If-Match is checked against the version we change. */
    {"invoices_lock", "SELECT version FROM invoices WHERE id = $1::bigint FOR UPDATE"},
    {"invoices_update", "SELECT res_id, res_version, res_doc FROM arc_invoice_update($1::bigint, $2::jsonb)"},
    {"invoices_upsert", "SELECT res_id, res_version, res_doc, res_created FROM arc_invoice_upsert($1::text, "
                        "$2::jsonb, $3::text)"},
    {NULL, NULL},
};
