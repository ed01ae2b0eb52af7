/* The origins ARC_CORS_ORIGINS allows (include/arc/cors.h).  An origin is
 * matched exactly, as the browser sends it: scheme, host and port, no path;
 * no wildcards, since the API takes credentials (Authorization). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/cors.h"

/* "http://" or "https://", then a host of letters, digits, '.', '-', or
 * a bracketed IPv6 address, then an optional ":port"; nothing after. */
static int origin_valid(const char *s, size_t n)
{
  size_t i;
  if (n > 7 && strncmp(s, "http://", 7) == 0)
    i = 7;
  else if (n > 8 && strncmp(s, "https://", 8) == 0)
    i = 8;
  else
    return 0;
  size_t host = i;
  if (s[i] == '[') {
    while (i < n && s[i] != ']')
      i++;
    if (i == n)
      return 0;
    i++;
  } else {
    while (i < n && (s[i] == '.' || s[i] == '-' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (s[i] >= '0' && s[i] <= '9')))
      i++;
  }
  if (i == host)
    return 0;
  if (i < n && s[i] == ':') {
    size_t port = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    if (i == port || i - port > 5)
      return 0;
  }
  return i == n;
}

int cors_parse(const char *list, struct cors *out, char *err, size_t err_size)
{
  memset(out, 0, sizeof *out);
  const char *p = list ? list : "";
  while (*p) {
    while (*p == ' ' || *p == '\t')
      p++;
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
      n--;
    if (n > 0) {
      if (!origin_valid(p, n)) {
        snprintf(err, err_size, "\"%.*s\" is not an origin (scheme://host[:port], no path, no wildcard)",
                 (int)(n > 200 ? 200 : n), p);
        cors_free(out);
        return -1;
      }
      if (out->n == CORS_MAX_ORIGINS) {
        snprintf(err, err_size, "at most %d origins", CORS_MAX_ORIGINS);
        cors_free(out);
        return -1;
      }
      out->origins[out->n++] = strndup(p, n);
    }
    if (!end)
      break;
    p = end + 1;
  }
  return 0;
}

void cors_free(struct cors *c)
{
  for (size_t i = 0; i < c->n; i++)
    free(c->origins[i]);
  c->n = 0;
}

const char *cors_allowed(const struct cors *c, const char *origin, size_t len)
{
  if (!origin)
    return NULL;
  for (size_t i = 0; i < c->n; i++)
    if (strlen(c->origins[i]) == len && memcmp(c->origins[i], origin, len) == 0)
      return c->origins[i];
  return NULL;
}
