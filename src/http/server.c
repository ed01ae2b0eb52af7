/* The daemons, body accumulation, the early checks of the first call,
 * reply → MHD response, the access log.  With event_loop.c, the only file
 * that includes microhttpd.h. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "arc/acceptor.h"
#include "arc/conn_watch.h"
#include "arc/cors.h"
#include "arc/db.h"
#include "arc/event_loop.h"
#include "arc/idempotency.h"
#include "arc/internal_addr.h"
#include "arc/ip_limit.h"
#include "arc/imports.h"
#include "arc/jspec.h"
#include "arc/log.h"
#include "arc/media_type.h"
#include "arc/metrics.h"
#include "arc/metrics_get.h"
#include "arc/problem.h"
#include "arc/resource.h"
#include "arc/server.h"
#include "arc/sweep.h"

#define MAX_JSON_DEPTH 32
/* How much of an unwanted body is read (and dropped) to deliver an early
 * error; a client sending more is disconnected. */
#define DRAIN_MAX (64u << 20)
/* Each connection's buffer for the request's headers and the reply's
 * (bodies go past it).  MHD's default; MHD zeroes it for every request,
 * so a bigger one costs every request. */
#define CONNECTION_MEMORY (32u * 1024)

/* One libmicrohttpd daemon and its thread (and so its database
 * connection): the acceptor hands new connections to the workers in turn
 * (next_worker; include/arc/acceptor.h says why). */
struct worker {
  struct server *srv;
  struct MHD_Daemon *daemon;
  struct event_loop *loop; /* its thread (ARC_POLL=epoll); NULL: the daemon's own (poll) */
  atomic_llong working_since; /* when its thread began the handler it is in, µs; 0: none */
};

struct server {
  struct worker *workers;
  unsigned n_workers;
  struct acceptor *acceptor; /* the listening socket, src/http/acceptor.c */
  struct ip_limit *per_ip;   /* ARC_PER_IP_LIMIT, across the workers */
  struct conn_watch *watch;  /* header deadline, gone clients, room when full */
  unsigned conn_limit;       /* ARC_CONN_LIMIT, across the workers */
  atomic_uint connections;
  atomic_uint next; /* the worker whose turn it is (next_worker) */
  const struct route *routes;
  size_t n_routes;
  size_t max_body;
  size_t streamed_max_body;
  uint16_t port;
  atomic_uint in_flight;
  atomic_int stopping; /* server_stop began: new requests are refused */
  struct cors cors; /* ARC_CORS_ORIGINS */
};

/* Everything one request owns; freed only in the completion callback. */
struct rctx {
  struct server *srv;
  struct worker *worker;
  int fd; /* the connection's socket, for srv->watch */
  struct request rq;
  struct reply rp;
  struct timespec start;
  const char *method_name;
  char *body;
  size_t len, cap, body_cap;
  struct MHD_Connection *conn; /* while suspended for a batched read (read_answered) */
  int batched;  /* its handler's read waits in the worker's batch */
  int queued;   /* a reply was queued in the first call */
  int draining; /* an early reply waits until the body has been read */
  size_t drained;
  unsigned long long announced; /* Content-Length, 0 when absent */
  int chunked;
  const char *body_refusal; /* why the body cannot be read as JSON (media_type.h); NULL: it can */
  const char *cors_origin; /* the request's Origin, when ARC_CORS_ORIGINS allows it */
};

/* The request headers we look at, gathered in one pass. */
struct header_seen {
  const char *name;
  const char *value;
  size_t len;
  unsigned count;
};

enum {
  H_AUTHORIZATION,
  H_IDEMPOTENCY_KEY,
  H_IF_MATCH,
  H_REQUEST_ID,
  H_CONTENT_TYPE,
  H_CONTENT_ENCODING,
  H_CONTENT_LENGTH,
  H_TRANSFER_ENCODING,
  H_ORIGIN,
  H_CORS_METHOD,
  H_COUNT
};

static enum MHD_Result header_iter(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                   const char *value, size_t value_size)
{
  (void)kind;
  (void)key_size;
  struct header_seen *h = cls;
  for (int i = 0; i < H_COUNT; i++)
    if (strcasecmp(key, h[i].name) == 0) {
      if (h[i].count++ == 0) {
        h[i].value = value;
        h[i].len = value_size;
      }
    }
  return MHD_YES;
}

struct query_ctx {
  struct request *rq;
  int bad;
};

static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                  const char *value, size_t value_size)
{
  (void)kind;
  struct query_ctx *q = cls;
  if (q->rq->n_query == REQUEST_MAX_QUERY) {
    q->bad = 1;
    return MHD_NO;
  }
  /* Arguments arrive still escaped (see no_unescape): decode them here. */
  char *name = percent_decode(key, key_size, 1);
  char *val = value ? percent_decode(value, value_size, 1) : NULL;
  if (!name || (value && !val)) {
    free(name);
    free(val);
    q->bad = 1;
    return MHD_NO;
  }
  struct query_arg *a = &q->rq->query[q->rq->n_query++];
  a->name = name;
  a->value = val;
  return MHD_YES;
}

static long long mono_us(void)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1000000LL + now.tv_nsec / 1000;
}

static long long elapsed_us(const struct timespec *start)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000000LL + (now.tv_nsec - start->tv_nsec) / 1000;
}

/* X-Request-Id from the client when it is short and plain, else a new one. */
static void set_request_id(struct request *rq, const struct header_seen *h)
{
  if (h->count == 1 && h->len > 0 && h->len < sizeof rq->request_id) {
    int ok = 1;
    for (size_t i = 0; i < h->len && ok; i++) {
      char c = h->value[i];
      ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':';
    }
    if (ok) {
      memcpy(rq->request_id, h->value, h->len);
      rq->request_id[h->len] = '\0';
      return;
    }
  }
  /* 96 bits from a per-thread generator seeded by getrandom once: a
   * request id must be unique, not secret, and a syscall per request is
   * not free.  splitmix64 (Steele, Lea, Flood 2014). */
  static _Thread_local uint64_t state;
  static _Thread_local int seeded;
  if (!seeded) {
    if (getrandom(&state, sizeof state, 0) != (ssize_t)sizeof state)
      state = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&state;
    seeded = 1;
  }
  static const char hex[] = "0123456789abcdef";
  char *o = rq->request_id;
  for (int word = 0; word < 2; word++) {
    uint64_t z = (state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    for (int i = 0; i < (word ? 8 : 16); i++, z >>= 4)
      *o++ = hex[z & 15];
  }
  *o = '\0';
}

static int json_depth_ok(const json_t *v, int depth)
{
  if (depth > MAX_JSON_DEPTH)
    return 0;
  if (json_is_object(v)) {
    const char *k;
    json_t *item;
    json_object_foreach((json_t *)v, k, item) if (!json_depth_ok(item, depth + 1)) return 0;
  } else if (json_is_array(v)) {
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) if (!json_depth_ok(item, depth + 1)) return 0;
  }
  return 1;
}

static enum MHD_Result queue_reply(struct MHD_Connection *conn, struct rctx *c)
{
  struct reply *rp = &c->rp;
  if (rp->status < 100 || rp->status > 599)
    reply_problem(rp, PROBLEM_INTERNAL, "the handler produced no reply");
  char *body = NULL;
  size_t len = 0;
  if (rp->json) {
    body = json_dumps(rp->json, JSON_COMPACT);
    len = body ? strlen(body) : 0;
  } else if (rp->text) {
    body = rp->text;
    len = rp->text_len;
    rp->text = NULL;
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, body ? body : (char *)"",
                                                              body ? MHD_RESPMEM_MUST_FREE
                                                                   : MHD_RESPMEM_PERSISTENT);
  if (!resp) {
    free(body);
    return MHD_NO;
  }
  if (body)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            rp->is_problem     ? "application/problem+json"
                            : rp->content_type ? rp->content_type
                                               : "application/json");
  MHD_add_response_header(resp, "X-Request-Id", c->rq.request_id);
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  if (c->cors_origin) {
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", c->cors_origin);
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
  }
  /* Answers differ by Origin whenever any is allowed: caches must know. */
  if (c->srv->cors.n)
    MHD_add_response_header(resp, "Vary", "Origin");
  for (size_t i = 0; i < rp->n_headers; i++)
    MHD_add_response_header(resp, rp->headers[i].name, rp->headers[i].value);
  /* Stopping: the client's next request goes to a new connection. */
  if (atomic_load(&c->srv->stopping))
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result r = MHD_queue_response(conn, rp->status, resp);
  MHD_destroy_response(resp);
  return r;
}

/* A route's cap on its body: its own, else the configured default.  The
 * route table is const and the configuration comes later, so a streamed
 * route's default (ARC_IMPORT_MAX_BYTES) is found by its flag. */
static size_t body_cap(const struct server *srv, const struct route *route)
{
  if (route->body_cap)
    return route->body_cap;
  return route->flags & ROUTE_STREAMED ? srv->streamed_max_body : srv->max_body;
}

/* A browser's preflight (OPTIONS with Access-Control-Request-Method) from
 * an allowed origin: no key is asked for; 204 with what the route allows,
 * or 404 for no route (queue_reply adds the origin's headers to both). */
static void cors_preflight(struct server *srv, struct rctx *c, const char *url)
{
  struct route_match m;
  if (router_match(srv->routes, srv->n_routes, 0, url, &m) == ROUTER_NOT_FOUND) {
    reply_problemf(&c->rp, PROBLEM_NOT_FOUND, "no resource at %.200s", url);
    return;
  }
  char allow[128];
  router_allow_header(m.allowed, allow, sizeof allow);
  c->rp.status = 204;
  reply_header(&c->rp, "Access-Control-Allow-Methods", allow);
  reply_header(&c->rp, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
  reply_header(&c->rp, "Access-Control-Max-Age", CORS_MAX_AGE);
}

/* A batched read was answered (src/db/batch.c, in the worker's thread):
 * its request goes on (access_handler). */
static void read_answered(struct db_read *rd)
{
  struct rctx *c = rd->cls;
  event_loop_resume(c->worker->loop, c->conn);
}

static void handler_done(struct rctx *c, unsigned status);

/* The checks that need only the headers: route, framing, auth, size. */
static void first_call(struct server *srv, struct MHD_Connection *conn, struct rctx *c, const char *url,
                       const char *method)
{
  struct request *rq = &c->rq;
  struct reply *rp = &c->rp;
  struct header_seen h[H_COUNT] = {
      [H_AUTHORIZATION] = {.name = "Authorization"},
      [H_IDEMPOTENCY_KEY] = {.name = "Idempotency-Key"},
      [H_IF_MATCH] = {.name = "If-Match"},
      [H_REQUEST_ID] = {.name = "X-Request-Id"},
      [H_CONTENT_TYPE] = {.name = "Content-Type"},
      [H_CONTENT_ENCODING] = {.name = "Content-Encoding"},
      [H_CONTENT_LENGTH] = {.name = "Content-Length"},
      [H_TRANSFER_ENCODING] = {.name = "Transfer-Encoding"},
      [H_ORIGIN] = {.name = "Origin"},
      [H_CORS_METHOD] = {.name = "Access-Control-Request-Method"},
  };
  MHD_get_connection_values_n(conn, MHD_HEADER_KIND, header_iter, h);
  set_request_id(rq, &h[H_REQUEST_ID]);
  if (h[H_ORIGIN].count == 1)
    c->cors_origin = cors_allowed(&srv->cors, h[H_ORIGIN].value, h[H_ORIGIN].len);
  /* Stopping: a request that has not started is refused before any work,
   * so that none is cut off once begun (server_stop waits for those that
   * have); its connection closes with the answer. */
  if (atomic_load(&srv->stopping)) {
    reply_problem(rp, PROBLEM_UNAVAILABLE, "the server is shutting down; nothing was done: send it again");
    reply_header(rp, "Retry-After", "1");
    return;
  }
  if (c->cors_origin && h[H_CORS_METHOD].count && strcmp(method, "OPTIONS") == 0) {
    cors_preflight(srv, c, url);
    return;
  }

  rq->method = http_method_parse(method);
  struct route_match m;
  enum router_result rr = router_match(srv->routes, srv->n_routes, rq->method, url, &m);
  if (rr == ROUTER_NOT_FOUND) {
    reply_problemf(rp, PROBLEM_NOT_FOUND, "no resource at %.200s", url);
    return;
  }
  if (rr == ROUTER_METHOD_NOT_ALLOWED) {
    char allow[128];
    router_allow_header(m.allowed, allow, sizeof allow);
    reply_problemf(rp, PROBLEM_METHOD_NOT_ALLOWED, "%s is not allowed here; allowed: %s", method, allow);
    reply_header(rp, "Allow", allow);
    return;
  }
  rq->route = m.route;
  memcpy(rq->path_params, m.params, sizeof m.params);
  c->body_cap = body_cap(srv, m.route);

  if (h[H_AUTHORIZATION].count > 1 || h[H_IDEMPOTENCY_KEY].count > 1 || h[H_IF_MATCH].count > 1 ||
      h[H_CONTENT_TYPE].count > 1 || h[H_CONTENT_LENGTH].count > 1 || h[H_TRANSFER_ENCODING].count > 1 ||
      h[H_CONTENT_ENCODING].count > 1) {
    reply_problem(rp, PROBLEM_BAD_REQUEST, "a header that may appear once appears more than once");
    return;
  }
  if (h[H_TRANSFER_ENCODING].count) {
    c->chunked = h[H_TRANSFER_ENCODING].len == 7 &&
                 strncasecmp(h[H_TRANSFER_ENCODING].value, "chunked", 7) == 0;
    if (!c->chunked) {
      reply_problem(rp, PROBLEM_BAD_REQUEST, "only the chunked transfer coding is supported");
      return;
    }
    if (h[H_CONTENT_LENGTH].count) {
      reply_problem(rp, PROBLEM_BAD_REQUEST, "Content-Length and Transfer-Encoding together");
      return;
    }
  }
  if (h[H_CONTENT_LENGTH].count) {
    char *end;
    unsigned long long n = strtoull(h[H_CONTENT_LENGTH].value, &end, 10);
    c->announced = n;
  }

  struct query_ctx q = {.rq = rq};
  MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, query_iter, &q);
  if (q.bad) {
    reply_problemf(rp, PROBLEM_BAD_REQUEST, "query arguments must be percent-encoded UTF-8 without NUL, at most %d of them", REQUEST_MAX_QUERY);
    return;
  }
  if (h[H_IF_MATCH].count) {
    if (!if_match_well_formed(h[H_IF_MATCH].value, h[H_IF_MATCH].len)) {
      reply_problem(rp, PROBLEM_BAD_REQUEST,
                    "If-Match must be an ETag as a response sent it, in quotes (\"3\"), or *");
      return;
    }
    rq->if_match = strndup(h[H_IF_MATCH].value, h[H_IF_MATCH].len);
  }
  if (h[H_IDEMPOTENCY_KEY].count)
    rq->idempotency_key = strndup(h[H_IDEMPOTENCY_KEY].value, h[H_IDEMPOTENCY_KEY].len);

  rq->db = db_thread_requests();
  /* A read may wait for the others of its round where the worker's own
   * loop sends them together (event_loop.h). */
  rq->may_batch = c->worker->loop && rq->method == HTTP_GET && !atomic_load(&srv->stopping);
  rq->read.done = read_answered;
  rq->read.cls = c;
  if (m.route->roles) {
    enum auth_result ar =
        auth_check(rq->db, h[H_AUTHORIZATION].value, h[H_AUTHORIZATION].len, &rq->who);
    if (ar == AUTH_DB_DOWN) {
      reply_problem(rp, PROBLEM_UNAVAILABLE, "the database is unreachable; retry shortly");
      reply_header(rp, "Retry-After", "2");
      return;
    }
    if (ar != AUTH_OK) {
      reply_problem(rp, PROBLEM_UNAUTHORIZED,
                    ar == AUTH_MISSING ? "send Authorization: Bearer <API key>"
                                       : "the API key is not valid or has been revoked");
      reply_header(rp, "WWW-Authenticate", "Bearer");
      return;
    }
    if (!(m.route->roles & rq->who.role)) {
      reply_problemf(rp, PROBLEM_FORBIDDEN, "role %s may not %s %s", role_name(rq->who.role), method,
                     m.route->pattern);
      return;
    }
  }
  if (c->announced > c->body_cap) {
    reply_problemf(rp, PROBLEM_PAYLOAD_TOO_LARGE, "the body may be at most %zu bytes", c->body_cap);
    return;
  }
  /* A body the server would misread is refused before it is read. */
  const char *encoding = content_encoding_refusal(
      h[H_CONTENT_ENCODING].count ? h[H_CONTENT_ENCODING].value : NULL, h[H_CONTENT_ENCODING].len);
  if (encoding && (c->announced > 0 || c->chunked)) {
    reply_problem(rp, PROBLEM_UNSUPPORTED_MEDIA_TYPE, encoding);
    return;
  }
  c->body_refusal =
      media_type_refusal(rq->method, h[H_CONTENT_TYPE].count ? h[H_CONTENT_TYPE].value : NULL, h[H_CONTENT_TYPE].len);
  /* Idempotency-Key makes POST safe to retry; PUT and DELETE are idempotent
   * already and PATCH is guarded by If-Match, so there it is ignored. */
  if (rq->method == HTTP_POST && h[H_IDEMPOTENCY_KEY].count && m.route->roles)
    idempotency_new(&rq->idem, h[H_IDEMPOTENCY_KEY].value, h[H_IDEMPOTENCY_KEY].len, &rq->who,
                    h[H_AUTHORIZATION].value, h[H_AUTHORIZATION].len, method, url, rp);
  if (!rp->status && (m.route->flags & ROUTE_STREAMED))
    rq->upload = import_upload_begin(rq, h[H_CONTENT_TYPE].count ? h[H_CONTENT_TYPE].value : NULL,
                                     h[H_CONTENT_TYPE].len, rp);
}

/* The last call: parse the body and run the handler. */
static void last_call(struct rctx *c)
{
  struct request *rq = &c->rq;
  struct reply *rp = &c->rp;
  /* A streamed body went to the database; its handler completes it and
   * answers a repeated Idempotency-Key itself, once the body is hashed. */
  int streamed = rq->route->flags & ROUTE_STREAMED;
  if (c->len > 0 && !streamed) {
    if (c->body_refusal) {
      reply_problem(rp, PROBLEM_UNSUPPORTED_MEDIA_TYPE, c->body_refusal);
      return;
    }
    json_error_t err;
    rq->body = json_loadb(c->body, c->len, JSON_REJECT_DUPLICATES, &err);
    if (!rq->body) {
      reply_problemf(rp, PROBLEM_MALFORMED_JSON, "line %d, column %d: %s", err.line, err.column, err.text);
      return;
    }
    if (!json_depth_ok(rq->body, 0)) {
      reply_problemf(rp, PROBLEM_MALFORMED_JSON, "JSON nested deeper than %d levels", MAX_JSON_DEPTH);
      return;
    }
    c->body[c->len] = '\0'; /* cap is always > len: raw_body is a C string too */
    rq->raw_body = c->body;
    rq->raw_len = c->len;
  }
  if (rq->idem && !streamed) {
    /* A repeat of a stored request is answered here and does no work. */
    idempotency_set_body(rq->idem, c->body, c->len);
    if (idempotency_replay(rq->db, rq->idem, rp))
      return;
  }
  if (rq->db) {
    rq->db->actor = rq->who.actor[0] ? rq->who.actor : NULL;
    rq->db->request_id = rq->request_id;
    rq->db->idem = rq->idem;
  }
  unsigned status = rq->route->handler(rq, rp);
  if (status == 0 && rq->read_done) {
    c->batched = 1; /* answered later: handler_done then */
    return;
  }
  handler_done(c, status);
}

/* After the handler (or its batched read) made the reply. */
static void handler_done(struct rctx *c, unsigned status)
{
  struct request *rq = &c->rq;
  struct reply *rp = &c->rp;
  if (rq->db) {
    rq->db->actor = rq->db->request_id = NULL;
    rq->db->idem = NULL;
  }
  idempotency_request_done(rq->idem, status, rq->route->pattern);
  if (status != rp->status)
    log_error("handler for %s returned %u but replied %u", rq->route->pattern, status, rp->status);
  /* A handler must never leave a transaction open on the worker's connection.
   * While batched reads are out (pipeline mode) the connection reads as
   * busy, but none is open then: a transaction begins only after the batch
   * is answered, and a batch only outside one (db_batch_send). */
  if (rq->db && rq->db->conn && PQpipelineStatus(rq->db->conn) == PQ_PIPELINE_OFF &&
      PQtransactionStatus(rq->db->conn) != PQTRANS_IDLE && PQstatus(rq->db->conn) == CONNECTION_OK) {
    log_error("handler for %s left a transaction open; rolled back", rq->route->pattern);
    PQclear(PQexec(rq->db->conn, "ROLLBACK"));
  }
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version, const char *upload_data,
                                      size_t *upload_data_size, void **con_cls)
{
  (void)version;
  struct worker *w = cls;
  struct server *srv = w->srv;
  struct rctx *c = *con_cls;
  if (!c) {
    c = calloc(1, sizeof *c);
    if (!c)
      return MHD_NO;
    c->srv = srv;
    c->worker = w;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->fd = ci ? ci->connect_fd : -1;
    conn_watch_request_began(srv->watch, c->fd);
    c->method_name = method;
    clock_gettime(CLOCK_MONOTONIC, &c->start);
    atomic_fetch_add(&srv->in_flight, 1);
    *con_cls = c;
    atomic_store(&w->working_since, mono_us());
    first_call(srv, conn, c, url, method);
    atomic_store(&w->working_since, 0);
    if (c->rp.status) {
      /* An early answer (401, 404, 413...) to a request that still sends a
       * body: read and drop the body first, so the client is not reset
       * mid-upload and sees the answer; past DRAIN_MAX, answer now. */
      if ((c->chunked || c->announced > 0) && c->announced <= DRAIN_MAX) {
        c->draining = 1;
        return MHD_YES;
      }
      c->queued = 1;
      return queue_reply(conn, c);
    }
    return MHD_YES;
  }
  if (c->batched) {
    if (!c->rq.read.answered)
      return MHD_YES;
    c->batched = 0;
    atomic_store(&w->working_since, mono_us());
    handler_done(c, request_read_finish(&c->rq, &c->rp));
    atomic_store(&w->working_since, 0);
    c->queued = 1;
    return queue_reply(conn, c);
  }
  if (c->queued) {
    *upload_data_size = 0; /* a reply is already on its way; drop the body */
    return MHD_YES;
  }
  if (c->draining && *upload_data_size > 0) {
    c->drained += *upload_data_size;
    *upload_data_size = 0;
    return c->drained > DRAIN_MAX ? MHD_NO : MHD_YES;
  }
  if (c->draining) {
    c->queued = 1;
    return queue_reply(conn, c);
  }
  if (*upload_data_size > 0) {
    size_t n = *upload_data_size;
    if (c->len + n > c->body_cap) {
      /* A chunked body grew past the cap: drop what came, answer 413 at the end. */
      reply_problemf(&c->rp, PROBLEM_PAYLOAD_TOO_LARGE, "the body may be at most %zu bytes", c->body_cap);
      c->draining = 1;
      c->drained = c->len + n;
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (c->rq.upload) {
      /* Straight on to the database; a refusal (a bad header row) is
       * answered once the rest of the body has been drained. */
      c->len += n;
      *upload_data_size = 0;
      if (import_upload_write(c->rq.upload, upload_data, n, &c->rp) != 0) {
        c->draining = 1;
        c->drained = c->len;
      }
      return MHD_YES;
    }
    if (c->len + n + 1 > c->cap) {
      size_t cap = c->cap ? c->cap : 4096;
      while (cap < c->len + n + 1)
        cap *= 2;
      char *b = realloc(c->body, cap);
      if (!b)
        return MHD_NO;
      c->body = b;
      c->cap = cap;
    }
    memcpy(c->body + c->len, upload_data, n);
    c->len += n;
    *upload_data_size = 0;
    return MHD_YES;
  }
  atomic_store(&w->working_since, mono_us());
  last_call(c);
  atomic_store(&w->working_since, 0);
  if (c->batched) {
    c->conn = conn;
    MHD_suspend_connection(conn);
    return MHD_YES;
  }
  c->queued = 1;
  return queue_reply(conn, c);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
  (void)conn;
  (void)cls;
  struct rctx *c = *con_cls;
  if (!c)
    return;
  struct server *srv = c->srv;
  conn_watch_request_ended(srv->watch, c->fd);
  long long us = elapsed_us(&c->start);
  log_request(&(struct log_request){
      .request_id = c->rq.request_id,
      .method = c->method_name ? c->method_name : "?",
      .route = c->rq.route ? c->rq.route->pattern : "(unmatched)",
      .key_id = c->rq.who.key_id,
      .status = c->rp.status,
      .duration_us = us,
      .aborted = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK ? (int)toe : 0,
      .idempotent_replayed = c->rq.idem && c->rq.idem->state == IDEMPOTENCY_REPLAYED,
  });
  metrics_http_request(metrics_route_series(c->rq.route, c->rq.method), c->rp.status, us);
  idempotency_free(c->rq.idem);
  c->rq.idem = NULL;
  import_upload_free(c->rq.upload);
  request_clear(&c->rq);
  reply_clear(&c->rp);
  free(c->body);
  free(c);
  *con_cls = NULL;
  atomic_fetch_sub(&srv->in_flight, 1);
}

/* libmicrohttpd would unescape the path before it is split into segments,
 * so "a%2Fb" would become two segments.  Keep the path and the query
 * arguments as sent; the router and query_iter decode per segment/argument. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
  (void)cls;
  (void)c;
  return strlen(s);
}

/* libmicrohttpd 0.9.75 parses every query argument into the connection's
 * memory pool before it calls the handler; past what the pool holds (about
 * 600 arguments) it neither answers nor closes, and the client waits for
 * the idle timeout.  This callback sees the request target first: one with
 * more arguments than any route takes is answered here (431, then the
 * connection is shut down, so libmicrohttpd drops it), before that parse. */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
  (void)cls;
  const char *q = strchr(uri, '?');
  if (!q)
    return NULL;
  unsigned args = 1;
  for (const char *p = q + 1; *p; p++)
    args += *p == '&';
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (args <= REQUEST_MAX_QUERY || !ci)
    return NULL;
  struct reply rp = {0};
  reply_problemf(&rp, PROBLEM_HEAD_TOO_LARGE, "%u query arguments: at most %d are read", args, REQUEST_MAX_QUERY);
  char *body = json_dumps(rp.json, JSON_COMPACT);
  reply_clear(&rp);
  if (body) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/problem+json\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                     strlen(body));
    struct iovec iov[2] = {{head, (size_t)n}, {body, strlen(body)}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t sent = sendmsg(ci->connect_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)sent;
    free(body);
  }
  shutdown(ci->connect_fd, SHUT_RDWR);
  return NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
  (void)cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && msg[n - 1] == '\n')
    msg[--n] = '\0';
  log_json("warn", msg, json_pack("{s:s}", "source", "libmicrohttpd"));
}

/* The worker a new connection goes to: the next in turn whose thread is
 * not held up in a handler (a worker answers its connections one request
 * at a time, so a request that waits for a lock holds up all of them; a
 * handler running longer than STUCK_US is taken for one).  In turn, not
 * the fewest connections: a worker learns that a client went only when it
 * reads the end, after the requests it is answering, so right after a
 * burst of closes the counts are stale and would send every new connection
 * to one worker. */
#define STUCK_US 20000
static struct worker *next_worker(struct server *srv)
{
  unsigned start = atomic_fetch_add(&srv->next, 1);
  long long now = mono_us();
  for (unsigned i = 0; i < srv->n_workers; i++) {
    struct worker *w = &srv->workers[(start + i) % srv->n_workers];
    long long since = atomic_load(&w->working_since);
    if (!since || now - since <= STUCK_US) {
      if (i)
        atomic_fetch_add(&srv->next, i); /* the skipped ones keep their turn order */
      return w;
    }
  }
  return &srv->workers[start % srv->n_workers];
}

/* A connection handed over that no worker took (its socket is closed):
 * the counts hand_over made for it.  libmicrohttpd refuses one only out of
 * memory (its limit is ours, checked first); it has then closed the socket
 * already, so a connection accepted in that instant on the same descriptor
 * could lose its header deadline. */
static void refused(void *cls, int fd, const struct sockaddr *addr)
{
  struct server *srv = cls;
  conn_watch_closed(srv->watch, fd);
  atomic_fetch_sub(&srv->connections, 1);
  ip_limit_give(srv->per_ip, addr);
}

/* The acceptor's callback: the connection goes to the next worker in turn.
 * At the per-address limit it is closed at once (as libmicrohttpd closes
 * it); when the server is full, the connection that has waited longest
 * for a request is shut down to make room (conn_watch.h), and only when
 * every one is answering is the new one closed. */
static void hand_over(void *cls, int fd, const struct sockaddr *addr, socklen_t len)
{
  struct server *srv = cls;
  if (!ip_limit_take(srv->per_ip, addr)) {
    close(fd);
    return;
  }
  if ((atomic_load(&srv->connections) >= srv->conn_limit && !conn_watch_evict_oldest(srv->watch)) ||
      conn_watch_opened(srv->watch, fd) != 0) {
    ip_limit_give(srv->per_ip, addr);
    close(fd);
    return;
  }
  struct worker *w = next_worker(srv);
  atomic_fetch_add(&srv->connections, 1);
  if (w->loop) {
    if (event_loop_hand_over(w->loop, fd, addr, len) != 0) {
      close(fd);
      refused(srv, fd, addr);
    }
  } else if (MHD_add_connection(w->daemon, fd, addr, len) != MHD_YES) { /* it closed the socket */
    refused(srv, fd, addr);
  }
}

/* A connection's end: the counts hand_over made for it. */
static void connection_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
  (void)socket_context;
  struct worker *w = cls;
  if (code != MHD_CONNECTION_NOTIFY_CLOSED)
    return;
  const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (fd)
    conn_watch_closed(w->srv->watch, fd->connect_fd);
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (ci && ci->client_addr)
    ip_limit_give(w->srv->per_ip, ci->client_addr);
  atomic_fetch_sub(&w->srv->connections, 1);
}

/* Descriptors besides connections: database connections, logs, files. */
#define FD_RESERVE 1024

/* The connection limit the process can hold: the file limit raised (up to
 * its hard limit) to LIMIT connections and the reserve, or LIMIT lowered
 * to what it allows. */
static unsigned descriptors_for(unsigned limit)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return limit;
  rlim_t want = (rlim_t)limit + FD_RESERVE;
  if (rl.rlim_cur < want) {
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur < want) {
    unsigned fit = rl.rlim_cur > 2 * FD_RESERVE ? (unsigned)(rl.rlim_cur - FD_RESERVE) : (unsigned)(rl.rlim_cur / 2);
    char msg[200];
    snprintf(msg, sizeof msg, "ARC_CONN_LIMIT=%u needs %llu file descriptors; the hard limit is %llu: at most %u connections",
             limit, (unsigned long long)want, (unsigned long long)rl.rlim_max, fit);
    log_json("warn", msg, NULL);
    return fit;
  }
  return limit;
}

static void workers_stop(struct server *srv)
{
  for (unsigned i = 0; i < srv->n_workers; i++) {
    event_loop_stop(srv->workers[i].loop);
    if (srv->workers[i].daemon)
      MHD_stop_daemon(srv->workers[i].daemon);
  }
  free(srv->workers);
  ip_limit_free(srv->per_ip);
  conn_watch_stop(srv->watch);
}

struct server *server_start(const struct config *cfg, const struct route *routes, size_t n_routes)
{
  struct server *srv = calloc(1, sizeof *srv);
  srv->routes = routes;
  srv->n_routes = n_routes;
  srv->max_body = cfg->max_body;
  srv->streamed_max_body = cfg->import_max_bytes;
  imports_configure(cfg);
  sweep_configure(cfg);
  internal_addr_allow(cfg->webhook_allow_private != 0);
  auth_cache_configure(cfg->auth_cache_ms);
  char why[300];
  if (cors_parse(cfg->cors_origins, &srv->cors, why, sizeof why) != 0) {
    log_error("ARC_CORS_ORIGINS: %s", why);
    free(srv);
    return NULL;
  }

  struct sockaddr_storage ss = {0};
  unsigned ipv6 = 0;
  if (inet_pton(AF_INET, cfg->bind, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
    ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
    ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)cfg->port);
  } else if (inet_pton(AF_INET6, cfg->bind, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
    ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
    ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)cfg->port);
    ipv6 = MHD_USE_IPv6;
  } else {
    log_error("ARC_BIND=%s is not an IPv4 or IPv6 address", cfg->bind);
    cors_free(&srv->cors);
    free(srv);
    return NULL;
  }
  /* epoll: each daemon run by a thread of ours (event_loop.h says why);
   * poll: by a thread of its own. */
  int own_loop = strcmp(cfg->poll_mode, "epoll") == 0;
  unsigned flags = (own_loop ? MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME
                             : MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC) |
                   MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | ipv6;
  srv->n_workers = cfg->threads;
  srv->conn_limit = descriptors_for(cfg->conn_limit);
  srv->workers = calloc(srv->n_workers, sizeof *srv->workers);
  srv->per_ip = ip_limit_new(cfg->per_ip_limit);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  srv->watch = conn_watch_start((unsigned)(rl.rlim_cur < 16u << 20 ? rl.rlim_cur : 16u << 20), cfg->header_timeout_s * 1000);
  int ok = srv->workers && srv->per_ip && srv->watch;
  for (unsigned i = 0; ok && i < srv->n_workers; i++) {
    struct worker *w = &srv->workers[i];
    w->srv = srv;
    /* The limits are the acceptor's (hand_over), across all workers. */
    w->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, access_handler, w,
        /* First, so that MHD logs nothing of its own (it warns otherwise). */
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->conn_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->conn_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_NOTIFY_COMPLETED, completed,
        w, MHD_OPTION_NOTIFY_CONNECTION, connection_notify, w, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape,
        NULL, MHD_OPTION_URI_LOG_CALLBACK, uri_seen,
        NULL, MHD_OPTION_END);
    ok = w->daemon != NULL;
    if (ok && own_loop)
      ok = (w->loop = event_loop_start(w->daemon, refused, srv)) != NULL;
  }
  if (ok) {
    srv->acceptor = acceptor_start((struct sockaddr *)&ss,
                                   ipv6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), hand_over, srv);
    ok = srv->acceptor != NULL;
  }
  if (!ok) {
    log_error("cannot listen on %s:%u", cfg->bind, cfg->port);
    workers_stop(srv);
    cors_free(&srv->cors);
    free(srv);
    return NULL;
  }
  srv->port = (uint16_t)acceptor_port(srv->acceptor);
  return srv;
}

uint16_t server_port(const struct server *s) { return s->port; }

unsigned server_in_flight(const struct server *s) { return atomic_load(&((struct server *)s)->in_flight); }

void server_stop(struct server *s, unsigned grace_ms)
{
  if (!s)
    return;
  /* Refuse requests that have not begun (first_call), on open keep-alive
   * connections too; stop accepting, and refuse the connections queued. */
  atomic_store(&s->stopping, 1);
  acceptor_stop(s->acceptor);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (atomic_load(&s->in_flight) > 0 && elapsed_us(&start) < (long long)grace_ms * 1000) {
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  unsigned left = atomic_load(&s->in_flight);
  if (left)
    log_error("stopping with %u requests still in flight", left);
  workers_stop(s);
  cors_free(&s->cors);
  free(s);
}
