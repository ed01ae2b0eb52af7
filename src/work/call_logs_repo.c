/* SQL of call logs.  The write is a plpgsql function in
 * call_logs.sql; every statement returns (id, version, doc). */
#include "arc/statements.h"

#define CALL_LOG_DOC "c.id, c.version, arc_call_log_json(c)::text"

const struct db_stmt call_logs_stmts[] = {
    {"call_logs_create",
     "SELECT r.res_id, r.res_version, r.res_doc FROM arc_call_log_create($1::jsonb, $2::text) r"},
    {"call_logs_select_by_id", "SELECT " CALL_LOG_DOC " FROM call_logs c WHERE c.id = $1::bigint"},
    /* Filters: $3 customer_id, $4 invoice_id (logs naming it; the GIN
     * index answers @>), $5 channel, $6 direction, $7 outcome, $8/$9
     * occurred_at from (inclusive) / to (exclusive), $10 logged_by. */
    {"call_logs_select_page",
     "SELECT " CALL_LOG_DOC " FROM call_logs c "
     "WHERE ($1::bigint IS NULL OR c.id > $1::bigint) "
     "AND ($3::bigint IS NULL OR c.customer_id = $3::bigint) "
     "AND ($4::bigint IS NULL OR c.invoice_ids @> ARRAY[$4::bigint]) "
     "AND ($5::text IS NULL OR c.channel = $5::text) "
     "AND ($6::text IS NULL OR c.direction = $6::text) "
     "AND ($7::text IS NULL OR c.outcome = $7::text) "
     "AND ($8::timestamptz IS NULL OR c.occurred_at >= $8::timestamptz) "
     "AND ($9::timestamptz IS NULL OR c.occurred_at < $9::timestamptz) "
     "AND ($10::text IS NULL OR c.logged_by = $10::text) "
     "ORDER BY c.id LIMIT $2::bigint"},
    {NULL, NULL},
};
