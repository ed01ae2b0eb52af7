/* The request a handler reads and the reply it fills.  Nothing here knows
 * libmicrohttpd: handlers and their tests run without a server. */
#ifndef ARC_HTTP_H
#define ARC_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "arc/auth.h"
#include "arc/db.h"

struct db;
struct idempotency;
struct import_upload;
struct route;

enum http_method {
  HTTP_GET = 1 << 0,
  HTTP_POST = 1 << 1,
  HTTP_PUT = 1 << 2,
  HTTP_PATCH = 1 << 3,
  HTTP_DELETE = 1 << 4,
  HTTP_HEAD = 1 << 5,
  HTTP_OPTIONS = 1 << 6,
};

#define REQUEST_MAX_PARAMS 4
#define REQUEST_MAX_QUERY 24
#define REPLY_MAX_HEADERS 6

struct query_arg {
  char *name;
  char *value; /* NULL when given without '=' */
};

struct request {
  enum http_method method;
  const struct route *route;
  char *path_params[REQUEST_MAX_PARAMS];
  struct query_arg query[REQUEST_MAX_QUERY];
  size_t n_query;
  char *if_match;        /* NULL when absent */
  char *idempotency_key; /* NULL when absent */
  struct idempotency *idem; /* a POST's key and request fingerprint (idempotency.h); NULL without one */
  json_t *body;          /* parsed body, NULL when the request had none */
  const char *raw_body;  /* the body bytes as received (valid JSON when body != NULL) */
  size_t raw_len;
  struct principal who;
  struct db *db;         /* this worker thread's connection */
  struct import_upload *upload; /* a ROUTE_STREAMED body on its way to the database (imports.h) */
  char request_id[64];
  /* A read the handler left to the worker's batch (request_read,
   * resource.h): set by the server, may_batch says it may; read_done makes
   * the reply once the read is answered. */
  int may_batch;
  struct db_read read;
  unsigned (*read_done)(struct request *rq, struct reply *rp, PGresult *r);
  const char *read_what, *read_id; /* reply_read_one's 404 */
};

struct reply_header {
  char *name;
  char *value;
};

struct reply {
  unsigned status;
  json_t *json;           /* owned; serialised once by the server */
  char *text;             /* owned; a ready JSON text, used when json is NULL */
  size_t text_len;
  int is_problem;         /* content type application/problem+json */
  const char *content_type; /* a static string for a body that is not JSON (GET /metrics); NULL: JSON */
  struct reply_header headers[REPLY_MAX_HEADERS];
  size_t n_headers;
};

/* Path parameter i of the matched route pattern ("{id}" and the like). */
const char *request_param(const struct request *rq, size_t i);

/* The value of query argument NAME, or NULL; "" for a bare "?name". */
const char *request_query(const struct request *rq, const char *name);

/* Replies.  Each returns the status so handlers can `return reply_json(...)`. */
unsigned reply_json(struct reply *rp, unsigned status, json_t *body_steal);
unsigned reply_text(struct reply *rp, unsigned status, char *text_steal);
unsigned reply_empty(struct reply *rp, unsigned status);
/* Adds a header; the reply copies both strings.  Returns 0 when full. */
int reply_header(struct reply *rp, const char *name, const char *value);
/* Sets ETag to the strong tag of a row version. */
void reply_etag(struct reply *rp, long long version);
/* Frees what the reply owns and zeroes it. */
void reply_clear(struct reply *rp);

/* Frees what request_* helpers and the server allocated into the request. */
void request_clear(struct request *rq);

/* True when If-Match is absent, "*", or lists the strong tag of VERSION. */
int request_if_match_ok(const struct request *rq, long long version);
/* Whether the LEN bytes at V are an If-Match value: "*" or a list of
 * entity tags in quotes (a bare 3 is not one). */
int if_match_well_formed(const char *v, size_t len);

#endif
