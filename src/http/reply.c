/* Request and reply helpers that handlers use; no libmicrohttpd here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/http.h"

const char *request_param(const struct request *rq, size_t i)
{
  return i < REQUEST_MAX_PARAMS ? rq->path_params[i] : NULL;
}

const char *request_query(const struct request *rq, const char *name)
{
  for (size_t i = 0; i < rq->n_query; i++)
    if (strcmp(rq->query[i].name, name) == 0)
      return rq->query[i].value ? rq->query[i].value : "";
  return NULL;
}

void request_clear(struct request *rq)
{
  for (size_t i = 0; i < REQUEST_MAX_PARAMS; i++) {
    free(rq->path_params[i]);
    rq->path_params[i] = NULL;
  }
  for (size_t i = 0; i < rq->n_query; i++) {
    free(rq->query[i].name);
    free(rq->query[i].value);
  }
  rq->n_query = 0;
  free(rq->if_match);
  free(rq->idempotency_key);
  rq->if_match = rq->idempotency_key = NULL;
  json_decref(rq->body);
  rq->body = NULL;
  db_read_clear(&rq->read);
}

int request_if_match_ok(const struct request *rq, long long version)
{
  if (!rq->if_match)
    return 1;
  char tag[32];
  snprintf(tag, sizeof tag, "\"%lld\"", version);
  /* If-Match is a comma-separated list of entity tags; weak tags never match. */
  const char *p = rq->if_match;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *end = p;
    while (*end && *end != ',')
      end++;
    const char *e = end;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
      e--;
    size_t len = (size_t)(e - p);
    if ((len == 1 && *p == '*') || (len == strlen(tag) && memcmp(p, tag, len) == 0))
      return 1;
    p = end;
  }
  return 0;
}

int if_match_well_formed(const char *v, size_t len)
{
  /* RFC 9110: "*" or a list of entity tags, [W/]"<visible ASCII but the
   * quote, or bytes above 0x7f>", separated by commas and spaces. */
  size_t i = 0;
  int tags = 0;
  while (i < len) {
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
      i++;
    if (i == len)
      break;
    if (v[i] == '*') {
      i++;
    } else {
      if (i + 1 < len && v[i] == 'W' && v[i + 1] == '/')
        i += 2;
      if (i == len || v[i] != '"')
        return 0;
      for (i++; i < len && v[i] != '"'; i++)
        if ((unsigned char)v[i] < 0x21 || v[i] == 0x7f)
          return 0;
      if (i == len)
        return 0;
      i++;
    }
    tags++;
    while (i < len && (v[i] == ' ' || v[i] == '\t'))
      i++;
    if (i < len && v[i] != ',')
      return 0;
  }
  return tags > 0;
}

unsigned reply_json(struct reply *rp, unsigned status, json_t *body_steal)
{
  json_decref(rp->json);
  free(rp->text);
  rp->text = NULL;
  rp->json = body_steal;
  rp->status = status;
  return status;
}

unsigned reply_text(struct reply *rp, unsigned status, char *text_steal)
{
  json_decref(rp->json);
  rp->json = NULL;
  free(rp->text);
  rp->text = text_steal;
  rp->text_len = text_steal ? strlen(text_steal) : 0;
  rp->status = status;
  return status;
}

unsigned reply_empty(struct reply *rp, unsigned status)
{
  return reply_text(rp, status, NULL);
}

int reply_header(struct reply *rp, const char *name, const char *value)
{
  for (size_t i = 0; i < rp->n_headers; i++)
    if (strcmp(rp->headers[i].name, name) == 0) {
      free(rp->headers[i].value);
      rp->headers[i].value = strdup(value);
      return 1;
    }
  if (rp->n_headers == REPLY_MAX_HEADERS)
    return 0;
  rp->headers[rp->n_headers].name = strdup(name);
  rp->headers[rp->n_headers].value = strdup(value);
  rp->n_headers++;
  return 1;
}

void reply_etag(struct reply *rp, long long version)
{
  char tag[32];
  snprintf(tag, sizeof tag, "\"%lld\"", version);
  reply_header(rp, "ETag", tag);
}

void reply_clear(struct reply *rp)
{
  json_decref(rp->json);
  free(rp->text);
  for (size_t i = 0; i < rp->n_headers; i++) {
    free(rp->headers[i].name);
    free(rp->headers[i].value);
  }
  memset(rp, 0, sizeof *rp);
}
