/* Request-body specs: every type, every flag, both modes, and that one pass
 * reports every bad field under its full name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arc/jspec.h"

/* ---- helpers ---- */

static json_t *parse(const char *text)
{
  json_error_t err;
  json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
  if (!j)
    fail_msg("test JSON does not parse: %s: %s", text, err.text);
  return j;
}

static size_t n_errors(const struct field_errors *fe)
{
  return fe->list ? json_array_size(fe->list) : 0;
}

/* The message of the error naming FIELD, or NULL. */
static const char *error_for(const struct field_errors *fe, const char *field)
{
  size_t i;
  json_t *e;
  if (!fe->list)
    return NULL;
  json_array_foreach(fe->list, i, e) {
    const char *f = json_string_value(json_object_get(e, "field"));
    if (f && strcmp(f, field) == 0)
      return json_string_value(json_object_get(e, "message"));
  }
  return NULL;
}

static void dump_errors(const struct field_errors *fe)
{
  char *s = fe->list ? json_dumps(fe->list, 0) : NULL;
  fprintf(stderr, "errors: %s\n", s ? s : "(none)");
  free(s);
}

/* Asserts the errors are exactly FIELDS (NULL-terminated), in any order. */
static void assert_errors_exactly(const struct field_errors *fe, const char *const *fields)
{
  size_t n = 0;
  for (; fields[n]; n++)
    if (!error_for(fe, fields[n])) {
      dump_errors(fe);
      fail_msg("no error names '%s'", fields[n]);
    }
  if (n_errors(fe) != n) {
    dump_errors(fe);
    fail_msg("expected %zu errors, got %zu", n, n_errors(fe));
  }
}

/* Validates TEXT against a one-field spec; returns jspec_parse's answer
 * and leaves the errors in FE. */
static int one(struct jspec field, const char *text, enum jspec_mode mode, struct field_errors *fe)
{
  struct jspec spec[] = {field, JSPEC_ENDV};
  json_t *j = parse(text);
  int ok = jspec_parse(j, spec, mode, "", fe);
  json_decref(j);
  return ok;
}

/* VALUE (a JSON text) is accepted for FIELD in CREATE mode. */
static void accepts(struct jspec field, const char *value)
{
  char text[512];
  snprintf(text, sizeof text, "{\"%s\": %s}", field.name, value);
  struct field_errors fe = {0};
  if (!one(field, text, JSPEC_CREATE, &fe) || n_errors(&fe)) {
    dump_errors(&fe);
    field_errors_clear(&fe);
    fail_msg("%s: %s should be accepted", field.name, value);
  }
}

/* VALUE is refused for FIELD with exactly one error naming the field. */
static void refuses(struct jspec field, const char *value)
{
  char text[512];
  snprintf(text, sizeof text, "{\"%s\": %s}", field.name, value);
  struct field_errors fe = {0};
  int ok = one(field, text, JSPEC_CREATE, &fe);
  if (ok || n_errors(&fe) != 1 || !error_for(&fe, field.name)) {
    dump_errors(&fe);
    field_errors_clear(&fe);
    fail_msg("%s: %s should be refused with one error naming the field", field.name, value);
  }
  field_errors_clear(&fe);
}

/* ---- types ---- */

static void string_type(void **state)
{
  (void)state;
  const char *out = NULL;
  struct jspec s = JSPEC_STR("name", 0, &out, 5);
  accepts(s, "\"Acme\"");
  accepts(s, "\" a \"");
  accepts(s, "\"12345\"");
  refuses(s, "\"123456\"");
  refuses(s, "\"\"");
  refuses(s, "\"   \"");
  refuses(s, "\"\\t\\n\"");
  refuses(s, "12");
  refuses(s, "true");
  refuses(s, "[\"a\"]");
  refuses(s, "{}");
  refuses(s, "null");
  /* The target points into the body on success. */
  struct field_errors fe = {0};
  struct jspec spec[] = {JSPEC_STR("name", 0, &out, 5), JSPEC_ENDV};
  json_t *j = parse("{\"name\": \"Acme\"}");
  assert_true(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_string_equal(out, "Acme");
  assert_ptr_equal(out, json_string_value(json_object_get(j, "name")));
  assert_true(spec[0].present);
  assert_false(spec[0].is_null);
  json_decref(j);
}

static void string_nul_refused(void **state)
{
  (void)state;
  /* jansson's parser refuses \u0000 by default, but a body built in C can hold one. */
  json_t *j = json_object();
  json_object_set_new(j, "name", json_stringn("a\0b", 3));
  const char *out = NULL;
  struct jspec spec[] = {JSPEC_STR("name", 0, &out, 0), JSPEC_ENDV};
  struct field_errors fe = {0};
  assert_false(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_non_null(error_for(&fe, "name"));
  assert_null(out);
  field_errors_clear(&fe);
  json_decref(j);
}

static void string_length_counts_characters(void **state)
{
  (void)state;
  struct jspec s = JSPEC_STR("name", 0, NULL, 3);
  /* Three characters, six bytes: within a limit of three characters. */
  accepts(s, "\"\xc3\xa9\xc3\xa9\xc3\xa9\"");
  /* Three CJK characters (nine bytes). */
  accepts(s, "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"");
  /* A four-byte character (U+1F600) and two ASCII: three characters. */
  accepts(s, "\"\xf0\x9f\x98\x80" "ab\"");
  /* Escaped: \u00e9 is one character too. */
  accepts(s, "\"\\u00e9\\u00e9\\u00e9\"");
  /* Four characters. */
  refuses(s, "\"\xc3\xa9\xc3\xa9\xc3\xa9" "a\"");
  refuses(s, "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"");
  assert_int_equal(jspec_utf8_len(""), 0);
  assert_int_equal(jspec_utf8_len("abc"), 3);
  assert_int_equal(jspec_utf8_len("\xc3\xa9"), 1);
  assert_int_equal(jspec_utf8_len("\xe6\x97\xa5x"), 2);
  assert_int_equal(jspec_utf8_len("\xf0\x9f\x98\x80"), 1);
}

static void utf8_validity(void **state)
{
  (void)state;
  static const char *const ok[] = {
      "", "plain ASCII", "\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80",
      "\xf4\x8f\xbf\xbf", /* U+10FFFF */
      "\xed\x9f\xbf",      /* U+D7FF, just below the surrogates */
      "\xee\x80\x80",      /* U+E000, just above */
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (!jspec_utf8_valid(ok[i], strlen(ok[i])))
      fail_msg("case %zu should be valid UTF-8", i);
  static const char *const bad[] = {
      "\x80",             /* a lone continuation byte */
      "\xc3",             /* truncated */
      "\xe6\x97",
      "\xf0\x9f\x98",
      "\xc3(",            /* bad continuation */
      "\xc0\x80",         /* overlong NUL */
      "\xc1\xbf",         /* overlong */
      "\xe0\x80\x80",
      "\xf0\x80\x80\x80",
      "\xed\xa0\x80",     /* surrogate U+D800 */
      "\xed\xbf\xbf",     /* surrogate U+DFFF */
      "\xf4\x90\x80\x80", /* U+110000 */
      "\xf5\x80\x80\x80",
      "\xff",
      "a\xfe",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (jspec_utf8_valid(bad[i], strlen(bad[i])))
      fail_msg("case %zu should not be valid UTF-8", i);
  /* NUL inside the length is refused; bytes past the length are not read. */
  assert_false(jspec_utf8_valid("a\0b", 3));
  assert_true(jspec_utf8_valid("ab\xff", 2));
  assert_false(jspec_utf8_valid("\xc3\xa9", 1));
}

static void text_type(void **state)
{
  (void)state;
  const char *out = NULL;
  struct jspec t = JSPEC_TXT("notes", 0, &out, 4);
  accepts(t, "\"\"");
  accepts(t, "\"   \"");
  accepts(t, "\"abcd\"");
  accepts(t, "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"");
  refuses(t, "\"abcde\"");
  refuses(t, "5");
  refuses(t, "null");
  struct jspec unlimited = JSPEC_TXT("notes", 0, NULL, 0);
  char big[3000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  /* max 0 means no limit. */
  struct field_errors fe = {0};
  json_t *j = json_pack("{s:s}", "notes", big);
  struct jspec spec[] = {unlimited, JSPEC_ENDV};
  assert_true(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  json_decref(j);
}

static const char *const kinds[] = {"commercial", "consumer", NULL};
static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};

static void enum_type(void **state)
{
  (void)state;
  const char *out = NULL;
  struct jspec e = JSPEC_ENUMV("kind", 0, &out, kinds);
  accepts(e, "\"commercial\"");
  accepts(e, "\"consumer\"");
  refuses(e, "\"Consumer\"");
  refuses(e, "\"other\"");
  refuses(e, "\"\"");
  refuses(e, "1");
  refuses(e, "[\"consumer\"]");
  /* The message lists the allowed values. */
  struct field_errors fe = {0};
  one(e, "{\"kind\": \"x\"}", JSPEC_CREATE, &fe);
  const char *msg = error_for(&fe, "kind");
  assert_non_null(msg);
  assert_non_null(strstr(msg, "commercial"));
  assert_non_null(strstr(msg, "consumer"));
  field_errors_clear(&fe);
  struct jspec spec[] = {JSPEC_ENUMV("kind", 0, &out, kinds), JSPEC_ENDV};
  json_t *j = parse("{\"kind\": \"consumer\"}");
  assert_true(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_string_equal(out, "consumer");
  json_decref(j);
}

static void enum_set_type(void **state)
{
  (void)state;
  const json_t *out = NULL;
  struct jspec s = JSPEC_SETV("days", 0, &out, days);
  accepts(s, "[]");
  accepts(s, "[\"mon\"]");
  accepts(s, "[\"thu\", \"fri\", \"sun\"]");
  refuses(s, "\"mon\"");
  refuses(s, "{}");
  refuses(s, "5");
  struct field_errors fe = {0};
  /* A duplicate names the repeated element. */
  assert_false(one(s, "{\"days\": [\"mon\", \"tue\", \"mon\"]}", JSPEC_CREATE, &fe));
  assert_errors_exactly(&fe, (const char *const[]){"days[2]", NULL});
  assert_non_null(strstr(error_for(&fe, "days[2]"), "twice"));
  field_errors_clear(&fe);
  /* A bad value names its index. */
  assert_false(one(s, "{\"days\": [\"mon\", \"monday\"]}", JSPEC_CREATE, &fe));
  assert_errors_exactly(&fe, (const char *const[]){"days[1]", NULL});
  field_errors_clear(&fe);
  assert_false(one(s, "{\"days\": [\"mon\", 3]}", JSPEC_CREATE, &fe));
  assert_errors_exactly(&fe, (const char *const[]){"days[1]", NULL});
  field_errors_clear(&fe);
  assert_false(one(s, "{\"days\": [null]}", JSPEC_CREATE, &fe));
  assert_errors_exactly(&fe, (const char *const[]){"days[0]", NULL});
  field_errors_clear(&fe);
  /* On success the target is the array. */
  struct jspec spec[] = {JSPEC_SETV("days", 0, &out, days), JSPEC_ENDV};
  json_t *j = parse("{\"days\": [\"sat\", \"sun\"]}");
  assert_true(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_ptr_equal(out, json_object_get(j, "days"));
  json_decref(j);
}

static void int_type(void **state)
{
  (void)state;
  int64_t out = -7;
  struct jspec i = JSPEC_INTV("cadence_days", 0, &out, 1, 365);
  accepts(i, "1");
  accepts(i, "365");
  refuses(i, "0");
  refuses(i, "366");
  refuses(i, "-1");
  refuses(i, "3.0");
  refuses(i, "1e2");
  refuses(i, "\"3\"");
  refuses(i, "true");
  refuses(i, "9223372036854775807");
  refuses(i, "-9223372036854775808");
  struct field_errors fe = {0};
  struct jspec spec[] = {JSPEC_INTV("cadence_days", 0, &out, 1, 365), JSPEC_ENDV};
  json_t *j = parse("{\"cadence_days\": 400}");
  out = -7;
  assert_false(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_int_equal(out, -7); /* untouched on error */
  assert_non_null(strstr(error_for(&fe, "cadence_days"), "365"));
  field_errors_clear(&fe);
  json_decref(j);
  j = parse("{\"cadence_days\": 30}");
  assert_true(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_int_equal(out, 30);
  json_decref(j);
}

static void money_type(void **state)
{
  (void)state;
  int64_t out = 0;
  struct jspec m = JSPEC_MONEYV("amount", 0, &out, 1, ARC_MONEY_MAX);
  accepts(m, "1");
  accepts(m, "125000");
  accepts(m, "9007199254740991");
  refuses(m, "9007199254740992"); /* 2^53 */
  refuses(m, "9223372036854775807");
  refuses(m, "0");
  refuses(m, "-1");
  refuses(m, "-9007199254740991");
  refuses(m, "1.0");  /* a real, even when whole */
  refuses(m, "10.5");
  refuses(m, "1e3");
  refuses(m, "1E3");
  refuses(m, "\"100\""); /* strings never carry money */
  refuses(m, "\"1.00\"");
  refuses(m, "true");
  refuses(m, "[100]");
  refuses(m, "{\"cents\": 100}");
  refuses(m, "null");
  /* The refusal says why a string or a fraction is wrong. */
  struct field_errors fe = {0};
  one(m, "{\"amount\": 1.5}", JSPEC_CREATE, &fe);
  assert_non_null(strstr(error_for(&fe, "amount"), "integer"));
  field_errors_clear(&fe);
  /* Signed amounts (adjustments) use the symmetric range. */
  struct jspec signed_m = JSPEC_MONEYV("amount", 0, &out, -ARC_MONEY_MAX, ARC_MONEY_MAX);
  accepts(signed_m, "-9007199254740991");
  accepts(signed_m, "-5");
  refuses(signed_m, "-9007199254740992");
  struct jspec spec[] = {JSPEC_MONEYV("amount", 0, &out, 1, ARC_MONEY_MAX), JSPEC_ENDV};
  json_t *j = parse("{\"amount\": 9007199254740991}");
  assert_true(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_true(out == INT64_C(9007199254740991));
  json_decref(j);
}

static void bool_type(void **state)
{
  (void)state;
  int out = 5;
  struct jspec b = JSPEC_BOOLV("factored", 0, &out);
  accepts(b, "true");
  accepts(b, "false");
  refuses(b, "1");
  refuses(b, "0");
  refuses(b, "\"true\"");
  refuses(b, "null");
  struct field_errors fe = {0};
  struct jspec spec[] = {JSPEC_BOOLV("factored", 0, &out), JSPEC_ENDV};
  json_t *j = parse("{\"factored\": false}");
  assert_true(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_int_equal(out, 0);
  json_decref(j);
  j = parse("{\"factored\": true}");
  assert_true(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_int_equal(out, 1);
  json_decref(j);
}

static void date_type(void **state)
{
  (void)state;
  const char *out = NULL;
  struct jspec d = JSPEC_DATEV("due_on", 0, &out);
  accepts(d, "\"2024-02-29\"");
  accepts(d, "\"2026-12-31\"");
  refuses(d, "\"2023-02-29\"");
  refuses(d, "\"2026-13-01\"");
  refuses(d, "\"2026-1-01\"");
  refuses(d, "\"2026-01-01T00:00:00Z\"");
  refuses(d, "\"\"");
  refuses(d, "20260101");
  struct field_errors fe = {0};
  struct jspec spec[] = {JSPEC_DATEV("due_on", 0, &out), JSPEC_ENDV};
  json_t *j = parse("{\"due_on\": \"2026-03-01\"}");
  assert_true(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_string_equal(out, "2026-03-01");
  json_decref(j);
}

static void instant_type(void **state)
{
  (void)state;
  struct jspec t = JSPEC_INSTANTV("at", 0, NULL);
  accepts(t, "\"2026-01-31T14:05:00Z\"");
  accepts(t, "\"2026-01-31T14:05:00.25+02:00\"");
  refuses(t, "\"2026-01-31T14:05:00\"");
  refuses(t, "\"2026-01-31\"");
  refuses(t, "\"2026-01-31T25:05:00Z\"");
  refuses(t, "1767225600");
}

static void id_type(void **state)
{
  (void)state;
  const char *out = NULL;
  struct jspec i = JSPEC_IDV("customer_id", 0, &out);
  accepts(i, "\"1\"");
  accepts(i, "\"12\"");
  accepts(i, "\"999999999999999999\""); /* 18 digits */
  refuses(i, "12");                     /* ids are strings */
  refuses(i, "\"\"");
  refuses(i, "\"0\"");
  refuses(i, "\"012\"");
  refuses(i, "\"-1\"");
  refuses(i, "\"+1\"");
  refuses(i, "\"1a\"");
  refuses(i, "\" 1\"");
  refuses(i, "\"1.0\"");
  refuses(i, "\"1234567890123456789\""); /* 19 digits could overflow bigint */
  assert_true(jspec_is_id("42"));
  assert_false(jspec_is_id(""));
  assert_false(jspec_is_id("00"));
  assert_false(jspec_is_id("4 2"));
  assert_false(jspec_is_id("9999999999999999999"));
}

static void currency_type(void **state)
{
  (void)state;
  struct jspec c = JSPEC_CURRENCYV("currency", 0, NULL);
  accepts(c, "\"USD\"");
  accepts(c, "\"EUR\"");
  refuses(c, "\"usd\"");
  refuses(c, "\"Usd\"");
  refuses(c, "\"US\"");
  refuses(c, "\"USDD\"");
  refuses(c, "\"U$D\"");
  refuses(c, "\"840\"");
  refuses(c, "\"\"");
  refuses(c, "840");
  assert_true(jspec_is_currency("JPY"));
  assert_false(jspec_is_currency("JP"));
  assert_false(jspec_is_currency("J1Y"));
  assert_false(jspec_is_currency("\xc3\x89UR"));
}

static void email_type(void **state)
{
  (void)state;
  struct jspec e = JSPEC_EMAILV("email", 0, NULL);
  accepts(e, "\"ap@example.com\"");
  accepts(e, "\"first.last+tag@sub.example.co.uk\"");
  refuses(e, "\"\"");
  refuses(e, "\"example.com\"");
  refuses(e, "\"@example.com\"");
  refuses(e, "\"ap@\"");
  refuses(e, "\"ap@example\"");
  refuses(e, "\"ap@.com\"");
  refuses(e, "\"ap@example.\"");
  refuses(e, "\"a p@example.com\"");
  refuses(e, "\"ap@exa mple.com\"");
  refuses(e, "\"ap@b@example.com\"");
  refuses(e, "\"ap@example.com\\n\"");
  refuses(e, "\"ap\\t@example.com\"");
  refuses(e, "42");
  char long_local[300];
  memset(long_local, 'a', 250);
  strcpy(long_local + 250, "@b.cd");
  assert_false(jspec_is_email(long_local)); /* 255 characters */
  long_local[249] = '\0';
  strcat(long_local, "@b.c");               /* 253 characters */
  assert_true(jspec_is_email(long_local));
}

static void check_positive_even(const json_t *v, const char *field, struct field_errors *fe)
{
  if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) % 2)
    field_error(fe, field, "must be a positive even integer");
}

static void custom_type(void **state)
{
  (void)state;
  const json_t *out = NULL;
  struct jspec c = JSPEC_CUSTOMV("pair", 0, &out, check_positive_even);
  accepts(c, "2");
  refuses(c, "3");
  refuses(c, "\"2\"");
  struct field_errors fe = {0};
  struct jspec spec[] = {JSPEC_CUSTOMV("pair", 0, &out, check_positive_even), JSPEC_ENDV};
  json_t *j = parse("{\"pair\": 3}");
  out = NULL;
  assert_false(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_null(out); /* no target when the check failed */
  field_errors_clear(&fe);
  json_decref(j);
  j = parse("{\"pair\": 8}");
  assert_true(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_ptr_equal(out, json_object_get(j, "pair"));
  json_decref(j);
}

/* ---- flags and modes ---- */

static void required_in_create_only(void **state)
{
  (void)state;
  struct field_errors fe = {0};
  struct jspec spec[] = {JSPEC_STR("name", JSPEC_REQUIRED, NULL, 200),
                         JSPEC_STR("phone", 0, NULL, 40), JSPEC_ENDV};
  json_t *j = parse("{\"phone\": \"555\"}");
  assert_false(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_errors_exactly(&fe, (const char *const[]){"name", NULL});
  assert_non_null(strstr(error_for(&fe, "name"), "required"));
  field_errors_clear(&fe);
  /* PATCH: absent means unchanged. */
  assert_true(jspec_parse(j, spec, JSPEC_PATCH, "", &fe));
  assert_int_equal(n_errors(&fe), 0);
  assert_false(spec[0].present);
  assert_true(spec[1].present);
  json_decref(j);
}

static void nullable(void **state)
{
  (void)state;
  struct field_errors fe = {0};
  const char *email = "unchanged";
  struct jspec spec[] = {
      JSPEC_EMAILV("email", JSPEC_NULLABLE, &email),
      JSPEC_STR("name", 0, NULL, 10),
      JSPEC_STR("salesperson", JSPEC_REQUIRED | JSPEC_NULLABLE, NULL, 10),
      JSPEC_ENDV,
  };
  json_t *j = parse("{\"email\": null, \"name\": null, \"salesperson\": null}");
  assert_false(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  /* A nullable field may be null; a required one may not be created null. */
  assert_errors_exactly(&fe, (const char *const[]){"name", "salesperson", NULL});
  assert_non_null(strstr(error_for(&fe, "name"), "null"));
  assert_true(spec[0].present);
  assert_true(spec[0].is_null);
  assert_string_equal(email, "unchanged"); /* null leaves the target alone */
  field_errors_clear(&fe);
  /* PATCH: a required, nullable field may be cleared. */
  assert_false(jspec_parse(j, spec, JSPEC_PATCH, "", &fe));
  assert_errors_exactly(&fe, (const char *const[]){"name", NULL});
  assert_true(spec[2].is_null);
  field_errors_clear(&fe);
  json_decref(j);
}

static void create_only(void **state)
{
  (void)state;
  struct field_errors fe = {0};
  int64_t amount = 0;
  struct jspec spec[] = {
      JSPEC_MONEYV("amount", JSPEC_REQUIRED | JSPEC_CREATE_ONLY, &amount, 1, ARC_MONEY_MAX),
      JSPEC_CURRENCYV("currency", JSPEC_REQUIRED | JSPEC_CREATE_ONLY | JSPEC_NULLABLE, NULL),
      JSPEC_STR("number", JSPEC_REQUIRED, NULL, 64),
      JSPEC_ENDV,
  };
  json_t *j = parse("{\"amount\": 100, \"currency\": \"USD\", \"number\": \"INV-1\"}");
  assert_true(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_int_equal(amount, 100);
  amount = 0;
  /* PATCH refuses them even with a valid value, and even when null. */
  assert_false(jspec_parse(j, spec, JSPEC_PATCH, "", &fe));
  assert_errors_exactly(&fe, (const char *const[]){"amount", "currency", NULL});
  assert_non_null(strstr(error_for(&fe, "amount"), "changed"));
  assert_int_equal(amount, 0);
  field_errors_clear(&fe);
  json_decref(j);
  j = parse("{\"currency\": null}");
  assert_false(jspec_parse(j, spec, JSPEC_PATCH, "", &fe));
  assert_errors_exactly(&fe, (const char *const[]){"currency", NULL});
  field_errors_clear(&fe);
  json_decref(j);
  /* Absent create-only fields are fine in PATCH. */
  j = parse("{\"number\": \"INV-2\"}");
  assert_true(jspec_parse(j, spec, JSPEC_PATCH, "", &fe));
  json_decref(j);
}

static void unknown_fields(void **state)
{
  (void)state;
  struct field_errors fe = {0};
  struct jspec spec[] = {JSPEC_STR("name", JSPEC_REQUIRED, NULL, 200), JSPEC_ENDV};
  json_t *j = parse("{\"name\": \"x\", \"nmae\": \"y\", \"balance\": 5, \"Name\": \"z\"}");
  assert_false(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  /* Field names are case-sensitive: "Name" is unknown too. */
  assert_errors_exactly(&fe, (const char *const[]){"nmae", "balance", "Name", NULL});
  assert_non_null(strstr(error_for(&fe, "balance"), "not a known field"));
  field_errors_clear(&fe);
  assert_false(jspec_parse(j, spec, JSPEC_PATCH, "", &fe));
  assert_int_equal(n_errors(&fe), 3);
  field_errors_clear(&fe);
  json_decref(j);
}

static void all_errors_in_one_pass(void **state)
{
  (void)state;
  struct field_errors fe = {0};
  struct jspec spec[] = {
      JSPEC_IDV("customer_id", JSPEC_REQUIRED | JSPEC_CREATE_ONLY, NULL),
      JSPEC_STR("number", JSPEC_REQUIRED, NULL, 64),
      JSPEC_CURRENCYV("currency", JSPEC_REQUIRED | JSPEC_CREATE_ONLY, NULL),
      JSPEC_MONEYV("amount", JSPEC_REQUIRED | JSPEC_CREATE_ONLY, NULL, 1, ARC_MONEY_MAX),
      JSPEC_DATEV("issued_on", JSPEC_REQUIRED, NULL),
      JSPEC_DATEV("due_on", JSPEC_REQUIRED, NULL),
      JSPEC_BOOLV("factored", 0, NULL),
      JSPEC_TXT("description", JSPEC_NULLABLE, NULL, 2000),
      JSPEC_ENDV,
  };
  json_t *j = parse("{\"customer_id\": 7, \"currency\": \"usd\", \"amount\": 10.5, "
                    "\"issued_on\": \"2026-02-30\", \"factored\": \"yes\", \"description\": null, "
                    "\"extra\": 1}");
  assert_false(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_errors_exactly(&fe, (const char *const[]){"customer_id", "number", "currency", "amount", "issued_on",
                                                   "due_on", "factored", "extra", NULL});
  field_errors_clear(&fe);
  json_decref(j);
}

static void nested_prefix(void **state)
{
  (void)state;
  struct field_errors fe = {0};
  json_t *body = parse("{\"allocations\": [{\"invoice_id\": \"4\", \"amount\": 100},"
                       " {\"invoice_id\": \"x\", \"amount\": 1.5, \"note\": 1}, {}]}");
  json_t *allocs = json_object_get(body, "allocations");
  size_t i;
  json_t *a;
  int all_ok = 1;
  json_array_foreach(allocs, i, a) {
    struct jspec spec[] = {
        JSPEC_IDV("invoice_id", JSPEC_REQUIRED, NULL),
        JSPEC_MONEYV("amount", JSPEC_REQUIRED, NULL, 1, ARC_MONEY_MAX),
        JSPEC_ENDV,
    };
    char prefix[40];
    snprintf(prefix, sizeof prefix, "allocations[%zu]", i);
    all_ok &= jspec_parse(a, spec, JSPEC_CREATE, prefix, &fe);
  }
  assert_false(all_ok);
  assert_errors_exactly(&fe, (const char *const[]){"allocations[1].invoice_id", "allocations[1].amount",
                                                   "allocations[1].note", "allocations[2].invoice_id",
                                                   "allocations[2].amount", NULL});
  field_errors_clear(&fe);
  /* A nested value that is not an object is named by the prefix alone. */
  struct jspec spec[] = {JSPEC_IDV("invoice_id", 0, NULL), JSPEC_ENDV};
  json_t *n = json_integer(5);
  assert_false(jspec_parse(n, spec, JSPEC_CREATE, "allocations[0]", &fe));
  assert_errors_exactly(&fe, (const char *const[]){"allocations[0]", NULL});
  field_errors_clear(&fe);
  json_decref(n);
  json_decref(body);
}

static void return_value_counts_only_new_errors(void **state)
{
  (void)state;
  /* A caller collecting across several parses gets 1 for a valid part even
   * when an earlier part already failed. */
  struct field_errors fe = {0};
  field_error(&fe, "earlier", "failed");
  struct jspec spec[] = {JSPEC_STR("name", JSPEC_REQUIRED, NULL, 10), JSPEC_ENDV};
  json_t *j = parse("{\"name\": \"ok\"}");
  assert_true(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
  assert_int_equal(n_errors(&fe), 1);
  field_errors_clear(&fe);
  json_decref(j);
}

static void null_body_is_empty_object(void **state)
{
  (void)state;
  struct field_errors fe = {0};
  struct jspec spec[] = {JSPEC_STR("name", JSPEC_REQUIRED, NULL, 10), JSPEC_BOOLV("b", 0, NULL), JSPEC_ENDV};
  assert_false(jspec_parse(NULL, spec, JSPEC_CREATE, "", &fe));
  assert_errors_exactly(&fe, (const char *const[]){"name", NULL});
  field_errors_clear(&fe);
  assert_true(jspec_parse(NULL, spec, JSPEC_PATCH, "", &fe));
  assert_false(spec[0].present);
  assert_false(spec[1].present);
  assert_null(fe.list);
  json_t *empty = json_object();
  assert_true(jspec_parse(empty, spec, JSPEC_PATCH, "", &fe));
  json_decref(empty);
}

static void body_not_an_object(void **state)
{
  (void)state;
  static const char *const bodies[] = {"[]", "[{\"name\": \"x\"}]", "\"name\"", "42", "null", "true"};
  struct jspec spec[] = {JSPEC_STR("name", JSPEC_REQUIRED, NULL, 10), JSPEC_ENDV};
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    struct field_errors fe = {0};
    json_t *j = json_loads(bodies[i], JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    assert_false(jspec_parse(j, spec, JSPEC_CREATE, "", &fe));
    /* One error about the body, not a cascade about every field. */
    assert_errors_exactly(&fe, (const char *const[]){"(body)", NULL});
    field_errors_clear(&fe);
    json_decref(j);
  }
}

static void present_and_null_reset(void **state)
{
  (void)state;
  /* The outputs describe the last body parsed, not an earlier one. */
  struct field_errors fe = {0};
  struct jspec spec[] = {JSPEC_STR("phone", JSPEC_NULLABLE, NULL, 40), JSPEC_ENDV};
  json_t *a = parse("{\"phone\": null}");
  json_t *b = parse("{}");
  assert_true(jspec_parse(a, spec, JSPEC_PATCH, "", &fe));
  assert_true(spec[0].present && spec[0].is_null);
  assert_true(jspec_parse(b, spec, JSPEC_PATCH, "", &fe));
  assert_false(spec[0].present);
  assert_false(spec[0].is_null);
  json_decref(a);
  json_decref(b);
}

static void find(void **state)
{
  (void)state;
  struct jspec spec[] = {JSPEC_STR("a", 0, NULL, 1), JSPEC_BOOLV("b", 0, NULL), JSPEC_ENDV};
  assert_ptr_equal(jspec_find(spec, "b"), &spec[1]);
  assert_ptr_equal(jspec_find(spec, "a"), &spec[0]);
  assert_null(jspec_find(spec, "c"));
  assert_null(jspec_find(spec, "A"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(string_type),
      cmocka_unit_test(string_nul_refused),
      cmocka_unit_test(string_length_counts_characters),
      cmocka_unit_test(utf8_validity),
      cmocka_unit_test(text_type),
      cmocka_unit_test(enum_type),
      cmocka_unit_test(enum_set_type),
      cmocka_unit_test(int_type),
      cmocka_unit_test(money_type),
      cmocka_unit_test(bool_type),
      cmocka_unit_test(date_type),
      cmocka_unit_test(instant_type),
      cmocka_unit_test(id_type),
      cmocka_unit_test(currency_type),
      cmocka_unit_test(email_type),
      cmocka_unit_test(custom_type),
      cmocka_unit_test(required_in_create_only),
      cmocka_unit_test(nullable),
      cmocka_unit_test(create_only),
      cmocka_unit_test(unknown_fields),
      cmocka_unit_test(all_errors_in_one_pass),
      cmocka_unit_test(nested_prefix),
      cmocka_unit_test(return_value_counts_only_new_errors),
      cmocka_unit_test(null_body_is_empty_object),
      cmocka_unit_test(body_not_an_object),
      cmocka_unit_test(present_and_null_reset),
      cmocka_unit_test(find),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
