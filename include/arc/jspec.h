/* Request-body specs: declare the fields a body may carry, next to the
 * handler, and validate it in one pass that collects every bad field.
 * No libmicrohttpd and no database in here, so it is unit-tested alone. */
#ifndef ARC_JSPEC_H
#define ARC_JSPEC_H

#include <stdint.h>
#include <jansson.h>

#include "arc/problem.h"

/* The largest amount JSON clients can carry exactly (2^53 - 1). */
#define ARC_MONEY_MAX INT64_C(9007199254740991)

enum jspec_type {
  JSPEC_END = 0,
  JSPEC_STRING,   /* target: const char ** (borrowed from the body) */
  JSPEC_TEXT,     /* free text: like STRING, may be empty */
  JSPEC_ENUM,     /* target: const char **; values: NULL-terminated list */
  JSPEC_ENUM_SET, /* array of distinct enum values; target: const json_t ** */
  JSPEC_INT,      /* JSON integer in [min, max]; target: int64_t * */
  JSPEC_MONEY,    /* integer minor units in [min, max]; target: int64_t * */
  JSPEC_BOOL,     /* target: int * */
  JSPEC_DATE,     /* "YYYY-MM-DD", a real calendar date; target: const char ** */
  JSPEC_INSTANT,  /* RFC 3339 with offset; target: const char ** */
  JSPEC_ID,       /* an id: decimal digits as a string; target: const char ** */
  JSPEC_CURRENCY, /* ISO 4217 code: three upper-case letters; target: const char ** */
  JSPEC_EMAIL,    /* target: const char ** */
  JSPEC_CUSTOM,   /* check(value, field, fe) validates; target: const json_t ** */
};

/* Flags. */
#define JSPEC_REQUIRED 1u     /* must be present when creating */
#define JSPEC_NULLABLE 2u     /* null allowed (clears the field) */
#define JSPEC_CREATE_ONLY 4u  /* may not be changed by PATCH */

/* Modes. */
enum jspec_mode { JSPEC_CREATE, JSPEC_PATCH };

typedef void (*jspec_check_fn)(const json_t *value, const char *field, struct field_errors *fe);

struct jspec {
  const char *name;
  enum jspec_type type;
  unsigned flags;
  void *target;                /* may be NULL when only validity matters */
  int64_t min, max;            /* INT, MONEY; STRING/TEXT: max length in characters */
  const char *const *values;   /* ENUM, ENUM_SET */
  jspec_check_fn check;        /* CUSTOM */
  int present;                 /* out: the field was in the body */
  int is_null;                 /* out: it was null */
};

#define JSPEC_STR(n, fl, tgt, maxlen) {.name = (n), .type = JSPEC_STRING, .flags = (fl), .target = (tgt), .max = (maxlen)}
#define JSPEC_TXT(n, fl, tgt, maxlen) {.name = (n), .type = JSPEC_TEXT, .flags = (fl), .target = (tgt), .max = (maxlen)}
#define JSPEC_ENUMV(n, fl, tgt, vals) {.name = (n), .type = JSPEC_ENUM, .flags = (fl), .target = (tgt), .values = (vals)}
#define JSPEC_SETV(n, fl, tgt, vals) {.name = (n), .type = JSPEC_ENUM_SET, .flags = (fl), .target = (tgt), .values = (vals)}
#define JSPEC_INTV(n, fl, tgt, lo, hi) {.name = (n), .type = JSPEC_INT, .flags = (fl), .target = (tgt), .min = (lo), .max = (hi)}
#define JSPEC_MONEYV(n, fl, tgt, lo, hi) {.name = (n), .type = JSPEC_MONEY, .flags = (fl), .target = (tgt), .min = (lo), .max = (hi)}
#define JSPEC_BOOLV(n, fl, tgt) {.name = (n), .type = JSPEC_BOOL, .flags = (fl), .target = (tgt)}
#define JSPEC_DATEV(n, fl, tgt) {.name = (n), .type = JSPEC_DATE, .flags = (fl), .target = (tgt)}
#define JSPEC_INSTANTV(n, fl, tgt) {.name = (n), .type = JSPEC_INSTANT, .flags = (fl), .target = (tgt)}
#define JSPEC_IDV(n, fl, tgt) {.name = (n), .type = JSPEC_ID, .flags = (fl), .target = (tgt)}
#define JSPEC_CURRENCYV(n, fl, tgt) {.name = (n), .type = JSPEC_CURRENCY, .flags = (fl), .target = (tgt)}
#define JSPEC_EMAILV(n, fl, tgt) {.name = (n), .type = JSPEC_EMAIL, .flags = (fl), .target = (tgt)}
#define JSPEC_CUSTOMV(n, fl, tgt, fn) {.name = (n), .type = JSPEC_CUSTOM, .flags = (fl), .target = (tgt), .check = (fn)}
#define JSPEC_ENDV {.name = NULL, .type = JSPEC_END}

/* Validates OBJ (NULL is taken as {}) against SPEC.  Unknown fields are
 * errors.  PREFIX ("" at the top) is prepended to field names, so nested
 * objects report "allocations[1].amount".  Every problem goes to FE.
 * Returns 1 when the body is valid. */
int jspec_parse(const json_t *obj, struct jspec *spec, enum jspec_mode mode, const char *prefix,
                struct field_errors *fe);

/* The spec entry named NAME, or NULL. */
const struct jspec *jspec_find(const struct jspec *spec, const char *name);

/* Single-value checks, shared with query-string parsing. */
int jspec_is_id(const char *s);
int jspec_is_currency(const char *s);
int jspec_is_email(const char *s);
/* 1 when the LEN bytes at S are well-formed UTF-8 without NUL (query
 * arguments and path segments; JSON bodies are checked by jansson). */
int jspec_utf8_valid(const char *s, size_t len);
/* Counts characters (UTF-8 code points) of a valid UTF-8 string. */
size_t jspec_utf8_len(const char *s);

#endif
