/* Result rows rendered as JSON objects by the server (row_json.c) must read
 * byte for byte as PostgreSQL's row_to_json writes the same row: checked on
 * rows built by hand with the texts the database sends for each type.
 * tests/http/test_documents.c compares real documents both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arc/http.h"
#include "arc/json_text.h"
#include "arc/resource.h"
#include "arc/row_json.h"

struct col {
  const char *name;
  Oid type;
  const char *value; /* NULL: SQL NULL */
};

/* One row of COLS after the doc row's id and version. */
static PGresult *row_of(const struct col *cols, int n, const char *id)
{
  PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
  PGresAttDesc attrs[40];
  assert_true(n + 2 <= 40);
  attrs[0] = (PGresAttDesc){.name = (char *)"id", .typid = 20, .typlen = 8, .atttypmod = -1};
  attrs[1] = (PGresAttDesc){.name = (char *)"version", .typid = 20, .typlen = 8, .atttypmod = -1};
  for (int i = 0; i < n; i++)
    attrs[i + 2] = (PGresAttDesc){.name = (char *)cols[i].name, .typid = cols[i].type, .typlen = -1, .atttypmod = -1};
  assert_true(PQsetResultAttrs(r, n + 2, attrs));
  assert_true(PQsetvalue(r, 0, 0, (char *)id, (int)strlen(id)));
  assert_true(PQsetvalue(r, 0, 1, (char *)"7", 1));
  for (int i = 0; i < n; i++)
    assert_true(PQsetvalue(r, 0, i + 2, (char *)cols[i].value, cols[i].value ? (int)strlen(cols[i].value) : -1));
  return r;
}

/* Each type as row_to_json writes it (PostgreSQL 15's composite_to_json). */
static void every_type(void **state)
{
  (void)state;
  const struct col cols[] = {
      {"id", 25, "12"},
      {"on", 16, "t"},
      {"off", 16, "f"},
      {"count", 23, "-42"},
      {"small", 21, "3"},
      {"big", 20, "9223372036854775807"},
      {"money", 1700, "12.50"},
      {"nan", 1700, "NaN"},
      {"inf", 701, "Infinity"},
      {"minus_inf", 701, "-Infinity"},
      {"ratio", 701, "-1.5e-07"},
      {"doc", 114, "{\"a\":[1,2]}"},
      {"bdoc", 3802, "{\"a\": [1, 2]}"},
      {"day", 1082, "2026-12-04"},
      {"missing", 25, NULL},
      {"missing_number", 20, NULL},
      {"name", 1043, "O'Brien \"Ltd\" \\ Co\n\tline\r\b\f\x01\x1f\x7f caf\xc3\xa9 /"},
  };
  PGresult *r = row_of(cols, (int)(sizeof cols / sizeof cols[0]), "12");
  char *got = row_json(r, 0, 2);
  assert_string_equal(got, "{\"id\":\"12\",\"on\":true,\"off\":false,\"count\":-42,\"small\":3,"
                           "\"big\":9223372036854775807,\"money\":12.50,\"nan\":\"NaN\",\"inf\":\"Infinity\","
                           "\"minus_inf\":\"-Infinity\",\"ratio\":-1.5e-07,\"doc\":{\"a\":[1,2]},"
                           "\"bdoc\":{\"a\": [1, 2]},\"day\":\"2026-12-04\",\"missing\":null,"
                           "\"missing_number\":null,"
                           "\"name\":\"O'Brien \\\"Ltd\\\" \\\\ Co\\n\\tline\\r\\b\\f\\u0001\\u001f\x7f caf\xc3\xa9 /\"}");
  free(got);
  /* From a later column: the doc row's own id and version are left out. */
  got = row_json(r, 0, 17);
  assert_string_equal(got, "{\"missing_number\":null,\"name\":\"O'Brien \\\"Ltd\\\" \\\\ Co\\n\\tline\\r\\b\\f"
                           "\\u0001\\u001f\x7f caf\xc3\xa9 /\"}");
  free(got);
  PQclear(r);
}

/* Every control character: the short names where JSON has one, else \u00XX
 * in lower case, as escape_json writes them. */
static void control_characters(void **state)
{
  (void)state;
  char in[32], out[JSON_TEXT_STRING_MAX(32)];
  for (int i = 0; i < 31; i++)
    in[i] = (char)(i + 1);
  size_t n = json_text_string(out, in, 31);
  out[n] = '\0';
  assert_string_equal(out, "\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
                           "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
                           "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"");
  /* The bound holds: 31 bytes never write more than it says. */
  assert_true(n <= JSON_TEXT_STRING_MAX(31));
  n = json_text_string(out, "", 0);
  out[n] = '\0';
  assert_string_equal(out, "\"\"");
}

/* A doc row of fields (its third column is the document's id) is answered
 * with the fields as an object; an item and a page read the same. */
static void field_rows_in_replies(void **state)
{
  (void)state;
  const struct col cols[] = {{"id", 25, "5"}, {"status", 25, "open"}, {"paid", 16, "f"}};
  PGresult *r = row_of(cols, 3, "5");
  struct reply rp = {0};
  assert_int_equal(reply_doc(&rp, 201, r, 0, "/v1/invoices/"), 201);
  assert_string_equal(rp.text, "{\"id\":\"5\",\"status\":\"open\",\"paid\":false}");
  reply_clear(&rp);
  struct page pg = {.limit = 50};
  assert_int_equal(reply_page(&rp, r, &pg), 200);
  assert_string_equal(rp.text, "{\"data\":[{\"id\":\"5\",\"status\":\"open\",\"paid\":false}],\"next_cursor\":null}");
  reply_clear(&rp);
  PQclear(r);
}

/* A row whose third column is not "id" carries a rendered document, even
 * with more columns after it (a write's res_doc, res_created). */
static void rendered_docs_stay_as_they_are(void **state)
{
  (void)state;
  const struct col cols[] = {{"res_doc", 25, "{\"id\":\"9\", \"as\":\"sent\"}"}, {"res_created", 16, "t"}};
  PGresult *r = row_of(cols, 2, "9");
  struct reply rp = {0};
  assert_int_equal(reply_doc(&rp, 200, r, 0, NULL), 200);
  assert_string_equal(rp.text, "{\"id\":\"9\", \"as\":\"sent\"}");
  reply_clear(&rp);
  PQclear(r);
}

/* A long page grows the buffer as it goes. */
static void long_pages(void **state)
{
  (void)state;
  char big[5000];
  memset(big, '"', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  const struct col cols[] = {{"id", 25, "1"}, {"note", 25, big}};
  PGresult *one = row_of(cols, 2, "1");
  PGresult *r = PQcopyResult(one, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
  for (int i = 1; i < 40; i++)
    for (int c = 0; c < 4; c++)
      assert_true(PQsetvalue(r, i, c, PQgetvalue(one, 0, c), PQgetlength(one, 0, c)));
  struct reply rp = {0};
  struct page pg = {.limit = 39};
  reply_page(&rp, r, &pg);
  json_error_t err;
  json_t *j = json_loads(rp.text, 0, &err);
  assert_non_null(j);
  assert_int_equal(json_array_size(json_object_get(j, "data")), 39);
  assert_int_equal(strlen(json_string_value(json_object_get(json_array_get(json_object_get(j, "data"), 38), "note"))),
                   sizeof big - 1);
  assert_string_equal(json_string_value(json_object_get(j, "next_cursor")), "1");
  json_decref(j);
  reply_clear(&rp);
  PQclear(r);
  PQclear(one);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_type),
      cmocka_unit_test(control_characters),
      cmocka_unit_test(field_rows_in_replies),
      cmocka_unit_test(rendered_docs_stay_as_they_are),
      cmocka_unit_test(long_pages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
