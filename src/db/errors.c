/* Database errors → problem replies.  PostgreSQL's own messages never reach
 * a client; only the messages of our own ARxxx errors (written in the
 * migrations for clients to read) do. */
#include <stdio.h>
#include <string.h>

#include "arc/db.h"
#include "arc/http.h"
#include "arc/problem.h"

/* The field a constraint guards: constraints are named
 * <table>_<field>_{key,fkey,check}. */
static void constraint_field(const struct db_error *e, char *out, size_t size)
{
  const char *c = e->constraint;
  size_t tl = strlen(e->table);
  if (tl && strncmp(c, e->table, tl) == 0 && c[tl] == '_')
    c += tl + 1;
  snprintf(out, size, "%s", c);
  static const char *const suffixes[] = {"_fkey", "_key", "_check", "_excl", NULL};
  for (size_t i = 0; suffixes[i]; i++) {
    size_t ol = strlen(out), sl = strlen(suffixes[i]);
    if (ol > sl && strcmp(out + ol - sl, suffixes[i]) == 0) {
      out[ol - sl] = '\0';
      break;
    }
  }
}

static unsigned unavailable(struct reply *rp, const char *detail)
{
  reply_problem(rp, PROBLEM_UNAVAILABLE, detail);
  reply_header(rp, "Retry-After", "2");
  return rp->status;
}

/* arc_raise_fields: MESSAGE is the JSON list of {field, message}. */
static unsigned fields_reply(struct reply *rp, const char *message)
{
  struct field_errors fe = {0};
  json_t *list = json_loads(message, 0, NULL);
  size_t i;
  json_t *p;
  json_array_foreach(list, i, p) {
    const char *field = json_string_value(json_object_get(p, "field"));
    const char *msg = json_string_value(json_object_get(p, "message"));
    if (field && msg)
      field_error(&fe, field, "%s", msg);
  }
  json_decref(list);
  if (!field_errors_any(&fe))
    field_error(&fe, "(body)", "is not valid");
  return reply_validation(rp, &fe);
}

unsigned db_error_reply(struct db *db, struct reply *rp)
{
  const struct db_error *e = &db->err;
  const char *st = e->sqlstate;
  char field[64];
  if (!db->healthy || strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
      strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0)
    return unavailable(rp, "the database is unreachable; retry shortly");
  if (strcmp(st, "57014") == 0 || strcmp(st, "55P03") == 0 || strcmp(st, "40001") == 0 ||
      strcmp(st, "40P01") == 0)
    return unavailable(rp, "the database is busy; retry shortly");
  if (strncmp(st, "AR", 2) == 0) {
    if (strcmp(st, "AR404") == 0)
      return reply_problem(rp, PROBLEM_NOT_FOUND, e->message);
    if (strcmp(st, "AR412") == 0)
      return reply_problem(rp, PROBLEM_PRECONDITION_FAILED, e->message);
    if (strcmp(st, "AR409") == 0 || strcmp(st, "AR410") == 0) {
      reply_problem(rp, strcmp(st, "AR410") == 0 ? PROBLEM_OVER_ALLOCATION : PROBLEM_CONFLICT,
                    e->message);
      if (e->column[0])
        json_object_set_new(rp->json, "errors",
                            json_pack("[{s:s, s:s}]", "field", e->column, "message", e->message));
      return rp->status;
    }
    if (strcmp(st, "AR422") == 0 && strcmp(e->column, "*") == 0)
      return fields_reply(rp, e->message);
    if (strcmp(st, "AR422") == 0)
      return reply_field_error(rp, e->column[0] ? e->column : "(body)", e->message);
  }
  if (strcmp(st, "23505") == 0) {
    constraint_field(e, field, sizeof field);
    reply_problemf(rp, PROBLEM_DUPLICATE, "another record already has this %s", field);
    json_object_set_new(rp->json, "errors",
                        json_pack("[{s:s, s:s}]", "field", field, "message", "is already taken"));
    return rp->status;
  }
  if (strcmp(st, "23503") == 0) {
    constraint_field(e, field, sizeof field);
    return reply_field_error(rp, field, "refers to a record that does not exist");
  }
  if (strcmp(st, "23514") == 0 || strcmp(st, "23502") == 0) {
    if (e->constraint[0])
      constraint_field(e, field, sizeof field);
    else
      snprintf(field, sizeof field, "%s", e->column[0] ? e->column : "(body)");
    return reply_field_error(rp, field, "is not allowed by the rules for this record");
  }
  if (strncmp(st, "22", 2) == 0)
    return reply_problem(rp, PROBLEM_VALIDATION, "a value is out of range or malformed");
  return reply_problem(rp, PROBLEM_INTERNAL, "unexpected database error; see the server log");
}
