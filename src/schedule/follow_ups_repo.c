/* SQL of follow-ups: the worklist page, one follow-up, and a person's
 * action on one (arc_follow_up_update in follow_ups.sql). */
#include "arc/resource.h"
#include "arc/statements.h"

/* The worklist order (SPEC P9) as one ascending key: largest overdue amount
 * first, customers whose contact days include the day listed for, reason
 * priority, due date, id.  The page cursor is this key of the last row.
 *
 * Two ways to the same order.  WORKLIST_KEY computes it per row (for any
 * day, any status); STORED_KEY reads it from the row (priority, and
 * preferred for worklist_order.preferred_on: follow_ups.sql says who keeps
 * them), in the order of the partial indexes of
 * migrations/0012_worklist_order.sql, so a page of open follow-ups listed
 * for that day is an index range scan that stops after the page. */
#define WORKLIST_KEY "-f.amount_overdue, NOT k.preferred, k.priority, f.due_on, f.id"
#define STORED_KEY "-f.amount_overdue, NOT f.preferred, f.priority, f.due_on, f.id"

/* The cursor ($1) as a row of the key: resume strictly after it. */
#define CURSOR_ROW                                                                                 \
  "(-split_part($1, '.', 1)::bigint, split_part($1, '.', 2) = '0', split_part($1, '.', 3)::integer, "  \
  "split_part($1, '.', 4)::date, split_part($1, '.', 5)::bigint)"

/* The same, and before the first page (no cursor) a row before every key,
 * so that the comparison is always the index's range condition. */
#define STORED_CURSOR_ROW                                                                          \
  "(coalesce(-split_part($1, '.', 1)::bigint, '-9223372036854775808'::bigint), "                   \
  "coalesce(split_part($1, '.', 2) = '0', false), coalesce(split_part($1, '.', 3)::smallint, 0::smallint), " \
  "coalesce(split_part($1, '.', 4)::date, '-infinity'::date), coalesce(split_part($1, '.', 5)::bigint, 0))"

/* A page's rows: the cursor, the version and the document's fields
 * (resource.h), of the follow-ups of P (a page already in its order and
 * cut to its limit, with f, c, day and the key k1..k5), in that order. */
#define PAGE_ROWS(p)                                                                               \
  "SELECT arc_worklist_cursor(p.f, p.preferred), (p.f).version, x.* "                              \
  "FROM (" p ") p CROSS JOIN LATERAL arc_follow_up_fields(p.f, p.c, p.day) x "                     \
  "ORDER BY p.k1, p.k2, p.k3, p.k4, p.k5"

/* The order computed per row.  $1 cursor, $2 limit + 1, $3 due_on (the day
 * listed for; today when NULL: due on or before it), $4 assignee, $5
 * reason, $6 customer_id, $7 status (open when NULL); WHO narrows it. */
#define COMPUTED_PAGE(who)                                                                         \
  PAGE_ROWS("SELECT f, c, d.day, k.preferred, -f.amount_overdue AS k1, NOT k.preferred AS k2, "    \
            "k.priority AS k3, f.due_on AS k4, f.id AS k5 "                                        \
            "FROM (SELECT coalesce($3::date, current_date) AS day) d "                             \
            "JOIN follow_ups f ON f.due_on <= d.day "                                              \
            "JOIN customers c ON c.id = f.customer_id "                                            \
            "CROSS JOIN LATERAL (SELECT arc_preferred_on(c, d.day) AS preferred, "                 \
            "                   arc_follow_up_priority(f.reason) AS priority) k "                  \
            "WHERE f.status = coalesce($7::text, 'open') AND " who " "                             \
            "AND ($4::text IS NULL OR f.assignee = lower($4::text)) "                                     \
            "AND ($5::text IS NULL OR f.reason = $5::text) "                                       \
            "AND ($1::text IS NULL OR (" WORKLIST_KEY ") > " CURSOR_ROW ") "                       \
            "ORDER BY " WORKLIST_KEY " LIMIT $2::bigint")

/* The stored order: open follow-ups matching WHO (the lead column of an
 * index, or TRUE) and FILTER, listed for the day $3 (today when NULL), when
 * the order is kept for that day; otherwise one row whose cursor is NULL,
 * which tells the handler to use follow_ups_select_page.  $1 cursor, $2
 * limit + 1.  The key is read by a subquery with a constant limit (a page
 * is at most PAGE_LIMIT_MAX + 1 rows), so that even the generic plan, which
 * cannot know $2, is planned for a page and not for a tenth of the table;
 * the subquery returns the key's columns so that the page is in its order
 * without another sort, and only the $2 rows shown are rendered. */
#define STR_(x) #x
#define STR(x) STR_(x)
#define STORED_PAGE(who, filter)                                                                   \
  "(" PAGE_ROWS("SELECT p.f, c, d.day, (p.f).preferred, p.k1, p.k2, p.k3, p.k4, p.k5 "              \
                "FROM (SELECT coalesce($3::date, current_date) AS day) d, "                       \
                "LATERAL (SELECT f, -f.amount_overdue AS k1, NOT f.preferred AS k2, "             \
                "                f.priority AS k3, f.due_on AS k4, f.id AS k5 "                   \
                "         FROM follow_ups f "                                                     \
                "         WHERE f.status = 'open' AND " who " AND (" STORED_KEY ") > "            \
                STORED_CURSOR_ROW " AND f.due_on <= d.day " filter " "                            \
                "         ORDER BY " STORED_KEY " LIMIT " STR(PAGE_LIMIT_MAX) " + 1) p "          \
                "JOIN customers c ON c.id = (p.f).customer_id "                                   \
                "WHERE d.day = (SELECT w.preferred_on FROM worklist_order w) "                    \
                "ORDER BY p.k1, p.k2, p.k3, p.k4, p.k5 LIMIT $2::bigint") ") "                    \
  "UNION ALL "                                                                                     \
  "SELECT NULL, NULL, x.* FROM arc_follow_up_fields(NULL, NULL, NULL) x "                          \
  "WHERE coalesce($3::date, current_date) IS DISTINCT FROM (SELECT w.preferred_on FROM worklist_order w)"

const struct db_stmt follow_ups_stmts[] = {
    {"follow_ups_select_by_id",
     "SELECT f.id, f.version, x.* FROM follow_ups f JOIN customers c ON c.id = f.customer_id "
     "CROSS JOIN LATERAL arc_follow_up_fields(f, c, current_date) x WHERE f.id = $1::bigint"},
    /* Any day, any status, any filter: the order computed per row (see
     * COMPUTED_PAGE). */
    {"follow_ups_select_page", COMPUTED_PAGE("($6::bigint IS NULL OR f.customer_id = $6::bigint)")},
    /* One customer's (at most one open follow-up per reason, so the sort is
     * of a handful of rows): computed, for any day and status. */
    {"follow_ups_select_page_customer", COMPUTED_PAGE("f.customer_id = $6::bigint")},
    /* The stored order (see STORED_PAGE): the whole list ($1-$3); one
     * assignee's ($4), of one reason or all ($5 NULL); one reason's ($4). */
    {"follow_ups_select_worklist", STORED_PAGE("TRUE", "")},
    {"follow_ups_select_worklist_assignee",
     STORED_PAGE("f.assignee = lower($4::text)", "AND " LIST_IF("$5::text", "f.reason = $5::text"))},
    {"follow_ups_select_worklist_reason", STORED_PAGE("f.reason = $4::text", "")},
    /* PATCH: lock first so If-Match is checked against the version we change. */
    {"follow_ups_lock", "SELECT version FROM follow_ups WHERE id = $1::bigint FOR UPDATE"},
    {"follow_ups_update",
     "SELECT res_id, res_version, res_doc FROM arc_follow_up_update($1::bigint, $2::jsonb, $3::text)"},
    {NULL, NULL},
};
