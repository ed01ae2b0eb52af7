/* SQL of webhooks: the subscriptions' statements, then the delivery
 * thread's.  The logic (outbox, retries, disabling) is in webhooks.sql
 * and delivery.sql; migrations/0009_webhooks.sql explains the outbox. */
#include "arc/statements.h"

#define WEBHOOK_DOC "w.id, w.version, arc_webhook_json(w)::text"

const struct db_stmt webhooks_stmts[] = {
    /* $1 body (validated url, event_types, description), $2 secret, $3 actor. */
    {"webhooks_insert", "SELECT " WEBHOOK_DOC " FROM arc_webhook_create($1::jsonb, $2::text, $3::text) w"},
    {"webhooks_select_by_id", "SELECT " WEBHOOK_DOC " FROM webhooks w WHERE w.id = $1::bigint"},
    /* $3 enabled (true/false/NULL). */
    {"webhooks_select_page",
     "SELECT " WEBHOOK_DOC " FROM webhooks w "
     "WHERE ($1::bigint IS NULL OR w.id > $1::bigint) "
     "AND ($3::boolean IS NULL OR w.enabled = $3::boolean) "
     "ORDER BY w.id LIMIT $2::bigint"},
    /* PATCH and DELETE lock first, so If-Match is checked against the version
     * they change.  NO KEY: the delivery thread's key-share lock on the row
     * (while it reads the feed for it) does not hold a PATCH up. */
    {"webhooks_lock", "SELECT version FROM webhooks WHERE id = $1::bigint FOR NO KEY UPDATE"},
    {"webhooks_lock_for_delete", "SELECT version FROM webhooks WHERE id = $1::bigint FOR UPDATE"},
    {"webhooks_update", "SELECT res_id, res_version, res_doc FROM arc_webhook_update($1::bigint, $2::jsonb, $3::text)"},
    {"webhooks_delete", "SELECT arc_webhook_delete($1::bigint)"},
    /* Deliveries newest first.  $1 webhook, $2 cursor (a delivery id: the
     * page goes on below it), $3 limit + 1, $4 status, $5 event_id. */
    {"webhook_deliveries_select_page",
     "SELECT d.id, 1, arc_webhook_delivery_json(d)::text FROM webhook_deliveries d "
     "WHERE d.webhook_id = $1::bigint AND ($2::bigint IS NULL OR d.id < $2::bigint) "
     "AND ($4::text IS NULL OR d.status = $4::text) "
     "AND ($5::bigint IS NULL OR d.event_id = $5::bigint) "
     "ORDER BY d.id DESC LIMIT $3::bigint"},
    {"webhooks_exists", "SELECT 1 FROM webhooks WHERE id = $1::bigint"},

    /* ---- the delivery thread (delivery.c) ---- */
    /* $1 events read per subscription at most.  (-1, 0) when another
     * instance holds the outbox lock. */
    {"webhooks_enqueue", "SELECT created, most_read FROM arc_webhooks_enqueue($1::integer)"},
    /* Claims up to $1 due deliveries for $2 ms (the lease): other instances
     * skip them until then, and if this one dies they are due again.  What
     * to POST comes with them. */
    {"webhook_deliveries_claim",
     "WITH due AS ("
     " SELECT d.id FROM webhook_deliveries d"
     " WHERE d.status = 'pending' AND d.next_attempt_at <= now()"
     " ORDER BY d.next_attempt_at, d.id LIMIT $1::integer"
     " FOR UPDATE SKIP LOCKED) "
     "UPDATE webhook_deliveries d SET next_attempt_at = now() + $2::bigint * interval '1 millisecond' "
     "FROM due, webhooks w, events e "
     "WHERE d.id = due.id AND w.id = d.webhook_id AND w.enabled AND e.id = d.event_id "
     "RETURNING d.id::text, w.url, w.secret, 'evt_' || e.id, arc_webhook_payload(e)"},
    /* $1 results (JSON), $2 retry base ms, $3 retry window ms. */
    {"webhook_attempts_record",
     "SELECT recorded, delivered, given_up, disabled FROM arc_webhook_attempts_record($1::jsonb, $2::bigint, "
     "$3::bigint)"},
    /* $1 delivery ids ({1,2,3}) whose POSTs were abandoned. */
    {"webhook_deliveries_release", "SELECT arc_webhook_release($1::bigint[])"},
    {NULL, NULL},
};
