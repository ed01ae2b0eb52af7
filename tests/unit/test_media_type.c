/* Content-Type and Content-Encoding of request bodies (src/http/media_type.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "arc/media_type.h"

static const char *refusal(enum http_method m, const char *type)
{
  return media_type_refusal(m, type, type ? strlen(type) : 0);
}

static void json_in_its_spellings(void **state)
{
  (void)state;
  static const char *const ok[] = {
      "application/json",
      "APPLICATION/JSON",
      " application/json ",
      "application/json;charset=utf-8",
      "application/json; charset=UTF-8",
      "application/json ; charset=utf-8",
      "application/json; charset=\"utf-8\"",
      "application/json; charset=utf8",
      "application/json;",
      "application/json; foo=bar; charset=utf-8",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (refusal(HTTP_POST, ok[i]))
      fail_msg("%s refused: %s", ok[i], refusal(HTTP_POST, ok[i]));
}

static void other_types_and_charsets(void **state)
{
  (void)state;
  assert_non_null(strstr(refusal(HTTP_POST, NULL), "application/json"));
  assert_non_null(strstr(refusal(HTTP_POST, "text/plain"), "application/json"));
  assert_non_null(strstr(refusal(HTTP_POST, "application/jsonp"), "application/json"));
  assert_non_null(strstr(refusal(HTTP_POST, "application/json; charset=utf-16"), "UTF-8"));
  assert_non_null(strstr(refusal(HTTP_PUT, "application/json;CHARSET=\"latin1\""), "UTF-8"));
  assert_non_null(strstr(refusal(HTTP_POST, "application/json; charset=\"utf-8"), "quote"));
  assert_non_null(strstr(refusal(HTTP_POST, "application/json; charset"), "parameters"));
  assert_non_null(strstr(refusal(HTTP_POST, "application/json x"), "parameters"));
  /* RFC 9110 allows no space around "=". */
  assert_non_null(strstr(refusal(HTTP_POST, "application/json; charset = utf-8"), "parameters"));
  assert_non_null(refusal(HTTP_POST, ""));
}

/* A merge patch is a PATCH body only; PATCH also takes plain JSON. */
static void merge_patch_for_patch(void **state)
{
  (void)state;
  assert_null(refusal(HTTP_PATCH, "application/merge-patch+json"));
  assert_null(refusal(HTTP_PATCH, "application/merge-patch+json; charset=utf-8"));
  assert_null(refusal(HTTP_PATCH, "application/json"));
  assert_non_null(strstr(refusal(HTTP_POST, "application/merge-patch+json"), "PATCH"));
  assert_non_null(strstr(refusal(HTTP_PUT, "application/merge-patch+json"), "PATCH"));
}

static void encodings(void **state)
{
  (void)state;
  assert_null(content_encoding_refusal(NULL, 0));
  assert_null(content_encoding_refusal("identity", 8));
  assert_null(content_encoding_refusal(" Identity ", 10));
  assert_non_null(content_encoding_refusal("gzip", 4));
  assert_non_null(content_encoding_refusal("gzip, identity", 14));
  assert_non_null(content_encoding_refusal("", 0));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(json_in_its_spellings),
      cmocka_unit_test(other_types_and_charsets),
      cmocka_unit_test(merge_patch_for_patch),
      cmocka_unit_test(encodings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
