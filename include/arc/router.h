/* Path matching: a route table of method + pattern → handler. */
#ifndef ARC_ROUTER_H
#define ARC_ROUTER_H

#include <stddef.h>

#include "arc/http.h"

typedef unsigned (*handler_fn)(struct request *rq, struct reply *rp);

/* The body is not kept and parsed as JSON: it goes to the database chunk
 * by chunk as it arrives (import_upload_* of imports.h, the one kind of
 * streamed body), and the handler completes the upload (rq->upload). */
#define ROUTE_STREAMED 0x1u

struct route {
  enum http_method method;
  const char *pattern; /* "/v1/customers/{id}"; {x} matches one non-empty segment */
  handler_fn handler;
  unsigned roles;      /* roles allowed; 0 = public, no key needed */
  size_t body_cap;     /* largest body accepted; 0 = the configured default
                        * (ARC_MAX_BODY; ARC_IMPORT_MAX_BYTES when ROUTE_STREAMED) */
  unsigned flags;      /* ROUTE_* */
};

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED };

struct route_match {
  const struct route *route;
  char *params[REQUEST_MAX_PARAMS]; /* heap copies, percent-decoded */
  unsigned allowed;                 /* methods of routes matching the path */
};

/* Matches PATH against ROUTES.  On ROUTER_FOUND the caller owns params. */
enum router_result router_match(const struct route *routes, size_t n, enum http_method method,
                                const char *path, struct route_match *m);
void route_match_clear(struct route_match *m);

/* Writes the Allow header value for the METHODS mask into BUF. */
void router_allow_header(unsigned methods, char *buf, size_t size);

/* Percent-decodes LEN bytes of S ('+' as a space in query strings).  NULL
 * when a %-escape is malformed or the result is not UTF-8 or holds NUL. */
char *percent_decode(const char *s, size_t len, int plus_is_space);

enum http_method http_method_parse(const char *s);
const char *http_method_name(enum http_method m);

/* THE route table (routes.c). */
extern const struct route arc_routes[];
extern const size_t arc_routes_count;

#endif
