/* GET /v1/events: the feed of every change, in transaction order, with a
 * cursor that never skips an event (see migrations/0003_events.sql). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/events.h"
#include "arc/handlers.h"
#include "arc/resource.h"

int events_cursor_valid(const char *s)
{
  const char *dash = strchr(s, '-');
  if (!dash || dash == s || dash - s > 20 || strlen(dash + 1) == 0 || strlen(dash + 1) > 18)
    return 0;
  for (const char *p = s; *p; p++)
    if (p != dash && !isdigit((unsigned char)*p))
      return 0;
  return dash[1] != '0';
}

/* "a,b,c" → a PostgreSQL text[] literal of plain event type names. */
static char *types_array(const char *list, struct field_errors *fe)
{
  size_t n = strlen(list);
  char *out = malloc(n + 3);
  size_t o = 0;
  out[o++] = '{';
  for (const char *p = list; *p; p++) {
    if (!(islower((unsigned char)*p) || *p == '_' || *p == '.' || *p == ',')) {
      field_error(fe, "type", "must be event types such as payment.received, separated by commas");
      free(out);
      return NULL;
    }
    out[o++] = *p;
  }
  out[o++] = '}';
  out[o] = '\0';
  return out;
}

/* The feed page: unlike other lists, next_cursor is always where to go on
 * (the last event's position, or the cursor given when nothing is new), and
 * has_more says whether to ask again at once. */
static unsigned reply_feed(struct reply *rp, const PGresult *r, long limit, const char *cursor)
{
  int n = PQntuples(r);
  int shown = n > limit ? (int)limit : n;
  const char *next = shown ? PQgetvalue(r, shown - 1, 0) : cursor;
  char tail[256];
  if (next)
    snprintf(tail, sizeof tail, ",\"next_cursor\":\"%.200s\",\"has_more\":%s}", next, n > shown ? "true" : "false");
  else
    snprintf(tail, sizeof tail, ",\"next_cursor\":null,\"has_more\":false}");
  return reply_text(rp, 200, page_json(r, shown, tail));
}

unsigned events_list(struct request *rq, struct reply *rp)
{
  static const char *const known[] = {"limit", "cursor", "type", "customer_id", "resource_type", NULL};
  struct field_errors fe = {0};
  struct page pg;
  const char *customer_id, *resource_type, *type = request_query(rq, "type");
  query_known(rq, known, &fe);
  query_limit(rq, &pg, &fe);
  const char *cursor = request_query(rq, "cursor");
  if (cursor && !events_cursor_valid(cursor)) {
    field_error(&fe, "cursor", "must be a next_cursor value from a previous page");
    cursor = NULL;
  }
  query_id(rq, "customer_id", &customer_id, &fe);
  query_string(rq, "resource_type", &resource_type, &fe);
  char *types = type ? types_array(type, &fe) : NULL;
  if (field_errors_any(&fe)) {
    free(types);
    return reply_validation(rp, &fe);
  }
  const char *params[] = {cursor, pg.limit_plus_one, types, customer_id, resource_type};
  /* ?customer_id has a statement of its own (events_customer_idx). */
  const char *stmt = customer_id ? "events_select_feed_by_customer" : "events_select_feed";
  PGresult *r = db_exec(rq->db, stmt, 5, params);
  free(types);
  if (!r)
    return db_error_reply(rq->db, rp);
  reply_feed(rp, r, pg.limit, cursor);
  PQclear(r);
  return rp->status;
}
