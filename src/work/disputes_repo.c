/* SQL of disputes.  Opening and changing one are plpgsql functions in
 * disputes.sql (arc_dispute_open is shared with the call
 * log's nested dispute). */
#include "arc/statements.h"

#define DISPUTE_DOC "d.id, d.version, arc_dispute_json(d)::text"

/* A page: LEAD (the cursor, and the filter the statement is for), the
 * filters (each "true" in the variant that leads with it), ORDER BY. */
#define DISPUTES_PAGE(lead, customer, invoice, status, reason, order)                                        \
  "SELECT " DISPUTE_DOC " FROM disputes d WHERE " lead " AND " customer " AND " invoice " AND " status       \
  " AND " reason " ORDER BY " order " LIMIT $2::bigint"
#define DISPUTE_CUSTOMER LIST_IF("$3::bigint", "d.customer_id = $3::bigint")
#define DISPUTE_INVOICE LIST_IF("$4::bigint", "d.invoice_id = $4::bigint")
#define DISPUTE_STATUS LIST_IF("$5::text", "d.status = $5::text")
#define DISPUTE_REASON LIST_IF("$6::text", "d.reason = $6::text")

const struct db_stmt disputes_stmts[] = {
    /* $1 invoice_id, $2 body, $3 actor, $4 call_log_id. */
    {"disputes_insert",
     "SELECT " DISPUTE_DOC " FROM arc_dispute_open($1::bigint, $2::jsonb, $3::text, $4::bigint, NULL, '') d"},
    {"disputes_select_by_id", "SELECT " DISPUTE_DOC " FROM disputes d WHERE d.id = $1::bigint"},
    /* Filters: $3 customer_id, $4 invoice_id, $5 status, $6 reason. */
    /* The most selective filter given has a statement of its own (LIST_BY). */
    {"disputes_select_page", DISPUTES_PAGE(LIST_AFTER("d.id", "$1::bigint"), DISPUTE_CUSTOMER,
                                           DISPUTE_INVOICE, DISPUTE_STATUS, DISPUTE_REASON, "d.id")},
    {"disputes_select_page_by_invoice",
     DISPUTES_PAGE(LIST_BY("d.invoice_id", "$4::bigint", "d.id", "$1::bigint"), DISPUTE_CUSTOMER, "true",
                   DISPUTE_STATUS, DISPUTE_REASON, "d.invoice_id, d.id")},
    {"disputes_select_page_by_customer",
     DISPUTES_PAGE(LIST_BY("d.customer_id", "$3::bigint", "d.id", "$1::bigint"), "true", DISPUTE_INVOICE,
                   DISPUTE_STATUS, DISPUTE_REASON, "d.customer_id, d.id")},
    {"disputes_select_page_by_status",
     DISPUTES_PAGE(LIST_BY("d.status", "$5::text", "d.id", "$1::bigint"), DISPUTE_CUSTOMER, DISPUTE_INVOICE,
                   "true", DISPUTE_REASON, "d.status, d.id")},
    /* PATCH: lock first so If-Match is checked against the version we change. */
    {"disputes_lock", "SELECT version FROM disputes WHERE id = $1::bigint FOR UPDATE"},
    {"disputes_update",
     "SELECT res_id, res_version, res_doc FROM arc_dispute_update($1::bigint, $2::jsonb, $3::text)"},
    {NULL, NULL},
};
