/* Cross-origin requests from browser front ends (ARC_CORS_ORIGINS):
 * which origins may call the API, and the headers that say so. */
#ifndef ARC_CORS_H
#define ARC_CORS_H

#include <stddef.h>

#define CORS_MAX_ORIGINS 32

/* What a browser may send and read, and how long it may remember a
 * preflight's answer. */
#define CORS_ALLOW_HEADERS "Authorization, Content-Type, If-Match, Idempotency-Key, X-Request-Id"
#define CORS_EXPOSE_HEADERS "ETag, Location, X-Request-Id, Retry-After, Idempotent-Replayed, Allow"
#define CORS_MAX_AGE "600"

struct cors {
  char *origins[CORS_MAX_ORIGINS];
  size_t n;
};

/* Parses LIST, comma-separated exact origins ("https://app.example.com,
 * http://localhost:5173"; spaces around commas allowed; "" = none).
 * Returns 0, or -1 with why in ERR (the first bad entry). */
int cors_parse(const char *list, struct cors *out, char *err, size_t err_size);
void cors_free(struct cors *c);

/* The allowed origin equal to ORIGIN (LEN bytes), or NULL. */
const char *cors_allowed(const struct cors *c, const char *origin, size_t len);

#endif
