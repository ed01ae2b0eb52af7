/* SQL of promises.  The writes are plpgsql functions in
 * promises.sql; every statement returns (id, version, doc). */
#include "arc/statements.h"

#define PROMISE_DOC "p.id, p.version, arc_promise_json(p)::text"

/* A page: LEAD (the cursor, and the filter the statement is for), the
 * filters (each "true" in the variant that leads with it), ORDER BY. */
#define PROMISES_PAGE(lead, customer, status, call_log, invoice, from, to, updated, order)                   \
  "SELECT " PROMISE_DOC " FROM promises p WHERE " lead " AND " customer " AND " status " AND " call_log      \
  " AND " invoice " AND " from " AND " to " AND " updated " ORDER BY " order " LIMIT $2::bigint"
#define PROMISE_CUSTOMER LIST_IF("$3::bigint", "p.customer_id = $3::bigint")
#define PROMISE_STATUS LIST_IF("$4::text", "p.status = $4::text")
#define PROMISE_CALL_LOG LIST_IF("$5::bigint", "p.call_log_id = $5::bigint")
#define PROMISE_INVOICE LIST_IF("$6::bigint", "p.invoice_ids @> ARRAY[$6::bigint]")
#define PROMISE_FROM LIST_IF("$7::date", "p.promised_on >= $7::date")
#define PROMISE_TO LIST_IF("$8::date", "p.promised_on <= $8::date")
#define PROMISE_UPDATED LIST_IF("$9::timestamptz", "p.updated_at >= $9::timestamptz")

const struct db_stmt promises_stmts[] = {
    /* $3: what the C checks found ([] for nothing): the ids are read only
     * when they are ids (they may be what was found bad). */
    {"promises_create",
     "SELECT " PROMISE_DOC " FROM arc_promise_create("
     "CASE WHEN $1::jsonb->>'customer_id' ~ '^[1-9][0-9]{0,17}$' THEN ($1::jsonb->>'customer_id')::bigint END, "
     "CASE WHEN $1::jsonb->>'call_log_id' ~ '^[1-9][0-9]{0,17}$' THEN ($1::jsonb->>'call_log_id')::bigint END, "
     "$1::jsonb, $2::text, '', NULL, $3::jsonb) p"},
    {"promises_select_by_id", "SELECT " PROMISE_DOC " FROM promises p WHERE p.id = $1::bigint"},
    /* Filters: $3 customer_id, $4 status, $5 call_log_id, $6 invoice_id
     * (promises covering it), $7/$8 promised_on from/to, $9 updated_since. */
    /* The most selective filter given has a statement of its own (LIST_BY). */
    {"promises_select_page",
     PROMISES_PAGE(LIST_AFTER("p.id", "$1::bigint"), PROMISE_CUSTOMER, PROMISE_STATUS, PROMISE_CALL_LOG,
                   PROMISE_INVOICE, PROMISE_FROM, PROMISE_TO, PROMISE_UPDATED, "p.id")},
    {"promises_select_page_by_call_log",
     PROMISES_PAGE(LIST_BY("p.call_log_id", "$5::bigint", "p.id", "$1::bigint"), PROMISE_CUSTOMER,
                   PROMISE_STATUS, "true", PROMISE_INVOICE, PROMISE_FROM, PROMISE_TO, PROMISE_UPDATED,
                   "p.call_log_id, p.id")},
    /* The GIN index gives no order.  With the cursor and the order on
     * "id + 0", which the primary key cannot serve either, a generic plan has
     * no walk of it to prefer to the index (it took one on the estimate that
     * 0.5 % of the rows match).  Same rows, same order. */
    {"promises_select_page_by_invoice",
     PROMISES_PAGE("p.invoice_ids @> ARRAY[$6::bigint] AND " LIST_AFTER("p.id + 0", "$1::bigint"),
                   PROMISE_CUSTOMER, PROMISE_STATUS, PROMISE_CALL_LOG, "true", PROMISE_FROM, PROMISE_TO,
                   PROMISE_UPDATED, "p.id + 0")},
    {"promises_select_page_by_customer",
     PROMISES_PAGE(LIST_BY("p.customer_id", "$3::bigint", "p.id", "$1::bigint"), "true", PROMISE_STATUS,
                   PROMISE_CALL_LOG, PROMISE_INVOICE, PROMISE_FROM, PROMISE_TO, PROMISE_UPDATED,
                   "p.customer_id, p.id")},
    {"promises_select_page_by_status",
     PROMISES_PAGE(LIST_BY("p.status", "$4::text", "p.id", "$1::bigint"), PROMISE_CUSTOMER, "true",
                   PROMISE_CALL_LOG, PROMISE_INVOICE, PROMISE_FROM, PROMISE_TO, PROMISE_UPDATED,
                   "p.status, p.id")},
    /* PATCH: lock first so If-Match is checked against the version we change. */
    {"promises_lock", "SELECT p.version FROM promises p WHERE p.id = $1::bigint FOR UPDATE"},
    {"promises_update",
     "SELECT r.res_id, r.res_version, r.res_doc FROM arc_promise_update($1::bigint, $2::jsonb) r"},
    {NULL, NULL},
};
