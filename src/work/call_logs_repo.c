/* SQL of call logs.  The write is a plpgsql function in
 * call_logs.sql; every statement returns (id, version, doc). */
#include "arc/statements.h"

#define CALL_LOG_DOC "c.id, c.version, arc_call_log_json(c)::text"

/* A page: LEAD (the cursor, and the filter the statement is for), the
 * filters (each "true" in the variant that leads with it), ORDER BY. */
#define CALL_LOGS_PAGE(lead, log_customer, log_invoice, log_channel, log_direction, log_outcome, log_from,   \
                       log_to, log_logged_by, order)                                                         \
  "SELECT " CALL_LOG_DOC " FROM call_logs c WHERE " lead " AND " log_customer " AND " log_invoice            \
  " AND " log_channel " AND " log_direction " AND " log_outcome " AND " log_from " AND " log_to              \
  " AND " log_logged_by " ORDER BY " order " LIMIT $2::bigint"
#define CALL_LOG_CUSTOMER LIST_IF("$3::bigint", "c.customer_id = $3::bigint")
#define CALL_LOG_INVOICE LIST_IF("$4::bigint", "c.invoice_ids @> ARRAY[$4::bigint]")
#define CALL_LOG_CHANNEL LIST_IF("$5::text", "c.channel = $5::text")
#define CALL_LOG_DIRECTION LIST_IF("$6::text", "c.direction = $6::text")
#define CALL_LOG_OUTCOME LIST_IF("$7::text", "c.outcome = $7::text")
#define CALL_LOG_FROM LIST_IF("$8::timestamptz", "c.occurred_at >= $8::timestamptz")
#define CALL_LOG_TO LIST_IF("$9::timestamptz", "c.occurred_at < $9::timestamptz")
#define CALL_LOG_LOGGED_BY LIST_IF("$10::text", "c.logged_by = $10::text")

const struct db_stmt call_logs_stmts[] = {
    {"call_logs_create",
     "SELECT r.res_id, r.res_version, r.res_doc FROM arc_call_log_create($1::jsonb, $2::text) r"},
    {"call_logs_select_by_id", "SELECT " CALL_LOG_DOC " FROM call_logs c WHERE c.id = $1::bigint"},
    /* Filters: $3 customer_id, $4 invoice_id (logs naming it; the GIN
     * index answers @>), $5 channel, $6 direction, $7 outcome, $8/$9
     * occurred_at from (inclusive) / to (exclusive), $10 logged_by. */
    /* The most selective filter given has a statement of its own (LIST_BY). */
    {"call_logs_select_page",
     CALL_LOGS_PAGE(LIST_AFTER("c.id", "$1::bigint"), CALL_LOG_CUSTOMER, CALL_LOG_INVOICE, CALL_LOG_CHANNEL,
                    CALL_LOG_DIRECTION, CALL_LOG_OUTCOME, CALL_LOG_FROM, CALL_LOG_TO, CALL_LOG_LOGGED_BY,
                    "c.id")},
    /* The GIN index gives no order.  With the cursor and the order on
     * "id + 0", which the primary key cannot serve either, a generic plan has
     * no walk of it to prefer to the index (it took one on the estimate that
     * 0.5 % of the rows match).  Same rows, same order. */
    {"call_logs_select_page_by_invoice",
     CALL_LOGS_PAGE("c.invoice_ids @> ARRAY[$4::bigint] AND " LIST_AFTER("c.id + 0", "$1::bigint"),
                    CALL_LOG_CUSTOMER, "true", CALL_LOG_CHANNEL, CALL_LOG_DIRECTION, CALL_LOG_OUTCOME,
                    CALL_LOG_FROM, CALL_LOG_TO, CALL_LOG_LOGGED_BY, "c.id + 0")},
    {"call_logs_select_page_by_customer",
     CALL_LOGS_PAGE(LIST_BY("c.customer_id", "$3::bigint", "c.id", "$1::bigint"), "true", CALL_LOG_INVOICE,
                    CALL_LOG_CHANNEL, CALL_LOG_DIRECTION, CALL_LOG_OUTCOME, CALL_LOG_FROM, CALL_LOG_TO,
                    CALL_LOG_LOGGED_BY, "c.customer_id, c.id")},
    {"call_logs_select_page_by_logged_by",
     CALL_LOGS_PAGE(LIST_BY("c.logged_by", "$10::text", "c.id", "$1::bigint"), CALL_LOG_CUSTOMER,
                    CALL_LOG_INVOICE, CALL_LOG_CHANNEL, CALL_LOG_DIRECTION, CALL_LOG_OUTCOME, CALL_LOG_FROM,
                    CALL_LOG_TO, "true", "c.logged_by, c.id")},
    {NULL, NULL},
};
