/* Result rows as JSON objects, written as row_to_json writes them (see
 * include/arc/row_json.h): the database sends the fields as text and the
 * object is put together here, where it costs a copy. */
#include <stdlib.h>
#include <string.h>

#include "arc/json_text.h"
#include "arc/row_json.h"

/* The oids of built-in types, which never change (libpq ships no header
 * with them). */
enum {
  OID_BOOL = 16,
  OID_INT8 = 20,
  OID_INT2 = 21,
  OID_INT4 = 23,
  OID_OID = 26,
  OID_JSON = 114,
  OID_FLOAT4 = 700,
  OID_FLOAT8 = 701,
  OID_NUMERIC = 1700,
  OID_JSONB = 3802,
};

enum kind { K_STRING, K_NUMBER, K_BOOL, K_RAW };

static enum kind kind_of(Oid type)
{
  switch (type) {
  case OID_BOOL:
    return K_BOOL;
  case OID_INT2:
  case OID_INT4:
  case OID_INT8:
  case OID_OID:
  case OID_FLOAT4:
  case OID_FLOAT8:
  case OID_NUMERIC:
    return K_NUMBER;
  case OID_JSON:
  case OID_JSONB:
    return K_RAW;
  default:
    return K_STRING;
  }
}

static int reserve(char **buf, size_t *len, size_t *cap, size_t more)
{
  if (*len + more + 1 <= *cap)
    return 0;
  size_t want = *cap ? *cap : 1024;
  while (want < *len + more + 1)
    want *= 2;
  char *b = realloc(*buf, want);
  if (!b)
    return -1;
  *buf = b;
  *cap = want;
  return 0;
}

int row_json_append(char **buf, size_t *len, size_t *cap, const PGresult *r, int row, int first)
{
  int n = PQnfields(r);
  size_t need = 2;
  for (int i = first; i < n; i++)
    need += JSON_TEXT_STRING_MAX(strlen(PQfname(r, i))) + 1 + JSON_TEXT_STRING_MAX((size_t)PQgetlength(r, row, i)) + 5;
  if (reserve(buf, len, cap, need) != 0)
    return -1;
  char *o = *buf + *len;
  *o++ = '{';
  for (int i = first; i < n; i++) {
    if (i > first)
      *o++ = ',';
    const char *name = PQfname(r, i);
    o += json_text_string(o, name, strlen(name));
    *o++ = ':';
    if (PQgetisnull(r, row, i)) {
      memcpy(o, "null", 4);
      o += 4;
      continue;
    }
    const char *v = PQgetvalue(r, row, i);
    size_t vlen = (size_t)PQgetlength(r, row, i);
    switch (kind_of(PQftype(r, i))) {
    case K_BOOL:
      if (v[0] == 't')
        memcpy(o, "true", 4), o += 4;
      else
        memcpy(o, "false", 5), o += 5;
      break;
    case K_NUMBER:
      /* NaN and the infinities are no JSON numbers: quoted, as row_to_json does. */
      if (v[0] == 'N' || v[0] == 'I' || (v[0] == '-' && v[1] == 'I')) {
        o += json_text_string(o, v, vlen);
        break;
      }
      /* fall through */
    case K_RAW:
      memcpy(o, v, vlen);
      o += vlen;
      break;
    case K_STRING:
      o += json_text_string(o, v, vlen);
      break;
    }
  }
  *o++ = '}';
  *o = '\0';
  *len = (size_t)(o - *buf);
  return 0;
}

char *row_json(const PGresult *r, int row, int first)
{
  char *buf = NULL;
  size_t len = 0, cap = 0;
  if (row_json_append(&buf, &len, &cap, r, row, first) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}
