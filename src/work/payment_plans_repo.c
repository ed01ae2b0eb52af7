/* SQL of payment plans.  Making, locking and changing one are plpgsql
 * functions in payment_plans.sql, with the filling of
 * installments and the sweep's rules. */
#include "arc/db.h"
#include "arc/statements.h"

#define PLAN_DOC "p.id, p.version, arc_payment_plan_json(p)::text"

const struct db_stmt payment_plans_stmts[] = {
    /* $1 body, $2 actor.  Columns: id, version, doc, then status and errors
     * when the plan was refused (nothing was written). */
    {"payment_plans_insert",
     "SELECT res_id, res_version, res_doc, res_status, res_errors::text "
     "FROM arc_payment_plan_create($1::jsonb, $2::text)"},
    {"payment_plans_select_by_id", "SELECT " PLAN_DOC " FROM payment_plans p WHERE p.id = $1::bigint"},
    /* Filters: $3 customer_id, $4 status, $5 invoice_id (a plan over it). */
    {"payment_plans_select_page",
     "SELECT " PLAN_DOC " FROM payment_plans p "
     "WHERE ($1::bigint IS NULL OR p.id > $1::bigint) "
     "AND ($3::bigint IS NULL OR p.customer_id = $3::bigint) "
     "AND ($4::text IS NULL OR p.status = $4::text) "
     "AND ($5::bigint IS NULL OR p.invoice_ids @> ARRAY[$5::bigint]) "
     "ORDER BY p.id LIMIT $2::bigint"},
    /* PATCH: the plan's invoices, then the plan, locked before If-Match is
     * checked (the lock order of payments). */
    {"payment_plans_lock", "SELECT version FROM arc_payment_plan_lock($1::bigint)"},
    /* $1 id, $2 body, $3 actor. */
    {"payment_plans_update",
     "SELECT res_id, res_version, res_doc FROM arc_payment_plan_update($1::bigint, $2::jsonb, $3::text)"},
    {NULL, NULL},
};
