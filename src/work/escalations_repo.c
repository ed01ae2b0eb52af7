/* SQL of escalations.  Opening one and a manager's decisions are plpgsql
 * functions in escalations.sql (arc_escalation_create,
 * arc_escalation_update); the policy that proposes them is the sweep's. */
#include "arc/statements.h"

#define ESCALATION_DOC "e.id, e.version, arc_escalation_json(e)::text"

const struct db_stmt escalations_stmts[] = {
    /* $1 body, $2 actor. */
    {"escalations_insert", "SELECT " ESCALATION_DOC " FROM arc_escalation_create($1::jsonb, $2::text) e"},
    {"escalations_select_by_id", "SELECT " ESCALATION_DOC " FROM escalations e WHERE e.id = $1::bigint"},
    /* Filters: $3 customer_id, $4 status, $5 level, $6 assignee. */
    {"escalations_select_page",
     "SELECT " ESCALATION_DOC " FROM escalations e "
     "WHERE ($1::bigint IS NULL OR e.id > $1::bigint) "
     "AND ($3::bigint IS NULL OR e.customer_id = $3::bigint) "
     "AND ($4::text IS NULL OR e.status = $4::text) "
     "AND ($5::text IS NULL OR e.level = $5::text) "
     "AND ($6::text IS NULL OR e.assignee = $6::text) "
     "ORDER BY e.id LIMIT $2::bigint"},
    /* PATCH: lock first so If-Match is checked against the version we change. */
    {"escalations_lock", "SELECT version FROM escalations WHERE id = $1::bigint FOR UPDATE"},
    {"escalations_update",
     "SELECT res_id, res_version, res_doc FROM arc_escalation_update($1::bigint, $2::jsonb, $3::text)"},
    {NULL, NULL},
};
