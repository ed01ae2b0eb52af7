/* SQL of disputes.  Opening and changing one are plpgsql functions in
 * disputes.sql (arc_dispute_open is shared with the call
 * log's nested dispute). */
#include "arc/statements.h"

#define DISPUTE_DOC "d.id, d.version, arc_dispute_json(d)::text"

const struct db_stmt disputes_stmts[] = {
    /* $1 invoice_id, $2 body, $3 actor, $4 call_log_id. */
    {"disputes_insert",
     "SELECT " DISPUTE_DOC " FROM arc_dispute_open($1::bigint, $2::jsonb, $3::text, $4::bigint, NULL, '') d"},
    {"disputes_select_by_id",
     "SELECT " DISPUTE_DOC " FROM disputes d WHERE d.id = $1::bigint"},
    /* Filters: $3 customer_id, $4 invoice_id, $5 status, $6 reason. */
    {"disputes_select_page",
     "SELECT " DISPUTE_DOC " FROM disputes d "
     "WHERE ($1::bigint IS NULL OR d.id > $1::bigint) "
     "AND ($3::bigint IS NULL OR d.customer_id = $3::bigint) "
     "AND ($4::bigint IS NULL OR d.invoice_id = $4::bigint) "
     "AND ($5::text IS NULL OR d.status = $5::text) "
     "AND ($6::text IS NULL OR d.reason = $6::text) "
     "ORDER BY d.id LIMIT $2::bigint"},
    /* PATCH: lock first so If-Match is checked against the version we change. */
    {"disputes_lock", "SELECT version FROM disputes WHERE id = $1::bigint FOR UPDATE"},
    {"disputes_update", "SELECT res_id, res_version, res_doc FROM arc_dispute_update($1::bigint, $2::jsonb, $3::text)"},
    {NULL, NULL},
};
