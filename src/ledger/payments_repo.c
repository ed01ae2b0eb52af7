/* SQL of payments.  The writes are plpgsql functions in
 * payments.sql, so the money moves in one round trip under
 * the row locks taken there.  Every statement returns (id, version, doc). */
#include "arc/statements.h"

const struct db_stmt payments_stmts[] = {
    {"payments_record",
     "SELECT r.res_id, r.res_version, r.res_doc FROM arc_payment_record($1::jsonb, $2::text) r"},
    {"payments_upsert",
     "SELECT r.res_id, r.res_version, r.res_doc, r.res_created "
     "FROM arc_payment_upsert($1::text, $2::jsonb, $3::text) r"},
    {"payments_select_by_id",
     "SELECT p.id, p.version, arc_payment_json(p)::text FROM payments p WHERE p.id = $1::bigint"},
    {"payments_select_page",
     "SELECT p.id, p.version, arc_payment_json(p)::text FROM payments p "
     "WHERE ($1::bigint IS NULL OR p.id > $1::bigint) "
     "AND ($3::bigint IS NULL OR p.customer_id = $3::bigint) "
     "AND ($4::text IS NULL OR p.status = $4::text) "
     "AND ($5::text IS NULL OR p.external_id = $5::text) "
     "AND ($6::date IS NULL OR p.received_on >= $6::date) "
     "AND ($7::date IS NULL OR p.received_on <= $7::date) "
     "AND ($8::timestamptz IS NULL OR p.updated_at >= $8::timestamptz) "
     "ORDER BY p.id LIMIT $2::bigint"},
    /* PATCH and reversal lock the row, then compare If-Match with its version. */
    {"payments_lock", "SELECT p.version FROM payments p WHERE p.id = $1::bigint FOR UPDATE"},
    {"payments_update",
     "SELECT r.res_id, r.res_version, r.res_doc FROM arc_payment_update($1::bigint, $2::jsonb) r"},
    {"payments_reverse",
     "SELECT r.res_id, r.res_version, r.res_doc FROM arc_payment_reverse($1::bigint, $2::text) r"},
    {NULL, NULL},
};
