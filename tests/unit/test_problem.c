/* Problem details: the registry is consistent and replies have the RFC 9457
 * shape with our urn types; validation replies list every field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arc/http.h"
#include "arc/problem.h"

static const struct {
  enum problem_type id;
  unsigned status;
  const char *slug;
  const char *title;
} registry[] = {
#define PROBLEM(id, status, slug, title) {PROBLEM_##id, status, slug, title},
#include "arc/problem_types.def"
#undef PROBLEM
};

static void registry_consistent(void **state)
{
  (void)state;
  assert_int_equal(sizeof registry / sizeof registry[0], PROBLEM_COUNT);
  for (int t = 0; t < PROBLEM_COUNT; t++) {
    unsigned st = problem_status((enum problem_type)t);
    const char *slug = problem_slug((enum problem_type)t);
    const char *title = problem_title((enum problem_type)t);
    assert_int_equal(registry[t].id, t);
    assert_int_equal(st, registry[t].status);
    assert_string_equal(slug, registry[t].slug);
    assert_string_equal(title, registry[t].title);
    if (st < 400 || st > 599)
      fail_msg("problem %s has status %u, not 4xx/5xx", slug, st);
    if (!slug[0] || !title[0])
      fail_msg("problem %d has an empty slug or title", t);
    for (const char *p = slug; *p; p++)
      if (!((*p >= 'a' && *p <= 'z') || *p == '-'))
        fail_msg("slug '%s' is not lower-case words joined by hyphens", slug);
    if (slug[0] == '-' || slug[strlen(slug) - 1] == '-')
      fail_msg("slug '%s' starts or ends with a hyphen", slug);
    for (int u = 0; u < t; u++)
      if (strcmp(slug, problem_slug((enum problem_type)u)) == 0)
        fail_msg("slug '%s' is used twice", slug);
  }
  /* The ones the server itself relies on. */
  assert_int_equal(problem_status(PROBLEM_UNAUTHORIZED), 401);
  assert_int_equal(problem_status(PROBLEM_FORBIDDEN), 403);
  assert_int_equal(problem_status(PROBLEM_NOT_FOUND), 404);
  assert_int_equal(problem_status(PROBLEM_METHOD_NOT_ALLOWED), 405);
  assert_int_equal(problem_status(PROBLEM_PRECONDITION_FAILED), 412);
  assert_int_equal(problem_status(PROBLEM_VALIDATION), 422);
  assert_int_equal(problem_status(PROBLEM_UNAVAILABLE), 503);
  assert_string_equal(problem_slug(PROBLEM_VALIDATION), "validation");
}

/* Asserts RP is a problem reply of type T with DETAIL (NULL: none). */
static void assert_problem_body(const struct reply *rp, enum problem_type t, const char *detail)
{
  char type[128];
  snprintf(type, sizeof type, "urn:arcollect:problem:%s", problem_slug(t));
  assert_int_equal(rp->status, problem_status(t));
  assert_true(rp->is_problem);
  assert_non_null(rp->json);
  assert_null(rp->text);
  assert_string_equal(json_string_value(json_object_get(rp->json, "type")), type);
  assert_string_equal(json_string_value(json_object_get(rp->json, "title")), problem_title(t));
  assert_true(json_is_integer(json_object_get(rp->json, "status")));
  assert_int_equal(json_integer_value(json_object_get(rp->json, "status")), problem_status(t));
  if (detail)
    assert_string_equal(json_string_value(json_object_get(rp->json, "detail")), detail);
  else
    assert_null(json_object_get(rp->json, "detail"));
}

static void problem_reply_shape(void **state)
{
  (void)state;
  for (int t = 0; t < PROBLEM_COUNT; t++) {
    struct reply rp = {0};
    unsigned st = reply_problem(&rp, (enum problem_type)t, "what happened");
    assert_int_equal(st, problem_status((enum problem_type)t));
    assert_problem_body(&rp, (enum problem_type)t, "what happened");
    /* The four RFC 9457 members and nothing else. */
    assert_int_equal(json_object_size(rp.json), 4);
    reply_clear(&rp);
  }
  struct reply rp = {0};
  reply_problem(&rp, PROBLEM_NOT_FOUND, NULL);
  assert_problem_body(&rp, PROBLEM_NOT_FOUND, NULL);
  assert_int_equal(json_object_size(rp.json), 3);
  reply_clear(&rp);
}

static void problem_replaces_earlier_reply(void **state)
{
  (void)state;
  /* A handler that started a success reply and then fails: the problem
   * replaces the body and drops headers such as ETag and Location. */
  struct reply rp = {0};
  reply_text(&rp, 201, strdup("{\"id\":\"1\"}"));
  reply_etag(&rp, 3);
  reply_header(&rp, "Location", "/v1/things/1");
  reply_problem(&rp, PROBLEM_CONFLICT, "changed meanwhile");
  assert_problem_body(&rp, PROBLEM_CONFLICT, "changed meanwhile");
  assert_int_equal(rp.n_headers, 0);
  reply_json(&rp, 200, json_pack("{s:i}", "a", 1));
  reply_problem(&rp, PROBLEM_INTERNAL, NULL);
  assert_problem_body(&rp, PROBLEM_INTERNAL, NULL);
  reply_clear(&rp);
}

static void problemf_formats_and_bounds(void **state)
{
  (void)state;
  struct reply rp = {0};
  reply_problemf(&rp, PROBLEM_NOT_FOUND, "no %s with id %d", "customer", 42);
  assert_problem_body(&rp, PROBLEM_NOT_FOUND, "no customer with id 42");
  char big[2000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  reply_problemf(&rp, PROBLEM_BAD_REQUEST, "%s", big);
  const char *d = json_string_value(json_object_get(rp.json, "detail"));
  assert_non_null(d);
  assert_true(strlen(d) < sizeof big - 1);
  assert_true(strlen(d) > 100);
  reply_clear(&rp);
}

static void field_error_formatting(void **state)
{
  (void)state;
  struct field_errors fe = {0};
  assert_false(field_errors_any(&fe));
  field_error(&fe, "amount", "must be between %lld and %lld", 1LL, 9007199254740991LL);
  field_error(&fe, "allocations[2].invoice_id", "%s", "does not exist");
  assert_true(field_errors_any(&fe));
  assert_int_equal(json_array_size(fe.list), 2);
  json_t *e0 = json_array_get(fe.list, 0);
  assert_int_equal(json_object_size(e0), 2);
  assert_string_equal(json_string_value(json_object_get(e0, "field")), "amount");
  assert_string_equal(json_string_value(json_object_get(e0, "message")),
                      "must be between 1 and 9007199254740991");
  json_t *e1 = json_array_get(fe.list, 1);
  assert_string_equal(json_string_value(json_object_get(e1, "field")), "allocations[2].invoice_id");
  /* A "%" in the message argument is data, not a format. */
  field_error(&fe, "q", "%s", "100% wrong %s");
  assert_string_equal(json_string_value(json_object_get(json_array_get(fe.list, 2), "message")),
                      "100% wrong %s");
  field_errors_clear(&fe);
  assert_null(fe.list);
  assert_false(field_errors_any(&fe));
  field_errors_clear(&fe); /* twice is harmless */
}

static void validation_lists_all_and_takes_ownership(void **state)
{
  (void)state;
  struct field_errors fe = {0};
  field_error(&fe, "name", "is required");
  field_error(&fe, "email", "must be an e-mail address");
  field_error(&fe, "cadence_days", "must be between 1 and 365");
  json_t *list = fe.list;
  struct reply rp = {0};
  unsigned st = reply_validation(&rp, &fe);
  assert_int_equal(st, 422);
  assert_null(fe.list); /* taken */
  assert_problem_body(&rp, PROBLEM_VALIDATION, "3 fields failed validation");
  json_t *errors = json_object_get(rp.json, "errors");
  assert_ptr_equal(errors, list); /* moved, not copied */
  assert_int_equal(json_array_size(errors), 3);
  static const char *const want[] = {"name", "email", "cadence_days"};
  for (size_t i = 0; i < 3; i++)
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, i), "field")), want[i]);
  reply_clear(&rp);

  /* One error: singular; none: an empty list, still well-formed. */
  field_error(&fe, "name", "is required");
  reply_validation(&rp, &fe);
  assert_problem_body(&rp, PROBLEM_VALIDATION, "1 field failed validation");
  reply_clear(&rp);
  reply_validation(&rp, &fe);
  assert_problem_body(&rp, PROBLEM_VALIDATION, "0 fields failed validation");
  assert_true(json_is_array(json_object_get(rp.json, "errors")));
  assert_int_equal(json_array_size(json_object_get(rp.json, "errors")), 0);
  reply_clear(&rp);
}

static void single_field_error(void **state)
{
  (void)state;
  struct reply rp = {0};
  assert_int_equal(reply_field_error(&rp, "due_on", "must be on or after issued_on (100%)"), 422);
  assert_problem_body(&rp, PROBLEM_VALIDATION, "1 field failed validation");
  json_t *errors = json_object_get(rp.json, "errors");
  assert_int_equal(json_array_size(errors), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "due_on");
  assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "message")),
                      "must be on or after issued_on (100%)");
  char *text = json_dumps(rp.json, JSON_COMPACT);
  assert_non_null(strstr(text, "\"type\":\"urn:arcollect:problem:validation\""));
  free(text);
  reply_clear(&rp);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(registry_consistent),
      cmocka_unit_test(problem_reply_shape),
      cmocka_unit_test(problem_replaces_earlier_reply),
      cmocka_unit_test(problemf_formats_and_bounds),
      cmocka_unit_test(field_error_formatting),
      cmocka_unit_test(validation_lists_all_and_takes_ownership),
      cmocka_unit_test(single_field_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
