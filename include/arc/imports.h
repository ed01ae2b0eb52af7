/* CSV imports (POST /v1/imports): the upload, streamed into PostgreSQL's
 * COPY as libmicrohttpd delivers it (imports.c), and the worker thread that
 * runs the jobs (import_job.c).  The SQL is migrations/0023_imports.sql. */
#ifndef ARC_IMPORTS_H
#define ARC_IMPORTS_H

#include <stddef.h>

#include "arc/config.h"
#include "arc/db.h"
#include "arc/http.h"
#include "arc/router.h"

/* The upload of one request; owned by the server's request context. */
struct import_upload;

/* Limits of uploads (ARC_IMPORT_MAX_BYTES, ARC_IMPORT_MAX_UPLOADS); called
 * by server_start. */
void imports_configure(const struct config *cfg);
size_t imports_max_bytes(void);

/* 1 when ROUTE takes its body as an import stream rather than JSON. */
int import_route_streams(const struct route *route);

/* After the headers passed routing, authentication and roles: checks the
 * query (kind, mode) and the Content-Type.  NULL with RP filled (422, 415,
 * 503) when the upload is refused; the server then drains the body and
 * sends RP. */
struct import_upload *import_upload_begin(struct request *rq, const char *content_type, size_t content_type_len,
                                          struct reply *rp);
/* One chunk of the body.  0, or -1 with RP filled (a bad header row, a lost
 * database): the rest of the body is drained and RP sent. */
int import_upload_write(struct import_upload *u, const char *data, size_t len, struct reply *rp);
/* The whole body arrived: stores the job (202 + Location), or fills RP with
 * a problem.  Answers a repeated Idempotency-Key like db_run_tx does. */
unsigned import_upload_finish(struct import_upload *u, struct request *rq, struct reply *rp);
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
