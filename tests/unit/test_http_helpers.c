/* Request and reply helpers handlers rely on, on hand-built requests:
 * If-Match, query arguments, reply headers, pages and docs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arc/http.h"
#include "arc/resource.h"

/* ---- a request built by hand, as the server would ---- */

/* Adds ?NAME=VALUE (VALUE NULL: a bare "?name"). */
static void add_query(struct request *rq, const char *name, const char *value)
{
  assert_true(rq->n_query < REQUEST_MAX_QUERY);
  rq->query[rq->n_query].name = strdup(name);
  rq->query[rq->n_query].value = value ? strdup(value) : NULL;
  rq->n_query++;
}

static void set_if_match(struct request *rq, const char *v)
{
  free(rq->if_match);
  rq->if_match = v ? strdup(v) : NULL;
}

static size_t n_errors(const struct field_errors *fe) { return fe->list ? json_array_size(fe->list) : 0; }

static const char *error_for(const struct field_errors *fe, const char *field)
{
  size_t i;
  json_t *e;
  if (!fe->list)
    return NULL;
  json_array_foreach(fe->list, i, e) {
    if (strcmp(json_string_value(json_object_get(e, "field")), field) == 0)
      return json_string_value(json_object_get(e, "message"));
  }
  return NULL;
}

static const char *header(const struct reply *rp, const char *name)
{
  for (size_t i = 0; i < rp->n_headers; i++)
    if (strcmp(rp->headers[i].name, name) == 0)
      return rp->headers[i].value;
  return NULL;
}

/* ---- If-Match ---- */

static void if_match(void **state)
{
  (void)state;
  struct request rq = {0};
  assert_true(request_if_match_ok(&rq, 3)); /* absent: no precondition */
  static const struct {
    const char *header;
    long long version;
    int ok;
  } cases[] = {
      {"*", 3, 1},
      {"*", 1, 1},
      {" * ", 7, 1},
      {"\"3\"", 3, 1},
      {"\"3\"", 4, 0},
      {"\"3\"", 33, 0},
      {"\"33\"", 3, 0},
      {"\"1\", \"3\"", 3, 1},
      {"\"1\",\"3\"", 3, 1},
      {"\"1\" ,  \"3\"  ", 3, 1},
      {"\t\"3\"\t", 3, 1},
      {"\"1\", \"2\"", 3, 0},
      {"W/\"3\"", 3, 0},          /* weak tags never match */
      {"W/\"3\", \"4\"", 3, 0},
      {"W/\"3\", \"3\"", 3, 1},   /* … but a strong tag beside one does */
      {"3", 3, 0},                /* unquoted */
      {"\"03\"", 3, 0},
      {"\"3", 3, 0},
      {"3\"", 3, 0},
      {"\"\"", 3, 0},
      {"", 3, 0},
      {",", 3, 0},
      {"\"9223372036854775807\"", 9223372036854775807LL, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    set_if_match(&rq, cases[i].header);
    if (request_if_match_ok(&rq, cases[i].version) != cases[i].ok)
      fail_msg("If-Match: %s with version %lld should %s", cases[i].header, cases[i].version,
               cases[i].ok ? "match" : "not match");
  }
  request_clear(&rq);
  assert_null(rq.if_match);
}

/* ---- query arguments ---- */

static void query_lookup(void **state)
{
  (void)state;
  struct request rq = {0};
  assert_null(request_query(&rq, "limit"));
  add_query(&rq, "limit", "10");
  add_query(&rq, "flag", NULL);
  add_query(&rq, "empty", "");
  add_query(&rq, "limit", "20");
  assert_string_equal(request_query(&rq, "limit"), "10"); /* the first wins */
  assert_string_equal(request_query(&rq, "flag"), "");
  assert_string_equal(request_query(&rq, "empty"), "");
  assert_null(request_query(&rq, "Limit"));
  assert_null(request_query(&rq, "lim"));
  assert_null(request_query(&rq, "limits"));
  request_clear(&rq);
  assert_int_equal(rq.n_query, 0);
  assert_null(request_query(&rq, "limit"));
}

static void page_arguments(void **state)
{
  (void)state;
  struct request rq = {0};
  struct field_errors fe = {0};
  struct page pg;
  memset(&pg, 0x5a, sizeof pg);
  query_page(&rq, &pg, &fe);
  assert_null(fe.list);
  assert_int_equal(pg.limit, PAGE_LIMIT_DEFAULT);
  assert_string_equal(pg.limit_plus_one, "51");
  assert_null(pg.cursor);

  add_query(&rq, "limit", "200");
  add_query(&rq, "cursor", "12345");
  query_page(&rq, &pg, &fe);
  assert_null(fe.list);
  assert_int_equal(pg.limit, 200);
  assert_string_equal(pg.limit_plus_one, "201");
  assert_string_equal(pg.cursor, "12345");
  request_clear(&rq);

  add_query(&rq, "limit", "1");
  query_page(&rq, &pg, &fe);
  assert_int_equal(pg.limit, 1);
  assert_string_equal(pg.limit_plus_one, "2");
  request_clear(&rq);

  static const char *const bad_limits[] = {"0", "201", "-1", "abc", "10x", "", "1.5", "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad_limits / sizeof bad_limits[0]; i++) {
    add_query(&rq, "limit", bad_limits[i]);
    query_page(&rq, &pg, &fe);
    if (n_errors(&fe) != 1 || !error_for(&fe, "limit"))
      fail_msg("limit=%s should be refused", bad_limits[i]);
    assert_int_equal(pg.limit, PAGE_LIMIT_DEFAULT); /* a usable page even so */
    field_errors_clear(&fe);
    request_clear(&rq);
  }
  add_query(&rq, "limit", NULL);
  query_page(&rq, &pg, &fe);
  assert_non_null(error_for(&fe, "limit"));
  field_errors_clear(&fe);
  request_clear(&rq);

  static const char *const bad_cursors[] = {"abc", "0", "-5", "", "12a", "1234567890123456789"};
  for (size_t i = 0; i < sizeof bad_cursors / sizeof bad_cursors[0]; i++) {
    add_query(&rq, "cursor", bad_cursors[i]);
    query_page(&rq, &pg, &fe);
    if (n_errors(&fe) != 1 || !error_for(&fe, "cursor"))
      fail_msg("cursor=%s should be refused", bad_cursors[i]);
    assert_null(pg.cursor);
    field_errors_clear(&fe);
    request_clear(&rq);
  }
  /* Both bad: both reported. */
  add_query(&rq, "limit", "0");
  add_query(&rq, "cursor", "x");
  query_page(&rq, &pg, &fe);
  assert_int_equal(n_errors(&fe), 2);
  field_errors_clear(&fe);
  request_clear(&rq);
}

static void typed_arguments(void **state)
{
  (void)state;
  struct request rq = {0};
  struct field_errors fe = {0};
  const char *out = "sentinel";

  query_date(&rq, "overdue_as_of", &out, &fe);
  assert_null(out);
  assert_null(fe.list);
  add_query(&rq, "overdue_as_of", "2024-02-29");
  add_query(&rq, "received_from", "2023-02-29");
  query_date(&rq, "overdue_as_of", &out, &fe);
  assert_string_equal(out, "2024-02-29");
  query_date(&rq, "received_from", &out, &fe);
  assert_null(out);
  assert_non_null(error_for(&fe, "received_from"));
  assert_int_equal(n_errors(&fe), 1);
  field_errors_clear(&fe);
  request_clear(&rq);

  add_query(&rq, "updated_since", "2026-01-31T14:05:00Z");
  add_query(&rq, "bad_since", "2026-01-31 14:05:00");
  query_instant(&rq, "updated_since", &out, &fe);
  assert_string_equal(out, "2026-01-31T14:05:00Z");
  query_instant(&rq, "bad_since", &out, &fe);
  assert_null(out);
  assert_non_null(error_for(&fe, "bad_since"));
  field_errors_clear(&fe);
  request_clear(&rq);

  add_query(&rq, "customer_id", "42");
  add_query(&rq, "invoice_id", "042");
  query_id(&rq, "customer_id", &out, &fe);
  assert_string_equal(out, "42");
  query_id(&rq, "invoice_id", &out, &fe);
  assert_null(out);
  assert_non_null(error_for(&fe, "invoice_id"));
  field_errors_clear(&fe);
  request_clear(&rq);

  static const char *const kinds[] = {"commercial", "consumer", NULL};
  add_query(&rq, "kind", "consumer");
  query_enum(&rq, "kind", kinds, &out, &fe);
  assert_string_equal(out, "consumer");
  assert_null(fe.list);
  query_enum(&rq, "status", kinds, &out, &fe);
  assert_null(out);
  assert_null(fe.list);
  request_clear(&rq);
  add_query(&rq, "kind", "Consumer");
  query_enum(&rq, "kind", kinds, &out, &fe);
  assert_null(out);
  const char *msg = error_for(&fe, "kind");
  assert_non_null(msg);
  assert_non_null(strstr(msg, "commercial, consumer"));
  field_errors_clear(&fe);
  request_clear(&rq);
  add_query(&rq, "kind", NULL); /* bare ?kind is "" and not a value */
  query_enum(&rq, "kind", kinds, &out, &fe);
  assert_null(out);
  assert_non_null(error_for(&fe, "kind"));
  field_errors_clear(&fe);
  request_clear(&rq);

  char long_q[260];
  memset(long_q, 'q', 201);
  long_q[201] = '\0';
  add_query(&rq, "q", "Acme % _ 'x'");
  add_query(&rq, "collector", "");
  add_query(&rq, "salesperson", long_q);
  query_string(&rq, "q", &out, &fe);
  assert_string_equal(out, "Acme % _ 'x'");
  query_string(&rq, "collector", &out, &fe);
  assert_null(out);
  query_string(&rq, "salesperson", &out, &fe);
  assert_null(out);
  assert_int_equal(n_errors(&fe), 2);
  assert_non_null(error_for(&fe, "collector"));
  assert_non_null(error_for(&fe, "salesperson"));
  field_errors_clear(&fe);
  request_clear(&rq);
  /* 200 characters of two bytes each are within the limit. */
  char wide[401];
  for (int i = 0; i < 200; i++)
    memcpy(wide + 2 * i, "\xc3\xa9", 2);
  wide[400] = '\0';
  add_query(&rq, "q", wide);
  query_string(&rq, "q", &out, &fe);
  assert_ptr_equal(out, request_query(&rq, "q"));
  assert_null(fe.list);
  request_clear(&rq);
}

static void known_arguments(void **state)
{
  (void)state;
  static const char *const allowed[] = {"limit", "cursor", "kind", NULL};
  struct request rq = {0};
  struct field_errors fe = {0};
  query_known(&rq, allowed, &fe);
  assert_null(fe.list);
  add_query(&rq, "limit", "5");
  add_query(&rq, "kind", "consumer");
  query_known(&rq, allowed, &fe);
  assert_null(fe.list);
  add_query(&rq, "kindd", "x");
  add_query(&rq, "LIMIT", "5");
  add_query(&rq, "status", NULL);
  query_known(&rq, allowed, &fe);
  assert_int_equal(n_errors(&fe), 3);
  assert_non_null(error_for(&fe, "kindd"));
  assert_non_null(error_for(&fe, "LIMIT"));
  assert_non_null(error_for(&fe, "status"));
  field_errors_clear(&fe);
  request_clear(&rq);
}

static void path_ids(void **state)
{
  (void)state;
  struct request rq = {0};
  struct reply rp = {0};
  rq.path_params[0] = strdup("42");
  rq.path_params[1] = strdup("abc");
  assert_string_equal(path_id(&rq, &rp, 0, "customer"), "42");
  assert_int_equal(rp.status, 0);
  assert_null(path_id(&rq, &rp, 1, "contact"));
  assert_int_equal(rp.status, 404);
  assert_true(rp.is_problem);
  assert_string_equal(json_string_value(json_object_get(rp.json, "detail")), "no contact with id abc");
  reply_clear(&rp);
  assert_null(path_id(&rq, &rp, 2, "thing")); /* no such param */
  assert_int_equal(rp.status, 404);
  reply_clear(&rp);
  assert_null(request_param(&rq, REQUEST_MAX_PARAMS));
  request_clear(&rq);
  assert_null(rq.path_params[0]);

  /* A long id is cut in the detail, not echoed whole. */
  char big[300];
  memset(big, '7', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  reply_not_found(&rp, "invoice", big);
  const char *d = json_string_value(json_object_get(rp.json, "detail"));
  assert_true(strlen(d) < 100);
  reply_clear(&rp);
}

static void body_text(void **state)
{
  (void)state;
  struct request rq = {0};
  assert_string_equal(request_body_text(&rq), "{}");
  static const char raw[] = "{\"name\": \"x\"}";
  rq.body = json_loads(raw, 0, NULL);
  rq.raw_body = raw;
  rq.raw_len = sizeof raw - 1;
  assert_ptr_equal(request_body_text(&rq), raw);
  request_clear(&rq);
  assert_null(rq.body);
}

/* ---- replies ---- */

static void reply_headers(void **state)
{
  (void)state;
  struct reply rp = {0};
  assert_true(reply_header(&rp, "Location", "/v1/a/1"));
  assert_true(reply_header(&rp, "Location", "/v1/a/2")); /* replaces */
  assert_int_equal(rp.n_headers, 1);
  assert_string_equal(header(&rp, "Location"), "/v1/a/2");
  reply_etag(&rp, 7);
  reply_etag(&rp, 8);
  assert_int_equal(rp.n_headers, 2);
  assert_string_equal(header(&rp, "ETag"), "\"8\"");
  /* Fill up to the limit; one more is refused, replacing still works. */
  char name[32];
  for (size_t i = rp.n_headers; i < REPLY_MAX_HEADERS; i++) {
    snprintf(name, sizeof name, "X-H%zu", i);
    assert_true(reply_header(&rp, name, "v"));
  }
  assert_int_equal(rp.n_headers, REPLY_MAX_HEADERS);
  assert_false(reply_header(&rp, "X-One-Too-Many", "v"));
  assert_int_equal(rp.n_headers, REPLY_MAX_HEADERS);
  assert_null(header(&rp, "X-One-Too-Many"));
  assert_true(reply_header(&rp, "Location", "/v1/a/3"));
  assert_string_equal(header(&rp, "Location"), "/v1/a/3");
  /* The reply copies the strings. */
  char value[16] = "temp";
  reply_header(&rp, "ETag", value);
  strcpy(value, "XXXX");
  assert_string_equal(header(&rp, "ETag"), "temp");
  reply_clear(&rp);
}

static void reply_bodies_and_clear(void **state)
{
  (void)state;
  struct reply rp = {0};
  assert_int_equal(reply_json(&rp, 200, json_pack("{s:s}", "a", "b")), 200);
  assert_non_null(rp.json);
  /* Switching to text frees the JSON and the other way round (LSan). */
  assert_int_equal(reply_text(&rp, 201, strdup("{\"x\":1}")), 201);
  assert_null(rp.json);
  assert_int_equal(rp.text_len, 7);
  assert_int_equal(reply_json(&rp, 202, json_array()), 202);
  assert_null(rp.text);
  assert_int_equal(reply_empty(&rp, 204), 204);
  assert_null(rp.json);
  assert_null(rp.text);
  assert_int_equal(rp.text_len, 0);
  reply_header(&rp, "ETag", "\"1\"");
  rp.is_problem = 1;
  reply_clear(&rp);
  assert_int_equal(rp.status, 0);
  assert_int_equal(rp.n_headers, 0);
  assert_false(rp.is_problem);
  assert_null(rp.json);
  assert_null(rp.text);
  reply_clear(&rp); /* twice is harmless */
}

/* A (id, version, doc) result like the repositories return, built without
 * a server: libpq can make result objects by itself. */
static PGresult *doc_rows(int n, const char *const *ids)
{
  PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
  PGresAttDesc attrs[3] = {
      {.name = (char *)"id", .format = 0, .typid = 20, .typlen = 8, .atttypmod = -1},
      {.name = (char *)"version", .format = 0, .typid = 20, .typlen = 8, .atttypmod = -1},
      {.name = (char *)"doc", .format = 0, .typid = 25, .typlen = -1, .atttypmod = -1},
  };
  assert_true(PQsetResultAttrs(r, 3, attrs));
  for (int i = 0; i < n; i++) {
    char doc[64];
    snprintf(doc, sizeof doc, "{\"id\":\"%s\",\"version\":%d}", ids[i], i + 1);
    char version[16];
    snprintf(version, sizeof version, "%d", i + 1);
    assert_true(PQsetvalue(r, i, 0, (char *)ids[i], (int)strlen(ids[i])));
    assert_true(PQsetvalue(r, i, 1, version, (int)strlen(version)));
    assert_true(PQsetvalue(r, i, 2, doc, (int)strlen(doc)));
  }
  return r;
}

static json_t *reply_body(const struct reply *rp)
{
  assert_non_null(rp->text);
  json_error_t err;
  json_t *j = json_loadb(rp->text, rp->text_len, 0, &err);
  if (!j)
    fail_msg("reply is not JSON (%s): %s", err.text, rp->text);
  return j;
}

static void pages(void **state)
{
  (void)state;
  static const char *const ids[] = {"3", "8", "15"};
  struct page pg = {.limit = 2};
  struct reply rp = {0};

  /* limit + 1 rows: the extra row is dropped and the last shown id is the cursor. */
  PGresult *r = doc_rows(3, ids);
  assert_int_equal(reply_page(&rp, r, &pg), 200);
  json_t *j = reply_body(&rp);
  assert_int_equal(json_array_size(json_object_get(j, "data")), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "data"), 1), "id")),
                      "8");
  assert_string_equal(json_string_value(json_object_get(j, "next_cursor")), "8");
  json_decref(j);
  PQclear(r);

  /* Exactly limit rows: the last page. */
  r = doc_rows(2, ids);
  reply_page(&rp, r, &pg);
  j = reply_body(&rp);
  assert_int_equal(json_array_size(json_object_get(j, "data")), 2);
  assert_true(json_is_null(json_object_get(j, "next_cursor")));
  json_decref(j);
  PQclear(r);

  r = doc_rows(0, ids);
  reply_page(&rp, r, &pg);
  j = reply_body(&rp);
  assert_int_equal(json_array_size(json_object_get(j, "data")), 0);
  assert_true(json_is_null(json_object_get(j, "next_cursor")));
  json_decref(j);
  PQclear(r);
  reply_clear(&rp);
}

static void docs(void **state)
{
  (void)state;
  static const char *const ids[] = {"41", "42"};
  PGresult *r = doc_rows(2, ids);
  struct reply rp = {0};
  assert_int_equal(reply_doc(&rp, 201, r, 1, "/v1/customers/"), 201);
  assert_string_equal(header(&rp, "Location"), "/v1/customers/42");
  assert_string_equal(header(&rp, "ETag"), "\"2\"");
  json_t *j = reply_body(&rp);
  assert_string_equal(json_string_value(json_object_get(j, "id")), "42");
  json_decref(j);
  reply_clear(&rp);
  /* 200: no Location. */
  assert_int_equal(reply_doc(&rp, 200, r, 0, "/v1/customers/"), 200);
  assert_null(header(&rp, "Location"));
  assert_string_equal(header(&rp, "ETag"), "\"1\"");
  assert_false(rp.is_problem);
  reply_clear(&rp);
  PQclear(r);
}

/* If-Match values: entity tags in quotes (weak or not), lists of them, or
 * "*"; a bare version or a broken quote is not one. */
static void if_match_syntax(void **state)
{
  (void)state;
  static const char *const good[] = {"\"3\"", "*", "\"1\", \"2\"", "W/\"2\"", " \"3\" ", "\"a-b\",\"c\"",
                                     "\"1\" ,  \"2\""};
  static const char *const bad[] = {"3", "\"3", "\"3\" x", "", ",", "W/3", "\"3\"x", "\"3 4\"", "\"3\", 4"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    if (!if_match_well_formed(good[i], strlen(good[i])))
      fail_msg("refused: [%s]", good[i]);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (if_match_well_formed(bad[i], strlen(bad[i])))
      fail_msg("accepted: [%s]", bad[i]);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(if_match),
      cmocka_unit_test(query_lookup),
      cmocka_unit_test(page_arguments),
      cmocka_unit_test(typed_arguments),
      cmocka_unit_test(known_arguments),
      cmocka_unit_test(path_ids),
      cmocka_unit_test(body_text),
      cmocka_unit_test(reply_headers),
      cmocka_unit_test(reply_bodies_and_clear),
      cmocka_unit_test(pages),
      cmocka_unit_test(docs),
      cmocka_unit_test(if_match_syntax),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
