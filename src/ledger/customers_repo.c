/* SQL of customers.  Writes go through arc_customer_insert/_update
 * (customers.sql), which read the validated body as jsonb. */
#include "arc/statements.h"

#define CUSTOMER_DOC "c.id, c.version, arc_customer_json(c)::text"

const struct db_stmt customers_stmts[] = {
    {"customers_select_by_id", "SELECT " CUSTOMER_DOC " FROM customers c WHERE c.id = $1::bigint"},
    /* $1 cursor, $2 limit + 1, then the filters; NULL means "any". */
    {"customers_select_page",
     "SELECT " CUSTOMER_DOC " FROM customers c "
     "WHERE ($1::bigint IS NULL OR c.id > $1::bigint) "
     "AND ($3::text IS NULL OR c.external_id = $3::text) "
     "AND ($4::text IS NULL OR c.kind = $4::text) "
     "AND ($5::text IS NULL OR c.collector = $5::text) "
     "AND ($6::text IS NULL OR c.salesperson = $6::text) "
     "AND ($7::text IS NULL OR c.name ILIKE '%' || arc_like_escape($7::text) || '%') "
     "AND ($8::date IS NULL OR EXISTS (SELECT 1 FROM invoices i WHERE i.customer_id = c.id "
     "AND i.status = 'open' AND i.due_on < $8::date)) "
     "AND ($9::timestamptz IS NULL OR c.updated_at >= $9::timestamptz) "
     "ORDER BY c.id LIMIT $2::bigint"},
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
