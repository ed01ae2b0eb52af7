/* RFC 9457 problem details, from the registry in problem_types.def. */
#ifndef ARC_PROBLEM_H
#define ARC_PROBLEM_H

#include <jansson.h>

struct reply;

enum problem_type {
#define PROBLEM(id, status, slug, title) PROBLEM_##id,
#include "arc/problem_types.def"
#undef PROBLEM
  PROBLEM_COUNT
};

unsigned problem_status(enum problem_type t);
const char *problem_slug(enum problem_type t);
const char *problem_title(enum problem_type t);

/* Fills RP with a problem of type T; DETAIL may be NULL.  Returns the status. */
unsigned reply_problem(struct reply *rp, enum problem_type t, const char *detail);
unsigned reply_problemf(struct reply *rp, enum problem_type t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 412 for a write whose If-Match names another version of WHAT than
 * VERSION, in the one wording every resource uses. */
unsigned reply_stale(struct reply *rp, const char *what, long long version);

/* A list of field errors collected during validation. */
struct field_errors {
  json_t *list; /* array of {field, message}; NULL until the first error */
};

void field_error(struct field_errors *fe, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int field_errors_any(const struct field_errors *fe) { return fe->list != NULL; }
void field_errors_clear(struct field_errors *fe);

/* 422 validation problem listing every collected error; takes FE's list. */
unsigned reply_validation(struct reply *rp, struct field_errors *fe);
/* 422 with a single field error. */
unsigned reply_field_error(struct reply *rp, const char *field, const char *message);

#endif
