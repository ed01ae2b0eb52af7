/* Shared pieces of resource handlers: query-string parameters and replies
 * built from rows.  A "doc" row has the columns (id, version, doc) where
 * doc is the resource's JSON text as PostgreSQL rendered it, or (id,
 * version, id, ...) where the columns from the third on are the document's
 * fields (an arc_<resource>_fields function; every document starts with
 * its id), which the server renders as row_to_json would (row_json.h). */
#ifndef ARC_RESOURCE_H
#define ARC_RESOURCE_H

#include <libpq-fe.h>

#include "arc/http.h"
#include "arc/problem.h"

#define PAGE_LIMIT_DEFAULT 50
#define PAGE_LIMIT_MAX 200

struct page {
  char limit_plus_one[24]; /* text parameter for "LIMIT $n" (one extra row to see if more exist) */
  long limit;
  const char *cursor;     /* NULL = first page */
};

/* Reads limit alone (for lists with their own kind of cursor). */
void query_limit(const struct request *rq, struct page *pg, struct field_errors *fe);
/* Reads limit and cursor; errors go to FE. */
void query_page(const struct request *rq, struct page *pg, struct field_errors *fe);
/* Optional typed query arguments: *OUT is NULL when absent; errors name the argument. */
void query_date(const struct request *rq, const char *name, const char **out, struct field_errors *fe);
void query_instant(const struct request *rq, const char *name, const char **out, struct field_errors *fe);
void query_id(const struct request *rq, const char *name, const char **out, struct field_errors *fe);
void query_enum(const struct request *rq, const char *name, const char *const *values, const char **out,
                struct field_errors *fe);
void query_string(const struct request *rq, const char *name, const char **out, struct field_errors *fe);
/* Reports query arguments not in ALLOWED (NULL-terminated) as errors. */
void query_known(const struct request *rq, const char *const *allowed, struct field_errors *fe);

/* Replies with row ROW of R, a doc row: STATUS, the doc as body, its ETag,
 * and for 201 a Location of LOCATION_PREFIX + id. */
unsigned reply_doc(struct reply *rp, unsigned status, const PGresult *r, int row,
                   const char *location_prefix);
struct db;
/* Runs statement STMT, whose one row's one column is a document SQL
 * rendered (a report, /v1/meta), and replies 200 with it; a failure gets
 * db_error_reply's answer. */
unsigned reply_rendered(struct db *db, struct reply *rp, const char *stmt, int n, const char *const *params);
/* The text {"data":[doc,...]TAIL of the first SHOWN doc rows of R, where
 * TAIL carries the page's other members and the closing brace (malloc'd). */
char *page_json(const PGresult *r, int shown, const char *tail);
/* Replies 200 with {"data": [docs...], "next_cursor": id|null} from up to
 * limit + 1 doc rows. */
unsigned reply_page(struct reply *rp, const PGresult *r, const struct page *pg);

/* The path parameter I when it is a well-formed id; otherwise replies 404
 * naming WHAT and returns NULL. */
const char *path_id(const struct request *rq, struct reply *rp, size_t i, const char *what);

/* The request body as text for a jsonb parameter ("{}" when absent). */
const char *request_body_text(const struct request *rq);

/* 404 for WHAT with ID. */
unsigned reply_not_found(struct reply *rp, const char *what, const char *id);

/* A read that is the whole of a request's database work: statement STMT
 * with PARAMS (at most DB_READ_MAX_PARAMS, outside a transaction), then
 * DONE makes the reply from its result (NULL on failure, db->err set).
 * When the server lets the request wait (rq->may_batch), the read goes in
 * the worker's batch with the other requests' and this returns 0: the
 * server suspends the request and calls request_read_finish once the read
 * is answered (db.h, "Batched reads").  Otherwise it runs now and returns
 * DONE's status. */
unsigned request_read(struct request *rq, struct reply *rp, const char *stmt, int n, const char *const *params,
                      unsigned (*done)(struct request *rq, struct reply *rp, PGresult *r));
/* The reply of a batched read once answered (an aborted one runs again
 * here); returns its status. */
unsigned request_read_finish(struct request *rq, struct reply *rp);
/* request_read of one document (a doc row): 200 with it, or 404 for WHAT
 * with ID when there is no row. */
unsigned reply_read_one(struct request *rq, struct reply *rp, const char *stmt, int n,
                        const char *const *params, const char *what, const char *id);

#endif
