/* CSV imports (POST /v1/imports): the upload, streamed into PostgreSQL's
 * COPY as libmicrohttpd delivers it (imports.c), and the worker thread that
 * runs the jobs (import_job.c).  The SQL is src/integrate/imports.sql
 * (which explains a job's way), import_check.sql and import_apply.sql. */
#ifndef ARC_IMPORTS_H
#define ARC_IMPORTS_H

#include <stddef.h>

#include "arc/config.h"
#include "arc/db.h"
#include "arc/http.h"

/* The upload of one request (POST /v1/imports, a ROUTE_STREAMED route);
 * the server keeps it in rq->upload and frees it with the request. */
struct import_upload;

/* How many uploads may run at once (ARC_IMPORT_MAX_UPLOADS); called by
 * server_start.  The size cap is the route's (router.h). */
void imports_configure(const struct config *cfg);

/* After the headers passed routing, authentication and roles: checks the
 * query (kind, mode) and the Content-Type.  NULL with RP filled (422, 415,
 * 503) when the upload is refused; the server then drains the body and
 * sends RP. */
struct import_upload *import_upload_begin(struct request *rq, const char *content_type, size_t content_type_len,
                                          struct reply *rp);
/* One chunk of the body.  0, or -1 with RP filled (a bad header row, a lost
 * database): the rest of the body is drained and RP sent. */
int import_upload_write(struct import_upload *u, const char *data, size_t len, struct reply *rp);
/* Frees U; an upload not finished is rolled back and leaves nothing. */
void import_upload_free(struct import_upload *u);

/* The worker thread of arcollectd serve: runs queued jobs (of any instance)
 * and jobs interrupted by a stop or crash.  NULL when ARC_IMPORT_POLL_S is 0. */
struct import_worker;
struct import_worker *import_worker_start(const struct config *cfg);
/* Stops after the batch in progress; an unfinished job is rolled back and
 * run again by the next worker. */
void import_worker_stop(struct import_worker *w);
/* Tells this process's worker a job was queued (no-op without a worker). */
void import_worker_wake(void);

#endif
