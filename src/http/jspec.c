/* Request-body validation against declared specs; collects every error. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "arc/dates.h"
#include "arc/jspec.h"

size_t jspec_utf8_len(const char *s)
{
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80)
      n++;
  return n;
}

int jspec_utf8_valid(const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  while (p < end) {
    unsigned c = *p++;
    size_t more;
    unsigned min;
    if (c == 0)
      return 0;
    if (c < 0x80)
      continue;
    if (c >= 0xC2 && c <= 0xDF)
      more = 1, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
      more = 2, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
      more = 3, min = 0x10000;
    else
      return 0;
    if ((size_t)(end - p) < more)
      return 0;
    unsigned cp = c & (0x3Fu >> more);
    for (size_t i = 0; i < more; i++) {
      if ((p[i] & 0xC0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    /* Overlong forms, UTF-16 surrogates and values past U+10FFFF. */
    if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return 0;
    p += more;
  }
  return 1;
}

int jspec_is_id(const char *s)
{
  size_t len = strlen(s);
  if (len == 0 || len > 18 || s[0] == '0')
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!isdigit((unsigned char)s[i]))
      return 0;
  return 1;
}

int jspec_is_currency(const char *s)
{
  return strlen(s) == 3 && isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) &&
         isupper((unsigned char)s[2]);
}

int jspec_is_email(const char *s)
{
  /* Deliberately loose: one '@' with something on each side, a dot in the
   * domain, no spaces.  Deliverability is the mail system's business. */
  const char *at = strchr(s, '@');
  if (!at || at == s || strchr(at + 1, '@') || strlen(s) > 254)
    return 0;
  const char *dot = strrchr(at + 1, '.');
  if (!dot || dot == at + 1 || dot[1] == '\0')
    return 0;
  for (const char *p = s; *p; p++)
    if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20)
      return 0;
  return 1;
}

const struct jspec *jspec_find(const struct jspec *spec, const char *name)
{
  for (; spec->name; spec++)
    if (strcmp(spec->name, name) == 0)
      return spec;
  return NULL;
}

static int in_values(const char *const *values, const char *s)
{
  for (; *values; values++)
    if (strcmp(*values, s) == 0)
      return 1;
  return 0;
}

static void list_values(const char *const *values, char *buf, size_t size)
{
  size_t used = 0;
  buf[0] = '\0';
  for (; *values && used < size; values++)
    used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", *values);
}

static void set_str(struct jspec *s, const char *v)
{
  if (s->target)
    *(const char **)s->target = v;
}

/* Validates one present, non-null value. */
static void check_value(struct jspec *s, const json_t *v, const char *field, struct field_errors *fe)
{
  char buf[512];
  switch (s->type) {
  case JSPEC_STRING:
  case JSPEC_TEXT: {
    if (!json_is_string(v)) {
      field_error(fe, field, "must be a string");
      return;
    }
    const char *str = json_string_value(v);
    if (json_string_length(v) != strlen(str)) {
      field_error(fe, field, "must not contain NUL characters");
      return;
    }
    if (s->type == JSPEC_STRING) {
      const char *p = str;
      while (isspace((unsigned char)*p))
        p++;
      if (*p == '\0') {
        field_error(fe, field, "must not be empty");
        return;
      }
    }
    if (s->max > 0 && jspec_utf8_len(str) > (size_t)s->max) {
      field_error(fe, field, "must be at most %lld characters", (long long)s->max);
      return;
    }
    set_str(s, str);
    return;
  }
  case JSPEC_ENUM:
    if (!json_is_string(v) || !in_values(s->values, json_string_value(v))) {
      list_values(s->values, buf, sizeof buf);
      field_error(fe, field, "must be one of: %s", buf);
      return;
    }
    set_str(s, json_string_value(v));
    return;
  case JSPEC_ENUM_SET: {
    list_values(s->values, buf, sizeof buf);
    if (!json_is_array(v)) {
      field_error(fe, field, "must be an array of: %s", buf);
      return;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) {
      char item_field[200];
      snprintf(item_field, sizeof item_field, "%s[%zu]", field, i);
      if (!json_is_string(item) || !in_values(s->values, json_string_value(item))) {
        field_error(fe, item_field, "must be one of: %s", buf);
        return;
      }
      for (size_t j = 0; j < i; j++)
        if (json_equal(item, json_array_get(v, j))) {
          field_error(fe, item_field, "is listed twice");
          return;
        }
    }
    if (s->target)
      *(const json_t **)s->target = v;
    return;
  }
  case JSPEC_INT:
  case JSPEC_MONEY: {
    if (!json_is_integer(v)) {
      field_error(fe, field, s->type == JSPEC_MONEY
                                 ? "must be an integer number of minor units (cents), not a string or fraction"
                                 : "must be an integer");
      return;
    }
    json_int_t n = json_integer_value(v);
    if (n < s->min || n > s->max) {
      field_error(fe, field, "must be between %lld and %lld", (long long)s->min, (long long)s->max);
      return;
    }
    if (s->target)
      *(int64_t *)s->target = (int64_t)n;
    return;
  }
  case JSPEC_BOOL:
    if (!json_is_boolean(v)) {
      field_error(fe, field, "must be true or false");
      return;
    }
    if (s->target)
      *(int *)s->target = json_is_true(v);
    return;
  case JSPEC_DATE:
    if (!json_is_string(v) || !date_is_valid(json_string_value(v))) {
      field_error(fe, field, "must be a date YYYY-MM-DD");
      return;
    }
    set_str(s, json_string_value(v));
    return;
  case JSPEC_INSTANT:
    if (!json_is_string(v) || !instant_is_valid(json_string_value(v))) {
      field_error(fe, field, "must be an RFC 3339 date-time such as 2026-01-31T14:05:00Z");
      return;
    }
    set_str(s, json_string_value(v));
    return;
  case JSPEC_ID:
    if (!json_is_string(v) || !jspec_is_id(json_string_value(v))) {
      field_error(fe, field, "must be an id string");
      return;
    }
    set_str(s, json_string_value(v));
    return;
  case JSPEC_CURRENCY:
    if (!json_is_string(v) || !jspec_is_currency(json_string_value(v))) {
      field_error(fe, field, "must be an ISO 4217 currency code such as USD");
      return;
    }
    set_str(s, json_string_value(v));
    return;
  case JSPEC_EMAIL:
    if (!json_is_string(v) || !jspec_is_email(json_string_value(v))) {
      field_error(fe, field, "must be an e-mail address");
      return;
    }
    set_str(s, json_string_value(v));
    return;
  case JSPEC_CUSTOM: {
    size_t before = fe->list ? json_array_size(fe->list) : 0;
    s->check(v, field, fe);
    size_t after = fe->list ? json_array_size(fe->list) : 0;
    if (after == before && s->target)
      *(const json_t **)s->target = v;
    return;
  }
  case JSPEC_END:
    return;
  }
}

int jspec_parse(const json_t *obj, struct jspec *spec, enum jspec_mode mode, const char *prefix,
                struct field_errors *fe)
{
  size_t errors_before = fe->list ? json_array_size(fe->list) : 0;
  char field[160];
  if (obj && !json_is_object(obj)) {
    field_error(fe, *prefix ? prefix : "(body)", "must be a JSON object");
    return 0;
  }
  /* Unknown fields first, in the body's order. */
  if (obj) {
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
      if (!jspec_find(spec, key)) {
        snprintf(field, sizeof field, "%s%s%s", prefix, *prefix ? "." : "", key);
        field_error(fe, field, "is not a known field");
      }
    }
  }
  for (struct jspec *s = spec; s->name; s++) {
    snprintf(field, sizeof field, "%s%s%s", prefix, *prefix ? "." : "", s->name);
    const json_t *v = obj ? json_object_get(obj, s->name) : NULL;
    s->present = v != NULL;
    s->is_null = v && json_is_null(v);
    if (!v) {
      if (mode == JSPEC_CREATE && (s->flags & JSPEC_REQUIRED))
        field_error(fe, field, "is required");
      continue;
    }
    if (mode == JSPEC_PATCH && (s->flags & JSPEC_CREATE_ONLY)) {
      field_error(fe, field, "cannot be changed");
      continue;
    }
    if (json_is_null(v)) {
      if (!(s->flags & JSPEC_NULLABLE) || (mode == JSPEC_CREATE && (s->flags & JSPEC_REQUIRED)))
        field_error(fe, field, "must not be null");
      continue;
    }
    check_value(s, v, field, fe);
  }
  size_t errors_after = fe->list ? json_array_size(fe->list) : 0;
  return errors_after == errors_before;
}
