/* SQL of scheduler runs: the sweep's lock and its run row (sweep.c), and
 * the reads behind GET /v1/scheduler/runs (runs.c). */
#include "arc/statements.h"

const struct db_stmt runs_stmts[] = {
    /* The cluster-wide sweep lock (key 7250002), held until the sweep's
     * transaction ends: a dead connection or a rollback releases it too. */
    {"scheduler_runs_lock", "SELECT pg_advisory_xact_lock(7250002)"},
    {"scheduler_runs_try_lock", "SELECT pg_try_advisory_xact_lock(7250002)"},
    /* The sweep's own settings, for its transaction: a long timeout (it
     * covers the whole book), and plans made for its as_of (sessions
     * serving requests keep generic plans: src/db/pool.c). */
    {"scheduler_runs_sweep_settings",
     "SELECT set_config('statement_timeout', '600s', true), set_config('plan_cache_mode', 'auto', true), "
     "set_config('arc.sweeping', 'on', true)"},
    /* $1 as_of (NULL = the transaction's start), $2 trigger, $3 actor, $4
     * full.  Returns the id and as_of in a form every rule reads back
     * exactly, and what the sweep has to do (sweep_changes.sql); its
     * snapshot is what every rule, running after it, sees at least. */
    {"scheduler_runs_insert",
     "INSERT INTO scheduler_runs (as_of, trigger, actor, kind, basis, seen) "
     "SELECT a.as_of, $2, $3, arc_sweep_kind(a.as_of, $4::boolean), arc_sweep_basis(), "
     "pg_current_snapshot() FROM (SELECT coalesce($1::timestamptz, now()) AS as_of) a "
     "RETURNING id, arc_ts(as_of), kind"},
    /* An incremental run's customers (sweep_scope.sql); $1 id. */
    {"scheduler_runs_scope", "SELECT arc_sweep_scope($1::bigint)"},
    /* $1 id, $2 created, $3 closed (jsonb {reason: n}). */
    {"scheduler_runs_finish",
     "UPDATE scheduler_runs r SET finished_at = clock_timestamp(), created = $2::jsonb, closed = $3::jsonb "
     "WHERE id = $1::bigint RETURNING r.id, 1, arc_scheduler_run_json(r)::text"},
    /* A preview (sweep.c): what is open before its rules, and after them
     * its document; $1 id, $2 created, $3 closed, $4 follow-ups shown. */
    {"scheduler_runs_preview_begin", "SELECT arc_sweep_preview_begin()"},
    {"scheduler_runs_preview",
     "SELECT arc_sweep_preview($1::bigint, $2::json, $3::json, $4::integer)::text"},
    /* Newest first: $1 cursor (an id), $2 limit + 1, as_of from $3
     * (inclusive) to $4 (exclusive). */
    {"scheduler_runs_select_page",
     "SELECT r.id, 1, arc_scheduler_run_json(r)::text FROM scheduler_runs r "
     "WHERE ($1::bigint IS NULL OR r.id < $1::bigint) "
     "AND ($3::timestamptz IS NULL OR r.as_of >= $3::timestamptz) "
     "AND ($4::timestamptz IS NULL OR r.as_of < $4::timestamptz) "
     "ORDER BY r.id DESC LIMIT $2::bigint"},
    {"scheduler_runs_select_by_id",
     "SELECT r.id, 1, arc_scheduler_run_json(r)::text FROM scheduler_runs r WHERE r.id = $1::bigint"},
    {NULL, NULL},
};
