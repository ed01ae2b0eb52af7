/* Route matching: 404 when no pattern fits the path, 405 (with the methods
 * that would fit) when a pattern fits but not for this method. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/jspec.h"
#include "arc/router.h"

static const struct {
  enum http_method m;
  const char *name;
} methods[] = {
    {HTTP_GET, "GET"},       {HTTP_HEAD, "HEAD"},     {HTTP_POST, "POST"},       {HTTP_PUT, "PUT"},
    {HTTP_PATCH, "PATCH"},   {HTTP_DELETE, "DELETE"}, {HTTP_OPTIONS, "OPTIONS"},
};

enum http_method http_method_parse(const char *s)
{
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
    if (strcmp(methods[i].name, s) == 0)
      return methods[i].m;
  return 0;
}

const char *http_method_name(enum http_method m)
{
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
    if (methods[i].m == m)
      return methods[i].name;
  return "?";
}

void router_allow_header(unsigned mask, char *buf, size_t size)
{
  size_t used = 0;
  buf[0] = '\0';
  if (mask & HTTP_GET)
    mask |= HTTP_HEAD;
  for (size_t i = 0; i < sizeof methods / sizeof methods[0] && used < size; i++)
    if (mask & methods[i].m)
      used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", methods[i].name);
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

char *percent_decode(const char *s, size_t len, int plus_is_space)
{
  char *out = malloc(len + 1);
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '%') {
      int a = i + 2 < len ? hexval(s[i + 1]) : -1, b = i + 2 < len ? hexval(s[i + 2]) : -1;
      if (a < 0 || b < 0) {
        free(out);
        return NULL;
      }
      out[o++] = (char)(a * 16 + b);
      i += 2;
    } else {
      out[o++] = plus_is_space && s[i] == '+' ? ' ' : s[i];
    }
  }
  out[o] = '\0';
  if (!jspec_utf8_valid(out, o)) {
    free(out);
    return NULL;
  }
  return out;
}

/* Matches PATH against one PATTERN; on success fills PARAMS (heap). */
static int pattern_match(const char *pattern, const char *path, char *params[REQUEST_MAX_PARAMS])
{
  size_t np = 0;
  const char *p = pattern, *s = path;
  while (*p && *s) {
    if (*p != '/' || *s != '/')
      goto fail;
    p++;
    s++;
    const char *pend = strchr(p, '/');
    const char *send = strchr(s, '/');
    size_t plen = pend ? (size_t)(pend - p) : strlen(p);
    size_t slen = send ? (size_t)(send - s) : strlen(s);
    if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
      if (slen == 0 || np == REQUEST_MAX_PARAMS)
        goto fail;
      char *v = percent_decode(s, slen, 0);
      if (!v)
        goto fail;
      params[np++] = v;
    } else if (plen != slen || memcmp(p, s, plen) != 0) {
      goto fail;
    }
    p += plen;
    s += slen;
  }
  if (*p == '\0' && *s == '\0')
    return 1;
fail:
  for (size_t i = 0; i < np; i++) {
    free(params[i]);
    params[i] = NULL;
  }
  return 0;
}

enum router_result router_match(const struct route *routes, size_t n, enum http_method method,
                                const char *path, struct route_match *m)
{
  memset(m, 0, sizeof *m);
  enum http_method want = method == HTTP_HEAD ? HTTP_GET : method;
  char *params[REQUEST_MAX_PARAMS] = {0};
  for (size_t i = 0; i < n; i++) {
    if (!pattern_match(routes[i].pattern, path, params))
      continue;
    if (!m->route && routes[i].method == want) {
      m->route = &routes[i];
      memcpy(m->params, params, sizeof params);
    } else {
      for (size_t j = 0; j < REQUEST_MAX_PARAMS; j++)
        free(params[j]);
    }
    memset(params, 0, sizeof params);
    m->allowed |= routes[i].method;
  }
  if (m->route)
    return ROUTER_FOUND;
  return m->allowed ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
}

void route_match_clear(struct route_match *m)
{
  for (size_t i = 0; i < REQUEST_MAX_PARAMS; i++) {
    free(m->params[i]);
    m->params[i] = NULL;
  }
}
