/* /v1/imports: CSV files of customers, invoices or payments, upserted by
 * external_id as a job (imports.sql explains the job).
 *
 * The upload never holds the file: as libmicrohttpd hands over chunks they
 * go into COPY ... FROM STDIN (FORMAT csv, HEADER) on a connection of the
 * upload's own (a worker thread's connection serves other requests between
 * two chunks).  PostgreSQL parses the CSV; this file only finds where the
 * header row ends, to name the COPY's columns from it. */
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/idempotency.h"
#include "arc/imports.h"
#include "arc/statements.h"
#include "arc/log.h"
#include "arc/resource.h"

#define HEADER_MAX (64u * 1024) /* the header row must end within this many bytes */
#define COLUMNS_MAX 64

/* What a file of each kind may hold: the API's field names. */
struct import_kind {
  const char *name;  /* kind= */
  const char *table; /* staging table */
  const char *const *columns;
  const char *const *required;
  int needs_customer; /* customer_external_id or customer_id */
};

static const char *const customer_columns[] = {
    "external_id",   "name",      "kind",        "email",       "phone",
    "timezone",      "preferred_contact_days",   "cadence_days", "check_in_days",
    "collector",     "salesperson", "cease_communication",      "notes", NULL};
static const char *const customer_required[] = {"external_id", "name", NULL};
static const char *const invoice_columns[] = {
    "external_id", "customer_external_id", "customer_id", "number",      "currency", "amount",
    "issued_on",   "due_on",               "po_number",   "description", "factored", NULL};
static const char *const invoice_required[] = {"external_id", "number", "currency", "amount", "issued_on", "due_on",
                                               NULL};
static const char *const payment_columns[] = {
    "external_id", "customer_external_id", "customer_id", "amount",         "currency", "received_on",
    "method",      "reference",            "invoice_external_id", "invoice_number", NULL};
static const char *const payment_required[] = {"external_id", "amount", "currency", "received_on", "method", NULL};

static const struct import_kind import_kinds[] = {
    {"customers", "import_customer_rows", customer_columns, customer_required, 0},
    {"invoices", "import_invoice_rows", invoice_columns, invoice_required, 1},
    {"payments", "import_payment_rows", payment_columns, payment_required, 1},
};

static const char *const kind_names[] = {"customers", "invoices", "payments", NULL};
static const char *const mode_names[] = {"all_or_nothing", "valid_rows", NULL};
static const char *const statuses[] = {"queued", "running", "succeeded", "partially_applied", "failed", NULL};

static unsigned g_max_uploads = 4;
static atomic_uint g_uploads;

void imports_configure(const struct config *cfg) { g_max_uploads = cfg->import_max_uploads; }

struct import_upload {
  const struct import_kind *kind;
  const char *mode;
  struct request *rq;
  struct db *db;          /* the upload's own connection */
  char *head;             /* the bytes up to the end of the header row */
  size_t head_len, head_cap;
  int header_done;
  int copying;            /* COPY ... FROM STDIN is running */
  int copy_broken;        /* PostgreSQL stopped taking the data (it failed) */
  unsigned long long bytes;
  EVP_MD_CTX *sha;        /* the body's SHA-256, for Idempotency-Key */
  char columns[COLUMNS_MAX * 24 + 4]; /* the header's columns as an array literal */
  char import_id[24];
};

static int in_list(const char *const *list, const char *s)
{
  for (; *list; list++)
    if (strcmp(*list, s) == 0)
      return 1;
  return 0;
}

static unsigned reply_unavailable(struct reply *rp, const char *detail)
{
  reply_problem(rp, PROBLEM_UNAVAILABLE, detail);
  reply_header(rp, "Retry-After", "5");
  return rp->status;
}

static int media_type_is_csv(const char *v, size_t len)
{
  static const char csv[] = "text/csv";
  size_t n = sizeof csv - 1;
  if (len < n || strncasecmp(v, csv, n) != 0)
    return 0;
  const char *p = v + n, *end = v + len;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (p == end)
    return 1;
  if (*p != ';')
    return 0;
  /* Parameters: only charset=utf-8 (the default) is understood. */
  p++;
  while (p < end && *p == ' ')
    p++;
  static const char *const utf8[] = {"charset=utf-8", "charset=\"utf-8\"", "header=present", NULL};
  for (size_t i = 0; utf8[i]; i++)
    if ((size_t)(end - p) == strlen(utf8[i]) && strncasecmp(p, utf8[i], strlen(utf8[i])) == 0)
      return 1;
  return 0;
}

/* A statement outside the prepared lists: the upload's session set-up and
 * its COPY.  1 when it ended with STATUS. */
static int exec_simple(struct db *db, const char *sql, ExecStatusType status)
{
  PGresult *r = PQexec(db->conn, sql);
  int ok = PQresultStatus(r) == status;
  if (!ok && status != PGRES_COPY_IN)
    log_json("error", "imports: statement failed",
             json_pack("{s:s, s:s}", "sql", sql, "error", PQresultErrorMessage(r)));
  PQclear(r);
  return ok;
}

struct import_upload *import_upload_begin(struct request *rq, const char *content_type, size_t content_type_len,
                                          struct reply *rp)
{
  if (!content_type || !media_type_is_csv(content_type, content_type_len)) {
    reply_problem(rp, PROBLEM_UNSUPPORTED_MEDIA_TYPE,
                  "send the file as Content-Type: text/csv (UTF-8, a header row of column names)");
    return NULL;
  }
  static const char *const known[] = {"kind", "mode", NULL};
  struct field_errors fe = {0};
  const char *kind = NULL, *mode = NULL;
  query_known(rq, known, &fe);
  query_enum(rq, "kind", kind_names, &kind, &fe);
  query_enum(rq, "mode", mode_names, &mode, &fe);
  if (!kind && !request_query(rq, "kind"))
    field_error(&fe, "kind", "is required: customers, invoices or payments");
  if (field_errors_any(&fe)) {
    reply_validation(rp, &fe);
    return NULL;
  }
  if (atomic_fetch_add(&g_uploads, 1) >= g_max_uploads) {
    atomic_fetch_sub(&g_uploads, 1);
    reply_unavailable(rp, "as many imports as allowed are being uploaded now; retry shortly");
    return NULL;
  }
  struct import_upload *u = calloc(1, sizeof *u);
  if (!u) {
    atomic_fetch_sub(&g_uploads, 1);
    reply_problem(rp, PROBLEM_INTERNAL, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < sizeof import_kinds / sizeof import_kinds[0]; i++)
    if (strcmp(import_kinds[i].name, kind) == 0)
      u->kind = &import_kinds[i];
  u->mode = mode ? mode : "all_or_nothing";
  u->rq = rq;
  if (rq->idem) {
    u->sha = EVP_MD_CTX_new();
    if (!u->sha || EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL) != 1) {
      import_upload_free(u);
      reply_problem(rp, PROBLEM_INTERNAL, "cannot hash the body for the Idempotency-Key");
      return NULL;
    }
  }
  static const struct db_stmt *const lists[] = {imports_stmts, idempotency_stmts, NULL};
  u->db = db_ready(rq->db) ? db_open(lists) : NULL;
  /* The COPY lasts as long as the upload (the connection timeout bounds a
   * stalled client); rows are numbered by a sequence of this session. */
  char setup[COLUMNS_MAX * 12 + 256];
  size_t used = (size_t)snprintf(setup, sizeof setup,
                                 "SET statement_timeout = 0; CREATE TEMP SEQUENCE arc_import_rn; "
                                 "CREATE TEMP TABLE arc_import_header (");
  for (int i = 1; i <= COLUMNS_MAX; i++)
    used += (size_t)snprintf(setup + used, sizeof setup - used, "%sc%d text", i > 1 ? ", " : "", i);
  snprintf(setup + used, sizeof setup - used, ")");
  if (!u->db || !exec_simple(u->db, setup, PGRES_COMMAND_OK)) {
    import_upload_free(u);
    reply_unavailable(rp, "the database is unreachable; retry shortly");
    return NULL;
  }
  return u;
}

/* Reads the header row LINE (without its line end) through COPY into the
 * column list of the job, or fills RP with what is wrong with it. */
static int read_header(struct import_upload *u, const char *line, size_t len, struct reply *rp)
{
  size_t n = 1;
  for (size_t i = 0; i < len; i++)
    n += line[i] == ',';
  if (n > COLUMNS_MAX) {
    reply_field_error(rp, "(header)", "has more columns than any import takes (at most 64)");
    return -1;
  }
  char sql[COLUMNS_MAX * 6 + 128];
  size_t used = (size_t)snprintf(sql, sizeof sql, "COPY arc_import_header (");
  for (size_t i = 1; i <= n; i++)
    used += (size_t)snprintf(sql + used, sizeof sql - used, "%sc%zu", i > 1 ? ", " : "", i);
  snprintf(sql + used, sizeof sql - used, ") FROM STDIN (FORMAT csv)");
  PGconn *conn = u->db->conn;
  int copied = exec_simple(u->db, sql, PGRES_COPY_IN) && PQputCopyData(conn, line, (int)len) == 1 &&
               PQputCopyData(conn, "\n", 1) == 1 && PQputCopyEnd(conn, NULL) == 1;
  PGresult *r;
  int ok = copied;
  while ((r = PQgetResult(conn))) {
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    reply_unavailable(rp, "the database connection was lost; retry shortly");
    return -1;
  }
  if (!ok) {
    reply_field_error(rp, "(header)",
                      "must be the column names separated by commas, in quotes or not (a name holds no comma, "
                      "quote or line break)");
    return -1;
  }
  r = PQexec(conn, "SELECT * FROM arc_import_header");
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
    PQclear(r);
    reply_unavailable(rp, "the database connection was lost; retry shortly");
    return -1;
  }
  struct field_errors fe = {0};
  const struct import_kind *k = u->kind;
  char seen[COLUMNS_MAX][64];
  size_t n_seen = 0;
  used = (size_t)snprintf(u->columns, sizeof u->columns, "{");
  for (size_t i = 0; i < n; i++) {
    const char *raw = PQgetvalue(r, 0, (int)i);
    char name[64];
    size_t b = 0, e = strlen(raw);
    while (b < e && isspace((unsigned char)raw[b]))
      b++;
    while (e > b && isspace((unsigned char)raw[e - 1]))
      e--;
    snprintf(name, sizeof name, "%.*s", (int)(e - b), raw + b);
    if (!*name) {
      char field[32];
      snprintf(field, sizeof field, "(header)[%zu]", i);
      field_error(&fe, field, "is a column without a name");
      continue;
    }
    if (!in_list(k->columns, name)) {
      char known[512];
      size_t kn = 0;
      for (const char *const *c = k->columns; *c; c++)
        kn += (size_t)snprintf(known + kn, sizeof known - kn, "%s%s", kn ? ", " : "", *c);
      field_error(&fe, name, "is not a column of a %s import (columns: %s)", k->name, known);
      continue;
    }
    int twice = 0;
    for (size_t j = 0; j < n_seen; j++)
      twice |= strcmp(seen[j], name) == 0;
    if (twice) {
      field_error(&fe, name, "is a column named twice");
      continue;
    }
    snprintf(seen[n_seen++], sizeof seen[0], "%s", name);
    used += (size_t)snprintf(u->columns + used, sizeof u->columns - used, "%s%s", n_seen > 1 ? "," : "", name);
  }
  PQclear(r);
  snprintf(u->columns + used, sizeof u->columns - used, "}");
  for (const char *const *c = k->required; *c; c++) {
    int have = 0;
    for (size_t j = 0; j < n_seen; j++)
      have |= strcmp(seen[j], *c) == 0;
    if (!have)
      field_error(&fe, *c, "is a required column of a %s import", k->name);
  }
  if (k->needs_customer) {
    int have = 0;
    for (size_t j = 0; j < n_seen; j++)
      have |= strcmp(seen[j], "customer_external_id") == 0 || strcmp(seen[j], "customer_id") == 0;
    if (!have)
      field_error(&fe, "customer_external_id", "is a required column (or customer_id) of a %s import", k->name);
  }
  if (field_errors_any(&fe)) {
    reply_validation(rp, &fe);
    return -1;
  }

  /* The job row and the staged rows commit together, at the end. */
  const char *params[] = {k->name, u->mode, u->columns, u->rq->who.actor[0] ? u->rq->who.actor : NULL,
                          u->rq->request_id};
  if (!exec_simple(u->db, "BEGIN", PGRES_COMMAND_OK)) {
    reply_unavailable(rp, "the database connection was lost; retry shortly");
    return -1;
  }
  PGresult *ins;
  if (db_exec_one(u->db, "imports_insert", 5, params, &ins) != DB_ONE) {
    db_error_reply(u->db, rp);
    return -1;
  }
  snprintf(u->import_id, sizeof u->import_id, "%s", PQgetvalue(ins, 0, 0));
  PQclear(ins);
  char copy[COLUMNS_MAX * 24 + 128];
  used = (size_t)snprintf(copy, sizeof copy, "COPY %s (", k->table);
  for (size_t j = 0; j < n_seen; j++)
    used += (size_t)snprintf(copy + used, sizeof copy - used, "%s%s", j ? ", " : "", seen[j]);
  snprintf(copy + used, sizeof copy - used, ") FROM STDIN (FORMAT csv, HEADER true, ENCODING 'UTF8')");
  if (!exec_simple(u->db, copy, PGRES_COPY_IN)) {
    reply_unavailable(rp, "the database connection was lost; retry shortly");
    return -1;
  }
  u->copying = 1;
  return 0;
}

/* Sends bytes to the running COPY; after PostgreSQL refused the data (bad
 * CSV), the rest is only counted: the error is read at the end. */
static void copy_data(struct import_upload *u, const char *data, size_t len)
{
  while (u->copying && !u->copy_broken && len > 0) {
    int n = len > (1u << 30) ? (1 << 30) : (int)len;
    if (PQputCopyData(u->db->conn, data, n) != 1)
      u->copy_broken = 1;
    data += n;
    len -= (size_t)n;
  }
}

/* The header row is complete in u->head (up to END, the '\n' or the end of
 * the body): reads it and starts the COPY with what arrived so far. */
static int header_complete(struct import_upload *u, size_t end, struct reply *rp)
{
  size_t skip = u->head_len >= 3 && memcmp(u->head, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* a BOM */
  size_t line_end = end;
  if (line_end > skip && u->head[line_end - 1] == '\r')
    line_end--;
  u->header_done = 1;
  if (read_header(u, u->head + skip, line_end - skip, rp) != 0)
    return -1;
  copy_data(u, u->head + skip, u->head_len - skip);
  free(u->head);
  u->head = NULL;
  u->head_len = u->head_cap = 0;
  return 0;
}

int import_upload_write(struct import_upload *u, const char *data, size_t len, struct reply *rp)
{
  u->bytes += len;
  if (u->sha)
    EVP_DigestUpdate(u->sha, data, len);
  if (u->header_done) {
    copy_data(u, data, len);
    return 0;
  }
  if (u->head_len + len > u->head_cap) {
    size_t cap = u->head_cap ? u->head_cap : 4096;
    while (cap < u->head_len + len)
      cap *= 2;
    char *h = realloc(u->head, cap);
    if (!h) {
      reply_problem(rp, PROBLEM_INTERNAL, "out of memory");
      return -1;
    }
    u->head = h;
    u->head_cap = cap;
  }
  size_t from = u->head_len;
  memcpy(u->head + u->head_len, data, len);
  u->head_len += len;
  const char *nl = memchr(u->head + from, '\n', len);
  if (nl)
    return header_complete(u, (size_t)(nl - u->head), rp);
  if (u->head_len > HEADER_MAX) {
    reply_field_error(rp, "(header)", "the header row must end within the first 64 KiB of the file");
    return -1;
  }
  return 0;
}

/* "line 7" from COPY's error context: the file's row 7 (PostgreSQL counts
 * a quoted line break as part of its row). */
static long long context_line(const PGresult *r)
{
  const char *ctx = PQresultErrorField(r, PG_DIAG_CONTEXT);
  const char *p = ctx ? strstr(ctx, ", line ") : NULL;
  return p ? atoll(p + 7) : 0;
}

static void body_sha256(struct import_upload *u)
{
  if (!u->sha || !u->rq->idem)
    return;
  unsigned char md[32];
  unsigned n = 0;
  if (EVP_DigestFinal_ex(u->sha, md, &n) != 1 || n != sizeof md)
    memset(md, 0, sizeof md);
  for (size_t i = 0; i < sizeof md; i++)
    snprintf(u->rq->idem->body_sha256 + 2 * i, 3, "%02x", md[i]);
}

/* Commits the transaction open on the upload's connection with the job in
 * DOC (a row of id, version, doc) as the 202 answer, stored under the
 * Idempotency-Key if any. */
static unsigned commit_job(struct import_upload *u, PGresult *doc, struct reply *rp)
{
  struct db *db = u->db;
  db->idem = u->rq->idem;
  int replayed = 0;
  unsigned status = idempotency_tx_claim(db, rp, &replayed);
  if (status || db->failed) {
    exec_simple(db, "ROLLBACK", PGRES_COMMAND_OK);
    return status ? status : db_error_reply(db, rp);
  }
  char loc[64];
  snprintf(loc, sizeof loc, "/v1/imports/%s", PQgetvalue(doc, 0, 0));
  reply_doc(rp, 202, doc, 0, NULL);
  reply_header(rp, "Location", loc);
  idempotency_tx_store(db, 202, rp);
  if (db->failed || !exec_simple(db, "COMMIT", PGRES_COMMAND_OK)) {
    exec_simple(db, "ROLLBACK", PGRES_COMMAND_OK);
    reply_clear(rp);
    return reply_unavailable(rp, "the import could not be stored; retry it");
  }
  idempotency_tx_committed(db);
  db->idem = NULL;
  import_worker_wake();
  return 202;
}

/* POST /v1/imports, once the whole body has been streamed into the COPY
 * (ROUTE_STREAMED): stores the job (202 + Location), or answers the
 * problem.  Answers a repeated Idempotency-Key like db_run_tx does. */
unsigned imports_create(struct request *rq, struct reply *rp)
{
  struct import_upload *u = rq->upload;
  if (!u) /* the server begins every upload of this route, or answers first */
    return reply_problem(rp, PROBLEM_INTERNAL, "the upload was not streamed");
  body_sha256(u);
  if (rq->idem) {
    /* A repeat of a stored upload is answered with the first job. */
    unsigned status = idempotency_replay(rq->db, rq->idem, rp);
    if (status)
      return status;
  }
  if (!u->header_done) {
    size_t skip = u->head_len >= 3 && memcmp(u->head, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    if (u->head_len <= skip)
      return reply_field_error(rp, "(body)", "must be a CSV file: a header row of column names, then one row per record");
    if (header_complete(u, u->head_len, rp) != 0)
      return rp->status;
  }
  PGconn *conn = u->db->conn;
  PQputCopyEnd(conn, NULL);
  u->copying = 0;
  PGresult *r = PQgetResult(conn), *extra;
  while ((extra = PQgetResult(conn)))
    PQclear(extra);
  if (PQstatus(conn) != CONNECTION_OK) {
    PQclear(r);
    return reply_unavailable(rp, "the database connection was lost during the upload; retry it");
  }
  char bytes[24];
  snprintf(bytes, sizeof bytes, "%llu", u->bytes);
  PGresult *doc;
  if (PQresultStatus(r) == PGRES_COMMAND_OK) {
    const char *params[] = {u->import_id, PQcmdTuples(r), bytes};
    enum db_status st = db_exec_one(u->db, "imports_uploaded", 3, params, &doc);
    PQclear(r);
    if (st != DB_ONE)
      return db_error_reply(u->db, rp);
  } else {
    /* PostgreSQL could not read the file: the job fails at once, naming
     * the row, and nothing of it is kept. */
    const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    long long line = context_line(r);
    char message[400], row[24];
    snprintf(message, sizeof message, "the file is not valid CSV%s%.0lld: %.300s",
             line ? " at row " : "", line, primary ? primary : "COPY failed");
    snprintf(row, sizeof row, "%lld", line);
    PQclear(r);
    exec_simple(u->db, "ROLLBACK", PGRES_COMMAND_OK);
    if (!exec_simple(u->db, "BEGIN", PGRES_COMMAND_OK))
      return reply_unavailable(rp, "the database connection was lost; retry shortly");
    const char *params[] = {u->kind->name, u->mode, u->columns, rq->who.actor[0] ? rq->who.actor : NULL,
                            rq->request_id, bytes, message, line ? row : NULL};
    if (db_exec_one(u->db, "imports_insert_failed", 8, params, &doc) != DB_ONE) {
      exec_simple(u->db, "ROLLBACK", PGRES_COMMAND_OK);
      return db_error_reply(u->db, rp);
    }
  }
  unsigned status = commit_job(u, doc, rp);
  PQclear(doc);
  return status;
}

void import_upload_free(struct import_upload *u)
{
  if (!u)
    return;
  db_close(u->db); /* closing rolls back whatever was not committed */
  EVP_MD_CTX_free(u->sha);
  free(u->head);
  free(u);
  atomic_fetch_sub(&g_uploads, 1);
}

unsigned imports_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit", "cursor", "kind", "status", NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *kind, *status;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  query_enum(rq, "kind", kind_names, &kind, &fe);
  query_enum(rq, "status", statuses, &status, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {pg.cursor, pg.limit_plus_one, kind, status};
  PGresult *r = db_exec(rq->db, "imports_select_page", 4, params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}

unsigned imports_get(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "import");
  if (!id)
    return rp->status;
  const char *params[] = {id};
  return reply_read_one(rq, rp, "imports_select_by_id", 1, params, "import", id);
}

unsigned import_errors_list(struct request *rq, struct reply *rp)
{
  const char *id = path_id(rq, rp, 0, "import");
  if (!id)
    return rp->status;
  static const char *const known[] = {"limit", "cursor", NULL};
  struct field_errors fe = {0};
  struct page pg;
  query_known(rq, known, &fe);
  query_page(rq, &pg, &fe);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {id};
  PGresult *r;
  enum db_status st = db_exec_one(rq->db, "imports_select_by_id", 1, params, &r);
  if (st < 0)
    return db_error_reply(rq->db, rp);
  PQclear(r);
  if (st == DB_NONE)
    return reply_not_found(rp, "import", id);
  const char *page_params[] = {id, pg.cursor, pg.limit_plus_one};
  r = db_exec(rq->db, "import_errors_select_page", 3, page_params);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_page(rp, r, &pg);
  PQclear(r);
  return rp->status;
}
