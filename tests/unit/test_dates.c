/* Calendar checks: dates and instants that reach the database must be real. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arc/dates.h"

static void days_in_month(void **state)
{
  (void)state;
  static const int common[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  for (int m = 1; m <= 12; m++) {
    assert_int_equal(date_days_in_month(2023, m), common[m - 1]);
    assert_int_equal(date_days_in_month(2024, m), m == 2 ? 29 : common[m - 1]);
  }
  /* Century rule: 1900 and 2100 are not leap years, 2000 is. */
  assert_int_equal(date_days_in_month(1900, 2), 28);
  assert_int_equal(date_days_in_month(2100, 2), 28);
  assert_int_equal(date_days_in_month(2000, 2), 29);
  assert_int_equal(date_days_in_month(2400, 2), 29);
  assert_int_equal(date_days_in_month(2024, 0), 0);
  assert_int_equal(date_days_in_month(2024, 13), 0);
  assert_int_equal(date_days_in_month(2024, -1), 0);
}

static void valid_dates(void **state)
{
  (void)state;
  static const char *const ok[] = {
      "2024-02-29", "2000-02-29", "2023-02-28", "1900-01-01", "9999-12-31",
      "2026-01-31", "2026-04-30", "2026-12-01", "1900-02-28",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (!date_is_valid(ok[i]))
      fail_msg("%s should be a valid date", ok[i]);
}

static void invalid_dates(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "2023-02-29",  /* not a leap year */
      "1900-02-29",  /* century, not divisible by 400 */
      "2100-02-29",  /* same */
      "2024-02-30",  /* February never has 30 days */
      "2026-04-31",  /* April has 30 */
      "2026-13-01",  /* month 13 */
      "2026-00-10",  /* month 0 */
      "2026-01-00",  /* day 0 */
      "2026-01-32",  /* day 32 */
      "2026-1-01",   /* month not zero-padded */
      "2026-01-1",   /* day not zero-padded */
      "26-01-01",    /* two-digit year */
      "2026-01-01 ", /* trailing space */
      "2026-01-01x", /* trailing character */
      "2026-01-01T00:00:00Z",
      " 2026-01-01", /* leading space */
      "1899-12-31",  /* before 1900 */
      "0000-01-01",
      "2026/01/01",
      "2026-01-0a",
      "+026-01-01",
      "-026-01-01",
      "2026--1-01",
      "",
      "20260101",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (date_is_valid(bad[i]))
      fail_msg("'%s' should not be a valid date", bad[i]);
  assert_false(date_is_valid(NULL));
}

static void valid_instants(void **state)
{
  (void)state;
  static const char *const ok[] = {
      "2026-01-31T14:05:00Z",
      "2026-01-31t14:05:00z",
      "2026-01-31T14:05:00.123Z",
      "2026-01-31T14:05:00.123456789Z",
      "2026-01-31T14:05:00+01:00",
      "2026-01-31T14:05:00-05:30",
      "2026-01-31T14:05:00.5+00:00",
      "2024-02-29T23:59:59Z",
      "2026-01-31T00:00:00Z",
      "2016-12-31T23:59:60Z", /* a leap second is RFC 3339 */
      "2026-01-31T14:05:00+23:59",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (!instant_is_valid(ok[i]))
      fail_msg("%s should be a valid instant", ok[i]);
}

static void invalid_instants(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "2026-01-31T14:05:00",        /* no offset */
      "2026-01-31 14:05:00Z",       /* space instead of T */
      "2026-01-31T24:00:00Z",       /* hour 24 */
      "2026-01-31T25:00:00Z",
      "2026-01-31T14:60:00Z",       /* minute 60 */
      "2026-01-31T14:05:61Z",       /* second 61 */
      "2026-01-31T14:05Z",          /* no seconds */
      "2026-01-31T14:05:00.Z",      /* empty fraction */
      "2026-01-31T14:05:00+0100",   /* offset without colon */
      "2026-01-31T14:05:00+01",     /* short offset */
      "2026-01-31T14:05:00+24:00",  /* offset hour 24 */
      "2026-01-31T14:05:00+01:60",  /* offset minute 60 */
      "2026-01-31T14:05:00Zjunk",   /* trailing characters */
      "2026-01-31T14:05:00+01:00x",
      "2026-02-30T14:05:00Z",       /* not a day */
      "1899-12-31T23:59:59Z",       /* before 1900 */
      "2026-01-31T1:05:00Z",        /* unpadded hour */
      "2026-01-31",                 /* a date is not an instant */
      "2026-01-31T14:05:00 Z",
      "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (instant_is_valid(bad[i]))
      fail_msg("'%s' should not be a valid instant", bad[i]);
  assert_false(instant_is_valid(NULL));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(days_in_month),
      cmocka_unit_test(valid_dates),
      cmocka_unit_test(invalid_dates),
      cmocka_unit_test(valid_instants),
      cmocka_unit_test(invalid_instants),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
