/* SQL of contacts.  Writes go through arc_contact_insert/_update
 * (contacts.sql), which also move the primary flag. */
#include "arc/statements.h"

#define CONTACT_DOC "k.id, k.version, arc_contact_json(k)::text"

const struct db_stmt contacts_stmts[] = {
    {"contacts_select_by_id",
     "SELECT " CONTACT_DOC " FROM contacts k WHERE k.customer_id = $1::bigint AND k.id = $2::bigint"},
    {"contacts_select_page",
     "SELECT " CONTACT_DOC " FROM contacts k WHERE k.customer_id = $1::bigint "
     "AND ($2::bigint IS NULL OR k.id > $2::bigint) ORDER BY k.id LIMIT $3::bigint"},
    {"contacts_customer_exists", "SELECT 1 FROM customers c WHERE c.id = $1::bigint"},
    /* Contact writes of one customer take turns on the customer's row, so
     * two contacts cannot both become primary. */
    {"contacts_lock_customer", "SELECT c.id FROM customers c WHERE c.id = $1::bigint FOR NO KEY UPDATE"},
    {"contacts_lock",
     "SELECT k.id, k.version FROM contacts k WHERE k.customer_id = $1::bigint AND k.id = $2::bigint FOR UPDATE"},
    {"contacts_insert", "SELECT " CONTACT_DOC " FROM arc_contact_insert($1::bigint, $2::jsonb) k"},
    {"contacts_update", "SELECT " CONTACT_DOC " FROM arc_contact_update($1::bigint, $2::bigint, $3::jsonb) k"},
    {NULL, NULL},
};
