/* Query-string parsing and replies from doc rows, shared by every resource. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/dates.h"
#include "arc/db.h"
#include "arc/jspec.h"
#include "arc/resource.h"
#include "arc/row_json.h"

void query_limit(const struct request *rq, struct page *pg, struct field_errors *fe)
{
  pg->limit = PAGE_LIMIT_DEFAULT;
  pg->cursor = NULL;
  const char *v = request_query(rq, "limit");
  if (v) {
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > PAGE_LIMIT_MAX)
      field_error(fe, "limit", "must be an integer from 1 to %d", PAGE_LIMIT_MAX);
    else
      pg->limit = n;
  }
  snprintf(pg->limit_plus_one, sizeof pg->limit_plus_one, "%ld", pg->limit + 1);
}

void query_page(const struct request *rq, struct page *pg, struct field_errors *fe)
{
  query_limit(rq, pg, fe);
  const char *v = request_query(rq, "cursor");
  if (v) {
    if (!jspec_is_id(v))
      field_error(fe, "cursor", "must be a next_cursor value from a previous page");
    else
      pg->cursor = v;
  }
}

void query_date(const struct request *rq, const char *name, const char **out, struct field_errors *fe)
{
  *out = request_query(rq, name);
  if (*out && !date_is_valid(*out)) {
    field_error(fe, name, "must be a date YYYY-MM-DD");
    *out = NULL;
  }
}

void query_instant(const struct request *rq, const char *name, const char **out, struct field_errors *fe)
{
  *out = request_query(rq, name);
  if (*out && !instant_is_valid(*out)) {
    field_error(fe, name, "must be an RFC 3339 date-time such as 2026-01-31T14:05:00Z");
    *out = NULL;
  }
}

void query_id(const struct request *rq, const char *name, const char **out, struct field_errors *fe)
{
  *out = request_query(rq, name);
  if (*out && !jspec_is_id(*out)) {
    field_error(fe, name, "must be an id");
    *out = NULL;
  }
}

void query_enum(const struct request *rq, const char *name, const char *const *values, const char **out,
                struct field_errors *fe)
{
  *out = request_query(rq, name);
  if (!*out)
    return;
  for (const char *const *v = values; *v; v++)
    if (strcmp(*v, *out) == 0)
      return;
  char list[256];
  size_t used = 0;
  list[0] = '\0';
  for (const char *const *v = values; *v && used < sizeof list; v++)
    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *v);
  field_error(fe, name, "must be one of: %s", list);
  *out = NULL;
}

void query_string(const struct request *rq, const char *name, const char **out, struct field_errors *fe)
{
  *out = request_query(rq, name);
  if (*out && (!**out || jspec_utf8_len(*out) > 200)) {
    field_error(fe, name, "must be 1 to 200 characters");
    *out = NULL;
  }
}

void query_known(const struct request *rq, const char *const *allowed, struct field_errors *fe)
{
  for (size_t i = 0; i < rq->n_query; i++) {
    const char *name = rq->query[i].name;
    const char *const *a = allowed;
    while (*a && strcmp(*a, name) != 0)
      a++;
    if (!*a) {
      field_error(fe, name, "is not a known query parameter");
      continue;
    }
    /* Given twice, a parameter has no one meaning (the first? the last?):
     * named at its first occurrence instead of one copy being ignored. */
    size_t first = 0;
    while (strcmp(rq->query[first].name, name) != 0)
      first++;
    for (size_t j = i + 1; first == i && j < rq->n_query; j++)
      if (strcmp(rq->query[j].name, name) == 0) {
        field_error(fe, name, "must be given once");
        break;
      }
  }
}

/* A doc row's document: its third column as it is, or, when that column is
 * the document's id (every document's first field), the columns from the
 * third on as an object (row_json.h). */
static int doc_is_fields(const PGresult *r) { return PQnfields(r) > 3 && strcmp(PQfname(r, 2), "id") == 0; }

static char *doc_text(const PGresult *r, int row)
{
  return doc_is_fields(r) ? row_json(r, row, 2) : strdup(PQgetvalue(r, row, 2));
}

unsigned reply_doc(struct reply *rp, unsigned status, const PGresult *r, int row,
                   const char *location_prefix)
{
  reply_text(rp, status, doc_text(r, row));
  reply_etag(rp, atoll(PQgetvalue(r, row, 1)));
  if (status == 201 && location_prefix) {
    char loc[256];
    snprintf(loc, sizeof loc, "%s%s", location_prefix, PQgetvalue(r, row, 0));
    reply_header(rp, "Location", loc);
  }
  return status;
}

unsigned reply_rendered(struct db *db, struct reply *rp, const char *stmt, int n, const char *const *params)
{
  PGresult *r;
  if (db_exec_one(db, stmt, n, params, &r) != DB_ONE)
    return db_error_reply(db, rp);
  reply_text(rp, 200, strdup(PQgetvalue(r, 0, 0)));
  PQclear(r);
  return 200;
}

char *page_json(const PGresult *r, int shown, const char *tail)
{
  size_t cap = 16 + strlen(tail), len;
  int fields = doc_is_fields(r);
  for (int i = 0; i < shown && !fields; i++)
    cap += (size_t)PQgetlength(r, i, 2) + 1;
  char *out = malloc(cap);
  if (!out)
    return NULL;
  len = (size_t)snprintf(out, cap, "{\"data\":[");
  for (int i = 0; i < shown; i++) {
    if (i)
      out[len++] = ',';
    if (fields) {
      if (row_json_append(&out, &len, &cap, r, i, 2) != 0) {
        free(out);
        return NULL;
      }
      continue;
    }
    size_t n = (size_t)PQgetlength(r, i, 2);
    memcpy(out + len, PQgetvalue(r, i, 2), n);
    len += n;
  }
  size_t rest = strlen(tail) + 2;
  if (len + rest > cap) {
    char *b = realloc(out, len + rest);
    if (!b) {
      free(out);
      return NULL;
    }
    out = b;
    cap = len + rest;
  }
  snprintf(out + len, cap - len, "]%s", tail);
  return out;
}

unsigned reply_page(struct reply *rp, const PGresult *r, const struct page *pg)
{
  int n = PQntuples(r);
  int shown = n > pg->limit ? (int)pg->limit : n;
  char tail[256];
  if (n > shown)
    snprintf(tail, sizeof tail, ",\"next_cursor\":\"%.200s\"}", PQgetvalue(r, shown - 1, 0));
  else
    snprintf(tail, sizeof tail, ",\"next_cursor\":null}");
  return reply_text(rp, 200, page_json(r, shown, tail));
}

const char *path_id(const struct request *rq, struct reply *rp, size_t i, const char *what)
{
  const char *id = request_param(rq, i);
  if (id && jspec_is_id(id))
    return id;
  reply_not_found(rp, what, id ? id : "");
  return NULL;
}

const char *request_body_text(const struct request *rq)
{
  return rq->body && rq->raw_body ? rq->raw_body : "{}";
}

unsigned reply_not_found(struct reply *rp, const char *what, const char *id)
{
  return reply_problemf(rp, PROBLEM_NOT_FOUND, "no %s with id %.64s", what, id);
}

unsigned request_read(struct request *rq, struct reply *rp, const char *stmt, int n, const char *const *params,
                      unsigned (*done)(struct request *rq, struct reply *rp, PGresult *r))
{
  if (rq->may_batch && db_batch_send(rq->db, &rq->read, stmt, n, params) == 0) {
    rq->read_done = done;
    return 0;
  }
  PGresult *r = db_exec(rq->db, stmt, n, params);
  unsigned status = done(rq, rp, r);
  PQclear(r);
  return status;
}

unsigned request_read_finish(struct request *rq, struct reply *rp)
{
  struct db_read *rd = &rq->read;
  PGresult *r = rd->result;
  rd->result = NULL;
  if (rd->aborted) {
    r = db_exec(rq->db, rd->name, rd->nparams, (const char *const *)rd->params);
  } else if (!r) {
    rq->db->err = rd->err;
  }
  unsigned status = rq->read_done(rq, rp, r);
  PQclear(r);
  db_read_clear(rd);
  rq->read_done = NULL;
  return status;
}

static unsigned one_doc(struct request *rq, struct reply *rp, PGresult *r)
{
  if (!r)
    return db_error_reply(rq->db, rp);
  if (PQntuples(r) == 0)
    return reply_not_found(rp, rq->read_what, rq->read_id);
  return reply_doc(rp, 200, r, 0, NULL);
}

unsigned reply_read_one(struct request *rq, struct reply *rp, const char *stmt, int n,
                        const char *const *params, const char *what, const char *id)
{
  rq->read_what = what;
  rq->read_id = id;
  return request_read(rq, rp, stmt, n, params, one_doc);
}
