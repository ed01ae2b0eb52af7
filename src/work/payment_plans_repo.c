/* SQL of payment plans.  Making, locking and changing one are plpgsql
 * functions in payment_plans.sql, with the filling of
 * installments and the sweep's rules. */
#include "arc/db.h"
#include "arc/statements.h"

#define PLAN_DOC "p.id, p.version, arc_payment_plan_json(p)::text"

/* A page: LEAD (the cursor, and the filter the statement is for), the
 * filters (each "true" in the variant that leads with it), ORDER BY. */
#define PAYMENT_PLANS_PAGE(lead, customer, status, invoice, order)                                           \
  "SELECT " PLAN_DOC " FROM payment_plans p WHERE " lead " AND " customer " AND " status " AND " invoice     \
  " ORDER BY " order " LIMIT $2::bigint"
#define PLAN_CUSTOMER LIST_IF("$3::bigint", "p.customer_id = $3::bigint")
#define PLAN_STATUS LIST_IF("$4::text", "p.status = $4::text")
#define PLAN_INVOICE LIST_IF("$5::bigint", "p.invoice_ids @> ARRAY[$5::bigint]")

const struct db_stmt payment_plans_stmts[] = {
    /* $1 body, $2 actor.  Columns: id, version, doc, then status and errors
     * when the plan was refused (nothing was written). */
    {"payment_plans_insert", "SELECT res_id, res_version, res_doc, res_status, res_errors::text "
                             "FROM arc_payment_plan_create($1::jsonb, $2::text)"},
    {"payment_plans_select_by_id", "SELECT " PLAN_DOC " FROM payment_plans p WHERE p.id = $1::bigint"},
    /* Filters: $3 customer_id, $4 status, $5 invoice_id (a plan over it). */
    /* The most selective filter given has a statement of its own (LIST_BY). */
    {"payment_plans_select_page",
     PAYMENT_PLANS_PAGE(LIST_AFTER("p.id", "$1::bigint"), PLAN_CUSTOMER, PLAN_STATUS, PLAN_INVOICE, "p.id")},
    /* The GIN index gives no order.  With the cursor and the order on
     * "id + 0", which the primary key cannot serve either, a generic plan has
     * no walk of it to prefer to the index (it took one on the estimate that
     * 0.5 % of the rows match).  Same rows, same order. */
    {"payment_plans_select_page_by_invoice",
     PAYMENT_PLANS_PAGE("p.invoice_ids @> ARRAY[$5::bigint] AND " LIST_AFTER("p.id + 0", "$1::bigint"),
                        PLAN_CUSTOMER, PLAN_STATUS, "true", "p.id + 0")},
    {"payment_plans_select_page_by_customer",
     PAYMENT_PLANS_PAGE(LIST_BY("p.customer_id", "$3::bigint", "p.id", "$1::bigint"), "true", PLAN_STATUS,
                        PLAN_INVOICE, "p.customer_id, p.id")},
    {"payment_plans_select_page_by_status",
     PAYMENT_PLANS_PAGE(LIST_BY("p.status", "$4::text", "p.id", "$1::bigint"), PLAN_CUSTOMER, "true",
                        PLAN_INVOICE, "p.status, p.id")},
    /* PATCH: the plan's invoices, then the plan, locked before If-Match is
     * checked (the lock order of payments). */
    {"payment_plans_lock", "SELECT version FROM arc_payment_plan_lock($1::bigint)"},
    /* $1 id, $2 body, $3 actor. */
    {"payment_plans_update",
     "SELECT res_id, res_version, res_doc FROM arc_payment_plan_update($1::bigint, $2::jsonb, $3::text)"},
    {NULL, NULL},
};
