/* SQL of promises.  The writes are plpgsql functions in
 * promises.sql; every statement returns (id, version, doc). */
#include "arc/statements.h"

#define PROMISE_DOC "p.id, p.version, arc_promise_json(p)::text"

const struct db_stmt promises_stmts[] = {
    {"promises_create",
     "SELECT " PROMISE_DOC " FROM arc_promise_create(($1::jsonb->>'customer_id')::bigint, "
     "($1::jsonb->>'call_log_id')::bigint, $1::jsonb, $2::text, '', NULL) p"},
    {"promises_select_by_id", "SELECT " PROMISE_DOC " FROM promises p WHERE p.id = $1::bigint"},
    /* Filters: $3 customer_id, $4 status, $5 call_log_id, $6 invoice_id
     * (promises covering it), $7/$8 promised_on from/to, $9 updated_since. */
    {"promises_select_page",
     "SELECT " PROMISE_DOC " FROM promises p "
     "WHERE ($1::bigint IS NULL OR p.id > $1::bigint) "
     "AND ($3::bigint IS NULL OR p.customer_id = $3::bigint) "
     "AND ($4::text IS NULL OR p.status = $4::text) "
     "AND ($5::bigint IS NULL OR p.call_log_id = $5::bigint) "
     "AND ($6::bigint IS NULL OR $6::bigint = ANY (p.invoice_ids)) "
     "AND ($7::date IS NULL OR p.promised_on >= $7::date) "
     "AND ($8::date IS NULL OR p.promised_on <= $8::date) "
     "AND ($9::timestamptz IS NULL OR p.updated_at >= $9::timestamptz) "
     "ORDER BY p.id LIMIT $2::bigint"},
    /* PATCH: lock first so If-Match is checked against the version we change. */
    {"promises_lock", "SELECT p.version FROM promises p WHERE p.id = $1::bigint FOR UPDATE"},
    {"promises_update",
     "SELECT r.res_id, r.res_version, r.res_doc FROM arc_promise_update($1::bigint, $2::jsonb) r"},
    {NULL, NULL},
};
