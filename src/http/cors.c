/* The origins ARC_CORS_ORIGINS allows (include/arc/cors.h).  An origin is
 * matched exactly, as the browser sends it: scheme, host and port, no path;
 * no wildcards, since the API takes credentials (Authorization). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "arc/cors.h"

/* An origin is a URL that is exactly scheme://host[:port], http or https:
 * libcurl's URL parser (webhook delivery's library) takes it apart, and
 * what it gives back must spell the same text -- no path, not even "/", no
 * user, query or fragment, no empty port. */
static int origin_valid(const char *s, size_t n)
{
  char *text = strndup(s, n), *scheme = NULL, *host = NULL, *port = NULL;
  CURLU *u = curl_url();
  int ok = 0;
  if (text && u && curl_url_set(u, CURLUPART_URL, text, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
      (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)) {
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    char canon[512];
    snprintf(canon, sizeof canon, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
    ok = strcmp(canon, text) == 0;
  }
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  free(text);
  return ok;
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
