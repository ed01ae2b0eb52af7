/* SQL of the event feed (see migrations/0003_events.sql for why the feed
 * orders by transaction id and stops at the oldest running transaction). */
#include "arc/events.h"
#include "arc/statements.h"

/* The feed: LEAD (the cursor, and the filter the statement is for), the
 * customer filter ("true" in the variant that leads with it), ORDER BY. */
#define EVENTS_FEED(lead, customer, order)                                                  \
  "SELECT arc_event_cursor(e), 1, arc_event_json(e)::text FROM events e "                   \
  "WHERE e.txid < pg_snapshot_xmin(pg_current_snapshot()) AND " lead " AND "                \
  LIST_IF("$3::text[]", "e.type = ANY ($3::text[])") " AND " customer " AND "               \
  LIST_IF("$5::text", "e.resource_type = $5::text") " ORDER BY " order " LIMIT $2"
/* The cursor "txid-id" as a row; no cursor is (0, 0), before every event. */
#define EVENT_CURSOR                                                                        \
  "coalesce(split_part($1::text, '-', 1)::xid8, '0'::xid8), "                               \
  "coalesce(split_part($1::text, '-', 2)::bigint, 0)"
#define EVENT_CUSTOMER LIST_IF("$4::bigint", "e.customer_id = $4::bigint")

const struct db_stmt events_stmts[] = {
    /* The cursor as a range of the index (the feed's, or the customer's),
     * so a generic plan starts the page where the last one ended
     * (statements.h, LIST_AFTER). */
    {"events_select_feed",
     EVENTS_FEED("(e.txid, e.id) > (" EVENT_CURSOR ")", EVENT_CUSTOMER, "e.txid, e.id")},
    /* ?customer_id: events_customer_idx (customer_id, txid, id), from
     * (customer, cursor) to the customer's last event (LIST_BY). */
    {"events_select_feed_by_customer",
     EVENTS_FEED("e.customer_id <= $4::bigint "
                 "AND (e.customer_id, e.txid, e.id) > ($4::bigint, " EVENT_CURSOR ")",
                 "true", "e.customer_id, e.txid, e.id")},
    {NULL, NULL},
};
