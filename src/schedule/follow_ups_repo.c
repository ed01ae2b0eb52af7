/* SQL of follow-ups: the worklist page, one follow-up, and a person's
 * action on one (arc_follow_up_update in follow_ups.sql). */
#include "arc/statements.h"

/* The worklist order (SPEC P9) as one ascending key: largest overdue amount
 * first, customers whose contact days include the day listed for, reason
 * priority, due date, id.  The page cursor is this key of the last row. */
#define WORKLIST_KEY "-f.amount_overdue, NOT k.preferred, k.priority, f.due_on, f.id"

const struct db_stmt follow_ups_stmts[] = {
    {"follow_ups_select_by_id",
     "SELECT f.id, f.version, arc_follow_up_json(f, current_date)::text FROM follow_ups f WHERE f.id = $1::bigint"},
    /* $1 cursor, $2 limit + 1, $3 due_on (the day listed for; today when
     * NULL: due on or before it), $4 assignee, $5 reason, $6 customer_id,
     * $7 status (open when NULL). */
    {"follow_ups_select_page",
     "SELECT arc_worklist_cursor(f, k.preferred), f.version, arc_follow_up_json(f, d.day)::text "
     "FROM (SELECT coalesce($3::date, current_date) AS day) d "
     "JOIN follow_ups f ON f.due_on <= d.day "
     "JOIN customers c ON c.id = f.customer_id "
     "CROSS JOIN LATERAL (SELECT arc_preferred_on(c, d.day) AS preferred, "
     "                   arc_follow_up_priority(f.reason) AS priority) k "
     "WHERE f.status = coalesce($7::text, 'open') "
     "AND ($4::text IS NULL OR f.assignee = $4::text) "
     "AND ($5::text IS NULL OR f.reason = $5::text) "
     "AND ($6::bigint IS NULL OR f.customer_id = $6::bigint) "
     "AND ($1::text IS NULL OR (" WORKLIST_KEY ") > "
     "    (-split_part($1, '.', 1)::bigint, split_part($1, '.', 2) = '0', split_part($1, '.', 3)::integer, "
     "     split_part($1, '.', 4)::date, split_part($1, '.', 5)::bigint)) "
     "ORDER BY " WORKLIST_KEY " LIMIT $2::bigint"},
    /* PATCH: lock first so If-Match is checked against the version we change. */
    {"follow_ups_lock", "SELECT version FROM follow_ups WHERE id = $1::bigint FOR UPDATE"},
    {"follow_ups_update",
     "SELECT res_id, res_version, res_doc FROM arc_follow_up_update($1::bigint, $2::jsonb, $3::text)"},
    {NULL, NULL},
};
