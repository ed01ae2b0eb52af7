/* SQL of payments.  The writes are plpgsql functions in
 * payments.sql, so the money moves in one round trip under
 * the row locks taken there.  Every statement returns (id, version, doc). */
#include "arc/statements.h"

/* A page: LEAD (the cursor, and the filter the statement is for), the
 * filters (each "true" in the variant that leads with it), ORDER BY. */
#define PAYMENTS_PAGE(lead, customer, status, external_id, from, to, updated, order)                         \
  "SELECT p.id, p.version, arc_payment_json(p)::text FROM payments p WHERE " lead " AND " customer           \
  " AND " status " AND " external_id " AND " from " AND " to " AND " updated " ORDER BY " order              \
  " LIMIT $2::bigint"
#define PAYMENT_CUSTOMER LIST_IF("$3::bigint", "p.customer_id = $3::bigint")
#define PAYMENT_STATUS LIST_IF("$4::text", "p.status = $4::text")
#define PAYMENT_EXTERNAL_ID LIST_IF("$5::text", "p.external_id = $5::text")
#define PAYMENT_FROM LIST_IF("$6::date", "p.received_on >= $6::date")
#define PAYMENT_TO LIST_IF("$7::date", "p.received_on <= $7::date")
#define PAYMENT_UPDATED LIST_IF("$8::timestamptz", "p.updated_at >= $8::timestamptz")

const struct db_stmt payments_stmts[] = {
    {"payments_record",
     "SELECT r.res_id, r.res_version, r.res_doc FROM arc_payment_record($1::jsonb, $2::text) r"},
    {"payments_upsert",
     "SELECT r.res_id, r.res_version, r.res_doc, r.res_created "
     "FROM arc_payment_upsert($1::text, $2::jsonb, $3::text) r"},
    {"payments_select_by_id",
     "SELECT p.id, p.version, arc_payment_json(p)::text FROM payments p WHERE p.id = $1::bigint"},
    /* The most selective filter given has a statement of its own (LIST_BY). */
    {"payments_select_page",
     PAYMENTS_PAGE(LIST_AFTER("p.id", "$1::bigint"), PAYMENT_CUSTOMER, PAYMENT_STATUS, PAYMENT_EXTERNAL_ID,
                   PAYMENT_FROM, PAYMENT_TO, PAYMENT_UPDATED, "p.id")},
    {"payments_select_page_by_external_id",
     PAYMENTS_PAGE(LIST_BY("p.external_id", "$5::text", "p.id", "$1::bigint"), PAYMENT_CUSTOMER,
                   PAYMENT_STATUS, "true", PAYMENT_FROM, PAYMENT_TO, PAYMENT_UPDATED, "p.external_id, p.id")},
    {"payments_select_page_by_customer",
     PAYMENTS_PAGE(LIST_BY("p.customer_id", "$3::bigint", "p.id", "$1::bigint"), "true", PAYMENT_STATUS,
                   PAYMENT_EXTERNAL_ID, PAYMENT_FROM, PAYMENT_TO, PAYMENT_UPDATED, "p.customer_id, p.id")},
    {"payments_select_page_by_status",
     PAYMENTS_PAGE(LIST_BY("p.status", "$4::text", "p.id", "$1::bigint"), PAYMENT_CUSTOMER, "true",
                   PAYMENT_EXTERNAL_ID, PAYMENT_FROM, PAYMENT_TO, PAYMENT_UPDATED, "p.status, p.id")},
    /* PATCH and reversal lock the row, then compare If-Match with its version. */
    {"payments_lock", "SELECT p.version FROM payments p WHERE p.id = $1::bigint FOR UPDATE"},
    {"payments_update",
     "SELECT r.res_id, r.res_version, r.res_doc FROM arc_payment_update($1::bigint, $2::jsonb) r"},
    {"payments_reverse",
     "SELECT r.res_id, r.res_version, r.res_doc FROM arc_payment_reverse($1::bigint, $2::text) r"},
    {NULL, NULL},
};
