/* ARC_CORS_ORIGINS (src/http/cors.c): which lists are origins, and that an
 * origin is allowed only when it is one of them exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arc/cors.h"

static void lists(void **state)
{
  (void)state;
  struct cors c;
  char err[300];
  assert_int_equal(cors_parse("", &c, err, sizeof err), 0);
  assert_int_equal(c.n, 0);
  assert_int_equal(cors_parse(NULL, &c, err, sizeof err), 0);
  assert_int_equal(c.n, 0);
  assert_int_equal(cors_parse(" https://app.example.com , http://localhost:5173,http://[::1]:8080,", &c, err,
                              sizeof err),
                   0);
  assert_int_equal(c.n, 3);
  assert_string_equal(c.origins[0], "https://app.example.com");
  assert_string_equal(c.origins[1], "http://localhost:5173");
  assert_string_equal(c.origins[2], "http://[::1]:8080");
  cors_free(&c);
  static const char *const bad[] = {"*",
                                    "app.example.com",
                                    "https://app.example.com/",
                                    "https://app.example.com/path",
                                    "ftp://app.example.com",
                                    "https://",
                                    "https://app.example.com:",
                                    "https://app.example.com:123456",
                                    "https://*.example.com",
                                    "https://ok.example.com, null",
                                    "http://[::1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    if (cors_parse(bad[i], &c, err, sizeof err) != -1)
      fail_msg("%s was taken as a list of origins", bad[i]);
    assert_non_null(strstr(err, "origin"));
    assert_int_equal(c.n, 0);
  }
}

static void exact_match(void **state)
{
  (void)state;
  struct cors c;
  char err[300];
  assert_int_equal(cors_parse("https://app.example.com,http://localhost:5173", &c, err, sizeof err), 0);
  const char *o = "https://app.example.com";
  assert_ptr_equal(cors_allowed(&c, o, strlen(o)), c.origins[0]);
  o = "http://localhost:5173";
  assert_ptr_equal(cors_allowed(&c, o, strlen(o)), c.origins[1]);
  static const char *const other[] = {"https://app.example.com.evil.test", "http://app.example.com",
                                      "https://APP.example.com", "https://app.example.co", "http://localhost:517",
                                      "http://localhost:51730", "null", ""};
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
    if (cors_allowed(&c, other[i], strlen(other[i])))
      fail_msg("%s was allowed", other[i]);
  assert_null(cors_allowed(&c, NULL, 0));
  cors_free(&c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lists),
      cmocka_unit_test(exact_match),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
