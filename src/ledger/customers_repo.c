/* SQL of customers.  Writes go through arc_customer_insert/_update
 * (customers.sql), which read the validated body as jsonb. */
#include "arc/statements.h"

#define CUSTOMER_DOC "c.id, c.version, arc_customer_json(c)::text"

/* A page: LEAD (the cursor, and the filter the statement is for), the
 * filters (each "true" in the variant that leads with it), ORDER BY. */
#define CUSTOMERS_PAGE(lead, external_id, kind, collector, salesperson, name, overdue, updated, order)       \
  "SELECT " CUSTOMER_DOC " FROM customers c WHERE " lead " AND " external_id " AND " kind " AND " collector  \
  " AND " salesperson " AND " name " AND " overdue " AND " updated " ORDER BY " order " LIMIT $2::bigint"
#define CUSTOMER_EXTERNAL_ID LIST_IF("$3::text", "c.external_id = $3::text")
#define CUSTOMER_KIND LIST_IF("$4::text", "c.kind = $4::text")
/* Handles are stored in lower case (src/util/handles.sql): a filter
 * matches whatever the case it is given in. */
#define CUSTOMER_COLLECTOR LIST_IF("$5::text", "c.collector = lower($5::text)")
#define CUSTOMER_SALESPERSON LIST_IF("$6::text", "c.salesperson = lower($6::text)")
#define CUSTOMER_NAME LIST_IF("$7::text", "c.name ILIKE '%' || arc_like_escape($7::text) || '%'")
#define CUSTOMER_OVERDUE                                                                                     \
  LIST_IF("$8::date", "EXISTS (SELECT 1 FROM invoices i WHERE i.customer_id = c.id AND i.status = 'open' "   \
                      "AND i.due_on < $8::date)")
#define CUSTOMER_UPDATED LIST_IF("$9::timestamptz", "c.updated_at >= $9::timestamptz")

const struct db_stmt customers_stmts[] = {
    {"customers_select_by_id", "SELECT " CUSTOMER_DOC " FROM customers c WHERE c.id = $1::bigint"},
    /* $1 cursor, $2 limit + 1, then the filters; NULL means "any". */
    /* The most selective filter given has a statement of its own (LIST_BY). */
    {"customers_select_page",
     CUSTOMERS_PAGE(LIST_AFTER("c.id", "$1::bigint"), CUSTOMER_EXTERNAL_ID, CUSTOMER_KIND, CUSTOMER_COLLECTOR,
                    CUSTOMER_SALESPERSON, CUSTOMER_NAME, CUSTOMER_OVERDUE, CUSTOMER_UPDATED, "c.id")},
    {"customers_select_page_by_external_id",
     CUSTOMERS_PAGE(LIST_BY("c.external_id", "$3::text", "c.id", "$1::bigint"), "true", CUSTOMER_KIND,
                    CUSTOMER_COLLECTOR, CUSTOMER_SALESPERSON, CUSTOMER_NAME, CUSTOMER_OVERDUE,
                    CUSTOMER_UPDATED, "c.external_id, c.id")},
    {"customers_select_page_by_collector",
     CUSTOMERS_PAGE(LIST_BY("c.collector", "lower($5::text)", "c.id", "$1::bigint"), CUSTOMER_EXTERNAL_ID,
                    CUSTOMER_KIND, "true", CUSTOMER_SALESPERSON, CUSTOMER_NAME, CUSTOMER_OVERDUE,
                    CUSTOMER_UPDATED, "c.collector, c.id")},
    {"customers_select_page_by_salesperson",
     CUSTOMERS_PAGE(LIST_BY("c.salesperson", "lower($6::text)", "c.id", "$1::bigint"), CUSTOMER_EXTERNAL_ID,
                    CUSTOMER_KIND, CUSTOMER_COLLECTOR, "true", CUSTOMER_NAME, CUSTOMER_OVERDUE,
                    CUSTOMER_UPDATED, "c.salesperson, c.id")},
    /* No row when $2 (the external_id) is taken. */
    {"customers_insert", "SELECT " CUSTOMER_DOC " FROM arc_customer_insert($1::jsonb, $2::text) c"},
    {"customers_update", "SELECT " CUSTOMER_DOC " FROM arc_customer_update($1::bigint, $2::jsonb) c"},
    /* NO KEY: invoices and payments referencing the customer are not held up. */
    {"customers_lock", "SELECT c.id, c.version FROM customers c WHERE c.id = $1::bigint FOR NO KEY UPDATE"},
    {"customers_lock_by_external_id",
     "SELECT c.id, c.version FROM customers c WHERE c.external_id = $1::text FOR NO KEY UPDATE"},
    {"customers_timezone_known", "SELECT EXISTS (SELECT 1 FROM timezones t WHERE t.name = $1::text)"},
    {NULL, NULL},
};
