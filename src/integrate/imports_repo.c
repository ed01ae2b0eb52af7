/* SQL of CSV imports; the logic is in imports.sql, import_check.sql and
 * import_apply.sql.  Three connections use these: the request workers (reads), an upload's own
 * connection (the COPY and the job row) and the import worker's two (the
 * job's transaction, and the one that commits progress and errors). */
#include "arc/statements.h"

#define IMPORT_DOC "i.id, i.version, arc_import_json(i)::text"

const struct db_stmt imports_stmts[] = {
    {"imports_select_by_id", "SELECT " IMPORT_DOC " FROM imports i WHERE i.id = $1::bigint"},
    /* $1 cursor, $2 limit + 1, $3 kind, $4 status. */
    {"imports_select_page",
     "SELECT " IMPORT_DOC " FROM imports i "
     "WHERE ($1::bigint IS NULL OR i.id > $1::bigint) AND ($3::text IS NULL OR i.kind = $3::text) "
     "AND ($4::text IS NULL OR i.status = $4::text) ORDER BY i.id LIMIT $2::bigint"},
    /* Errors in file order; the cursor is the id of the last error read. */
    {"import_errors_select_page",
     "SELECT e.id, 1, arc_import_error_json(e)::text FROM import_errors e "
     "WHERE e.import_id = $1::bigint AND ($2::bigint IS NULL OR (e.file_row, e.id) > "
     "(SELECT c.file_row, c.id FROM import_errors c WHERE c.id = $2::bigint AND c.import_id = $1::bigint)) "
     "ORDER BY e.file_row, e.id LIMIT $3::bigint"},

    /* The upload's connection.  $1 kind, $2 mode, $3 columns (array
     * literal), $4 actor, $5 request id.  The staging rows' defaults read
     * arc.import_id. */
    {"imports_insert",
     "WITH i AS (INSERT INTO imports (kind, mode, columns, created_by, request_id) "
     "VALUES ($1::text, $2::text, $3::text[], $4::text, $5::text) RETURNING id) "
     "SELECT i.id, set_config('arc.import_id', i.id::text, true) FROM i"},
    {"imports_uploaded",
     "UPDATE imports i SET rows_total = $2::bigint, bytes = $3::bigint WHERE i.id = $1::bigint "
     "RETURNING " IMPORT_DOC},
    /* A file COPY could not read: the job is failed at once.  $6 bytes,
     * $7 the error, $8 its row (NULL when unknown). */
    {"imports_insert_failed",
     "WITH i AS (INSERT INTO imports (kind, mode, columns, created_by, request_id, status, bytes, error, "
     "error_count, rows_failed, started_at, finished_at) "
     "VALUES ($1::text, $2::text, $3::text[], $4::text, $5::text, 'failed', $6::bigint, $7::text, "
     "CASE WHEN $8::bigint IS NULL THEN 0 ELSE 1 END, CASE WHEN $8::bigint IS NULL THEN 0 ELSE 1 END, now(), now()) "
     "RETURNING *), "
     "e AS (INSERT INTO import_errors (import_id, file_row, field, message) "
     "SELECT i.id, $8::bigint, NULL, $7::text FROM i WHERE $8::bigint IS NOT NULL) "
     "SELECT i.id, i.version, arc_import_json(ROW(i.*)::imports)::text FROM i"},

    /* The job's transaction. */
    {"imports_claim", "SELECT arc_import_claim()"},
    {"imports_context",
     "SELECT set_config('arc.actor', coalesce($1::text, ''), true), "
     "set_config('arc.request_id', coalesce($2::text, ''), true), set_config('arc.import', 'on', true), "
     "set_config('statement_timeout', '1800000', true), set_config('client_min_messages', 'warning', true)"},
    {"imports_duplicates", "SELECT arc_import_duplicates($1::bigint, $2::text)::text"},
    {"imports_check", "SELECT arc_import_check($1::bigint, $2::bigint, $3::bigint)::text"},
    {"imports_apply", "SELECT applied, errors::text FROM arc_import_apply($1::bigint, $2::bigint, $3::bigint)"},
    /* $2 status, $3 rows done, $4 rows applied, $5 error (job-wide). */
    {"imports_finish",
     "UPDATE imports i SET status = $2::text, rows_done = $3::bigint, rows_applied = $4::bigint, "
     "error = $5::text, finished_at = now(), "
     "rows_failed = (SELECT count(DISTINCT e.file_row) FROM import_errors e WHERE e.import_id = i.id), "
     "error_count = (SELECT count(*) FROM import_errors e WHERE e.import_id = i.id) WHERE i.id = $1::bigint"},
    {"imports_unstage", "SELECT arc_import_unstage($1::bigint)"},

    /* The worker's second connection: committed at once, read by GET. */
    {"imports_start",
     "UPDATE imports SET status = 'running', attempts = attempts + 1, started_at = now(), finished_at = NULL, "
     "rows_done = 0, rows_applied = 0, rows_failed = 0, error_count = 0, error = NULL WHERE id = $1::bigint "
     "RETURNING kind, mode, rows_total, attempts, created_by, request_id"},
    {"imports_errors_clear", "DELETE FROM import_errors WHERE import_id = $1::bigint"},
    {"imports_errors_add",
     "INSERT INTO import_errors (import_id, file_row, field, message) "
     "SELECT $1::bigint, x.\"row\", x.field, x.message "
     "FROM jsonb_to_recordset($2::jsonb) AS x(\"row\" bigint, field text, message text) ORDER BY x.\"row\""},
    {"imports_progress", "SELECT arc_import_progress($1::bigint, $2::bigint, $3::bigint)"},
    {NULL, NULL},
};
