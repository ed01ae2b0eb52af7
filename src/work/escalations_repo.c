/* SQL of escalations.  Opening one and a manager's decisions are plpgsql
 * functions in escalations.sql (arc_escalation_create,
 * arc_escalation_update); the policy that proposes them is the sweep's. */
#include "arc/statements.h"

#define ESCALATION_DOC "e.id, e.version, arc_escalation_json(e)::text"

/* A page: LEAD (the cursor, and the filter the statement is for), the
 * filters (each "true" in the variant that leads with it), ORDER BY. */
#define ESCALATIONS_PAGE(lead, customer, status, level, assignee, order)                                     \
  "SELECT " ESCALATION_DOC " FROM escalations e WHERE " lead " AND " customer " AND " status " AND " level   \
  " AND " assignee " ORDER BY " order " LIMIT $2::bigint"
#define ESCALATION_CUSTOMER LIST_IF("$3::bigint", "e.customer_id = $3::bigint")
#define ESCALATION_STATUS LIST_IF("$4::text", "e.status = $4::text")
#define ESCALATION_LEVEL LIST_IF("$5::text", "e.level = $5::text")
/* Stored in lower case (src/util/handles.sql). */
#define ESCALATION_ASSIGNEE LIST_IF("$6::text", "e.assignee = lower($6::text)")

const struct db_stmt escalations_stmts[] = {
    /* $1 body, $2 actor. */
    {"escalations_insert", "SELECT " ESCALATION_DOC " FROM arc_escalation_create($1::jsonb, $2::text) e"},
    {"escalations_select_by_id", "SELECT " ESCALATION_DOC " FROM escalations e WHERE e.id = $1::bigint"},
    /* Filters: $3 customer_id, $4 status, $5 level, $6 assignee. */
    /* The most selective filter given has a statement of its own (LIST_BY). */
    {"escalations_select_page",
     ESCALATIONS_PAGE(LIST_AFTER("e.id", "$1::bigint"), ESCALATION_CUSTOMER, ESCALATION_STATUS,
                      ESCALATION_LEVEL, ESCALATION_ASSIGNEE, "e.id")},
    {"escalations_select_page_by_customer",
     ESCALATIONS_PAGE(LIST_BY("e.customer_id", "$3::bigint", "e.id", "$1::bigint"), "true", ESCALATION_STATUS,
                      ESCALATION_LEVEL, ESCALATION_ASSIGNEE, "e.customer_id, e.id")},
    {"escalations_select_page_by_assignee",
     ESCALATIONS_PAGE(LIST_BY("e.assignee", "lower($6::text)", "e.id", "$1::bigint"), ESCALATION_CUSTOMER,
                      ESCALATION_STATUS, ESCALATION_LEVEL, "true", "e.assignee, e.id")},
    {"escalations_select_page_by_status",
     ESCALATIONS_PAGE(LIST_BY("e.status", "$4::text", "e.id", "$1::bigint"), ESCALATION_CUSTOMER, "true",
                      ESCALATION_LEVEL, ESCALATION_ASSIGNEE, "e.status, e.id")},
    /* PATCH: lock first so If-Match is checked against the version we change. */
    {"escalations_lock", "SELECT version FROM escalations WHERE id = $1::bigint FOR UPDATE"},
    {"escalations_update",
     "SELECT res_id, res_version, res_doc FROM arc_escalation_update($1::bigint, $2::jsonb, $3::text)"},
    {NULL, NULL},
};
