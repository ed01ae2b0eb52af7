/* SQL of the event feed (see migrations/0003_events.sql for why the feed
 * orders by transaction id and stops at the oldest running transaction). */
#include "arc/events.h"
#include "arc/statements.h"

const struct db_stmt events_stmts[] = {
    {"events_select_feed",
     "SELECT arc_event_cursor(e), 1, arc_event_json(e)::text FROM events e "
     "WHERE e.txid < pg_snapshot_xmin(pg_current_snapshot()) "
     "AND ($1::text IS NULL OR (e.txid, e.id) > (split_part($1, '-', 1)::xid8, split_part($1, '-', 2)::bigint)) "
     "AND ($3::text[] IS NULL OR e.type = ANY ($3::text[])) "
     "AND ($4::bigint IS NULL OR e.customer_id = $4) "
     "AND ($5::text IS NULL OR e.resource_type = $5) "
     "ORDER BY e.txid, e.id LIMIT $2"},
    {NULL, NULL},
};
