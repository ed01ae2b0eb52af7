/* RFC 9457 problem replies built from problem_types.def. */
#include <stdarg.h>
#include <stdio.h>

#include "arc/http.h"
#include "arc/problem.h"

static const struct {
  unsigned status;
  const char *slug;
  const char *title;
} problems[] = {
#define PROBLEM(id, status, slug, title) {status, slug, title},
#include "arc/problem_types.def"
#undef PROBLEM
};

unsigned problem_status(enum problem_type t) { return problems[t].status; }
const char *problem_slug(enum problem_type t) { return problems[t].slug; }
const char *problem_title(enum problem_type t) { return problems[t].title; }

static json_t *problem_body(enum problem_type t, const char *detail)
{
  char type[96];
  snprintf(type, sizeof type, "urn:arcollect:problem:%s", problems[t].slug);
  json_t *body = json_pack("{s:s, s:s, s:i}", "type", type, "title", problems[t].title, "status",
                           (int)problems[t].status);
  if (detail)
    json_object_set_new(body, "detail", json_string(detail));
  return body;
}

unsigned reply_problem(struct reply *rp, enum problem_type t, const char *detail)
{
  reply_clear(rp);
  rp->is_problem = 1;
  return reply_json(rp, problems[t].status, problem_body(t, detail));
}

unsigned reply_problemf(struct reply *rp, enum problem_type t, const char *fmt, ...)
{
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  return reply_problem(rp, t, detail);
}

unsigned reply_stale(struct reply *rp, const char *what, long long version)
{
  return reply_problemf(rp, PROBLEM_PRECONDITION_FAILED,
                        "If-Match does not name the %s as it is now (ETag \"%lld\"); read it again and retry",
                        what, version);
}

void field_error(struct field_errors *fe, const char *field, const char *fmt, ...)
{
  char message[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  if (!fe->list)
    fe->list = json_array();
  json_array_append_new(fe->list, json_pack("{s:s, s:s}", "field", field, "message", message));
}

void field_errors_clear(struct field_errors *fe)
{
  json_decref(fe->list);
  fe->list = NULL;
}

unsigned reply_validation(struct reply *rp, struct field_errors *fe)
{
  size_t n = fe->list ? json_array_size(fe->list) : 0;
  char detail[128];
  snprintf(detail, sizeof detail, "%zu field%s failed validation", n, n == 1 ? "" : "s");
  unsigned status = reply_problem(rp, PROBLEM_VALIDATION, detail);
  json_object_set_new(rp->json, "errors", fe->list ? fe->list : json_array());
  fe->list = NULL;
  return status;
}

unsigned reply_field_error(struct reply *rp, const char *field, const char *message)
{
  struct field_errors fe = {0};
  field_error(&fe, field, "%s", message);
  return reply_validation(rp, &fe);
}
