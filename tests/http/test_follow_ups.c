/* /v1/follow-ups: the worklist order (P9), its filters and keyset pages,
 * callable_now (P15), what a person does with a follow-up (done, snoozed,
 * dismissed), the follow_up.* events, and the call sheet's open follow-ups.
 * Follow-ups are written directly with SQL, as the sweep would write them,
 * so these tests do not depend on the sweep's rules. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The Monday of last week (a Monday in the past). */
static void last_monday(char out[16])
{
  char *d = harness_sql("SELECT to_char(date_trunc('week', (now() AT TIME ZONE '%s')::date)::date - 7, 'YYYY-MM-DD')",
                        tz());
  snprintf(out, 16, "%s", d);
  free(d);
}

/* A customer named NAME with the extra JSON members EXTRA ("" for none). */
static void customer(char out[32], const char *name, const char *extra)
{
  char body[512];
  snprintf(body, sizeof body, "{\"name\": \"%s\"%s%s}", name, *extra ? ", " : "", extra);
  json_t *j = create_ok("/v1/customers", body);
  snprintf(out, 32, "%s", jstr(j, "id"));
  json_decref(j);
}

/* A follow-up as the sweep writes one. */
static void follow_up(char out[32], const char *cus, const char *reason, const char *due_on, long long amount,
                      const char *assignee)
{
  static int cause;
  char *id = harness_sql("INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, amount_overdue, currency, "
                         "assignee) VALUES (%s, '%s', 'test:%d', '%s', %lld, 'USD', '%s') RETURNING id",
                         cus, reason, ++cause, due_on, amount, assignee);
  assert_non_null(id);
  snprintf(out, 32, "%s", id);
  free(id);
}

/* The ids of a JSON array of documents, as "a,b,c" (appended to OUT). */
static void append_ids(const json_t *array, char *out, size_t size)
{
  size_t used = strlen(out), i;
  json_t *e;
  json_array_foreach(array, i, e) used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "",
                                                           jstr(e, "id"));
}

/* GET /v1/follow-ups?QUERY (one page, limit 200) as ids "a,b,c". */
static void worklist(char *out, size_t size, const char *query)
{
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/follow-ups?limit=200&%s", query);
  assert_status(&r, 200);
  assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
  out[0] = '\0';
  append_ids(json_object_get(r.json, "data"), out, size);
  http_resp_clear(&r);
}

/* The document of follow-up ID as listed by QUERY (NULL when absent). */
static json_t *listed(const char *id, const char *query)
{
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/follow-ups?limit=200&%s", query);
  assert_status(&r, 200);
  size_t i;
  json_t *e, *found = NULL;
  json_array_foreach(json_object_get(r.json, "data"), i, e) if (strcmp(jstr(e, "id"), id) == 0) found =
      json_incref(e);
  http_resp_clear(&r);
  return found;
}

static json_t *get_ok(const char *id)
{
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/follow-ups/%s", id);
  assert_status(&r, 200);
  json_t *j = json_incref(r.json);
  http_resp_clear(&r);
  return j;
}

static void join(char *out, size_t size, const char *const *ids, size_t n)
{
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n; i++)
    used += (size_t)snprintf(out + used, size - used, "%s%s", i ? "," : "", ids[i]);
}

/* P9 on one Monday and the Tuesday after: amount first, then customers
 * whose contact days include the day, then reason priority, due_on, id. */
static void order(void **state)
{
  (void)state;
  char mon[16], tue[16], due[16], due4[16], due_earlier[16], due_earliest[16], due_tue[16], q[128];
  last_monday(mon);
  date_plus(tue, mon, 1);
  date_plus(due, mon, -3);
  date_plus(due4, mon, -4);
  date_plus(due_earlier, mon, -5);
  date_plus(due_earliest, mon, -10);
  date_plus(due_tue, mon, 1);

  char a[32], b[32], c[32], d[32], e[32], f[32], g[32], h[32];
  customer(a, "Order A", "\"kind\": \"commercial\"");
  customer(b, "Order B", "\"kind\": \"consumer\"");
  customer(c, "Order C", "\"kind\": \"commercial\", \"preferred_contact_days\": [\"tue\"]");
  customer(d, "Order D", "\"kind\": \"commercial\"");
  customer(e, "Order E", "\"kind\": \"consumer\"");
  customer(f, "Order F", "\"kind\": \"commercial\"");
  customer(g, "Order G", "\"kind\": \"commercial\"");
  customer(h, "Order H", "\"kind\": \"commercial\"");

  char x_big[32], d_broken[32], d_retry[32], d_thanks[32], e_broken[32], a_overdue[32], a_retry[32], c_retry[32],
      g_receipt[32], h_receipt[32], f_check[32], a_check[32], h_later[32], other[32];
  /* Made in an order unlike the expected one, so id order proves nothing. */
  follow_up(a_check, a, "check_in", due4, 1000, "order");
  follow_up(c_retry, c, "retry", due, 1000, "order");
  follow_up(d_thanks, d, "thank_you", due_earliest, 2000, "order");
  follow_up(e_broken, e, "promise_broken", due, 2000, "order");
  follow_up(a_retry, a, "retry", due, 1000, "order");
  follow_up(d_retry, d, "retry", due_earlier, 2000, "order");
  follow_up(g_receipt, g, "confirm_receipt", due, 1000, "order");
  follow_up(h_receipt, h, "confirm_receipt", due, 1000, "order");
  follow_up(f_check, f, "check_in", due_earlier, 1000, "order");
  follow_up(d_broken, d, "promise_broken", due, 2000, "order");
  follow_up(a_overdue, a, "overdue", due, 1000, "order");
  follow_up(x_big, b, "overdue", due, 9000, "order");
  follow_up(h_later, h, "thank_you", due_tue, 500, "order");
  follow_up(other, a, "resolve_dispute", due, 1000000, "someone-else");
  (void)other;

  char want[1024], got[1024];
  /* Monday: commercial accounts (A, D, F, G, H) are preferred; C wants Tuesdays. */
  const char *monday[] = {x_big,     d_broken,  d_retry, d_thanks, e_broken, a_overdue,
                          a_retry,   g_receipt, h_receipt, f_check, a_check,  c_retry};
  join(want, sizeof want, monday, sizeof monday / sizeof monday[0]);
  snprintf(q, sizeof q, "assignee=order&due_on=%s", mon);
  worklist(got, sizeof got, q);
  assert_string_equal(want, got);

  /* Tuesday: only C is preferred; at 2000 nobody is, so D and E's broken
   * promises come first (same due day: by id, E's is older), then D's retry
   * and thanks.  The thank-you due on Tuesday joins the list last. */
  const char *tuesday[] = {x_big,   e_broken,  d_broken,  d_retry, d_thanks, c_retry, a_overdue,
                           a_retry, g_receipt, h_receipt, f_check, a_check,  h_later};
  join(want, sizeof want, tuesday, sizeof tuesday / sizeof tuesday[0]);
  snprintf(q, sizeof q, "assignee=order&due_on=%s", tue);
  worklist(got, sizeof got, q);
  assert_string_equal(want, got);

  /* preferred_today follows the day asked for. */
  snprintf(q, sizeof q, "assignee=order&due_on=%s", mon);
  json_t *j = listed(a_retry, q);
  assert_true(json_is_true(json_object_get(j, "preferred_today")));
  json_decref(j);
  j = listed(c_retry, q);
  assert_true(json_is_false(json_object_get(j, "preferred_today")));
  json_decref(j);
  snprintf(q, sizeof q, "assignee=order&due_on=%s", tue);
  j = listed(a_retry, q);
  assert_true(json_is_false(json_object_get(j, "preferred_today")));
  assert_int_equal(jint(j, "priority"), 4);
  json_decref(j);
  j = listed(c_retry, q);
  assert_true(json_is_true(json_object_get(j, "preferred_today")));
  json_decref(j);
  j = listed(d_broken, q);
  assert_int_equal(jint(j, "priority"), 1);
  assert_string_equal(jstr(j, "customer_name"), "Order D");
  json_decref(j);
  j = listed(d_thanks, q);
  assert_int_equal(jint(j, "priority"), 9);
  json_decref(j);
}

/* due_on (default today: due on or before it), assignee, reason,
 * customer_id and status (default open) each narrow the list. */
static void filters(void **state)
{
  (void)state;
  char today[16], yesterday[16], tomorrow[16], week[16], q[256], want[512], got[512];
  day(today, 0);
  day(yesterday, -1);
  day(tomorrow, 1);
  day(week, 7);
  char a[32], b[32];
  customer(a, "Filter A", "");
  customer(b, "Filter B", "");
  char due_yesterday[32], due_today[32], due_tomorrow[32], b_retry[32], b_other[32], b_done[32], b_snoozed[32],
      b_dismissed[32];
  follow_up(due_yesterday, a, "overdue", yesterday, 300, "filters");
  follow_up(due_today, a, "retry", today, 200, "filters");
  follow_up(due_tomorrow, a, "confirm_receipt", tomorrow, 100, "filters");
  follow_up(b_retry, b, "retry", yesterday, 50, "filters");
  follow_up(b_other, b, "overdue", yesterday, 50, "filters-other");
  follow_up(b_done, b, "check_in", yesterday, 10, "filters");
  follow_up(b_snoozed, b, "thank_you", yesterday, 10, "filters");
  follow_up(b_dismissed, b, "resolve_dispute", yesterday, 10, "filters");
  harness_sql("UPDATE follow_ups SET status = 'done', closed_reason = 'done', closed_at = now() WHERE id = %s", b_done);
  harness_sql("UPDATE follow_ups SET status = 'snoozed', snoozed_until = '%s' WHERE id = %s", week, b_snoozed);
  harness_sql("UPDATE follow_ups SET status = 'dismissed', closed_reason = 'dismissed', closed_at = now() "
              "WHERE id = %s", b_dismissed);

  /* Default: open, due today or before. */
  snprintf(want, sizeof want, "%s,%s,%s", due_yesterday, due_today, b_retry);
  worklist(got, sizeof got, "assignee=filters");
  assert_string_equal(want, got);
  snprintf(q, sizeof q, "assignee=filters&due_on=%s", today);
  worklist(got, sizeof got, q);
  assert_string_equal(want, got);
  /* Tomorrow's list has tomorrow's too; yesterday's only yesterday's. */
  snprintf(want, sizeof want, "%s,%s,%s,%s", due_yesterday, due_today, due_tomorrow, b_retry);
  snprintf(q, sizeof q, "assignee=filters&due_on=%s", tomorrow);
  worklist(got, sizeof got, q);
  assert_string_equal(want, got);
  snprintf(want, sizeof want, "%s,%s", due_yesterday, b_retry);
  snprintf(q, sizeof q, "assignee=filters&due_on=%s", yesterday);
  worklist(got, sizeof got, q);
  assert_string_equal(want, got);

  snprintf(want, sizeof want, "%s", b_other);
  worklist(got, sizeof got, "assignee=filters-other");
  assert_string_equal(want, got);
  snprintf(want, sizeof want, "%s,%s", due_today, b_retry);
  worklist(got, sizeof got, "assignee=filters&reason=retry");
  assert_string_equal(want, got);
  snprintf(want, sizeof want, "%s,%s", b_other, b_retry); /* overdue before retry */
  snprintf(q, sizeof q, "customer_id=%s", b);
  worklist(got, sizeof got, q);
  assert_string_equal(want, got);
  snprintf(want, sizeof want, "%s", b_retry);
  snprintf(q, sizeof q, "customer_id=%s&assignee=filters&reason=retry", b);
  worklist(got, sizeof got, q);
  assert_string_equal(want, got);
  worklist(got, sizeof got, "assignee=nobody");
  assert_string_equal("", got);

  snprintf(want, sizeof want, "%s", b_done);
  worklist(got, sizeof got, "assignee=filters&status=done");
  assert_string_equal(want, got);
  snprintf(want, sizeof want, "%s", b_snoozed);
  worklist(got, sizeof got, "assignee=filters&status=snoozed");
  assert_string_equal(want, got);
  snprintf(want, sizeof want, "%s", b_dismissed);
  worklist(got, sizeof got, "assignee=filters&status=dismissed");
  assert_string_equal(want, got);
  snprintf(want, sizeof want, "%s,%s,%s", due_yesterday, due_today, b_retry);
  worklist(got, sizeof got, "assignee=filters&status=open");
  assert_string_equal(want, got);

  /* SQL metacharacters in a filter are just text. */
  worklist(got, sizeof got, "assignee=%27%3B%20DROP%20TABLE%20follow_ups%3B--");
  assert_string_equal("", got);
  assert_true(harness_sql_int("SELECT count(*) FROM follow_ups") > 0);
}

/* Walks every page of QUERY with LIMIT and returns the ids; asserts the
 * page sizes and that only the last page has no next_cursor. */
static int walk(char *out, size_t size, const char *query, int limit)
{
  char path[512];
  char *cursor = NULL;
  int pages = 0;
  out[0] = '\0';
  for (;;) {
    struct http_resp r = {0};
    if (cursor)
      snprintf(path, sizeof path, "/v1/follow-ups?%s&limit=%d&cursor=%s", query, limit, cursor);
    else
      snprintf(path, sizeof path, "/v1/follow-ups?%s&limit=%d", query, limit);
    http(&r, "GET", path, ROLE_COLLECTOR, NULL, NULL);
    assert_status(&r, 200);
    free(cursor);
    cursor = NULL;
    pages++;
    const json_t *data = json_object_get(r.json, "data");
    const json_t *next = json_object_get(r.json, "next_cursor");
    append_ids(data, out, size);
    if (json_is_string(next)) {
      assert_int_equal(json_array_size(data), limit);
      cursor = strdup(json_string_value(next));
    } else {
      assert_true(json_is_null(next));
    }
    http_resp_clear(&r);
    if (!cursor)
      return pages;
  }
}

/* 25 follow-ups with ties on every part of the key, pages of 7: the same
 * order as one page, each exactly once. */
static void pages(void **state)
{
  (void)state;
  char mon[16], dues[3][16];
  last_monday(mon);
  date_plus(dues[0], mon, -1);
  date_plus(dues[1], mon, -2);
  date_plus(dues[2], mon, -3);
  static const char *const reasons[] = {"overdue", "retry", "promise_broken", "thank_you", "check_in"};
  char cus[5][32];
  customer(cus[0], "Page 0", "\"kind\": \"commercial\"");
  customer(cus[1], "Page 1", "\"kind\": \"consumer\"");
  customer(cus[2], "Page 2", "\"kind\": \"commercial\", \"preferred_contact_days\": [\"wed\"]");
  customer(cus[3], "Page 3", "\"kind\": \"consumer\", \"preferred_contact_days\": [\"mon\", \"fri\"]");
  customer(cus[4], "Page 4", "\"kind\": \"commercial\"");
  char id[32];
  for (int i = 0; i < 25; i++)
    follow_up(id, cus[i % 5], reasons[(i / 5 + i) % 5], dues[i % 3], (i % 4) * 1000, "pages");

  char query[128], one[1024], paged[1024];
  snprintf(query, sizeof query, "assignee=pages&due_on=%s", mon);
  worklist(one, sizeof one, query);
  assert_int_equal(walk(paged, sizeof paged, query, 7), 4);
  assert_string_equal(one, paged);
  /* Each of the 25 exactly once. */
  assert_int_equal(harness_sql_int("SELECT count(DISTINCT x) FROM unnest(string_to_array('%s', ',')) x", paged), 25);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM unnest(string_to_array('%s', ',')) x", paged), 25);
  /* The one-page order is the worklist order computed independently. */
  char *want = harness_sql(
      "SELECT string_agg(f.id::text, ',' ORDER BY f.amount_overdue DESC, "
      "  (coalesce(c.preferred_contact_days, "
      "            CASE c.kind WHEN 'consumer' THEN ARRAY['thu','fri'] ELSE ARRAY['mon'] END) @> ARRAY['mon']) DESC, "
      "  array_position(ARRAY['promise_broken','installment_missed','overdue','retry','escalation','resolve_dispute',"
      "  'confirm_receipt','check_in','thank_you'], f.reason), f.due_on, f.id) "
      "FROM follow_ups f JOIN customers c ON c.id = f.customer_id WHERE f.assignee = 'pages'");
  assert_string_equal(want, one);
  free(want);
  /* Exactly a page's worth: no empty page after it. */
  assert_int_equal(walk(paged, sizeof paged, query, 25), 1);
  assert_int_equal(walk(paged, sizeof paged, query, 5), 5);
  assert_string_equal(one, paged);
  assert_int_equal(walk(paged, sizeof paged, query, 1), 25);
  assert_string_equal(one, paged);
}

static long long version_of(const char *id)
{
  return harness_sql_int("SELECT version FROM follow_ups WHERE id = %s", id);
}

/* done, snoozed and dismissed; closed ones refuse every further change. */
static void actions(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char today[16], yesterday[16], tomorrow[16], later[16], body[256];
  day(today, 0);
  day(yesterday, -1);
  day(tomorrow, 1);
  day(later, 30);
  char cus[32], done[32], snoozed[32], dismissed[32];
  customer(cus, "Act Ltd", "");
  follow_up(done, cus, "overdue", yesterday, 1000, "act");
  follow_up(snoozed, cus, "retry", yesterday, 1000, "act");
  follow_up(dismissed, cus, "thank_you", yesterday, 1000, "act");

  /* done: closed by the key's actor, now. */
  httpf(&r, "PATCH", ROLE_COLLECTOR, "{\"status\": \"done\", \"note\": \"Paid by card on the phone\"}",
        "/v1/follow-ups/%s", done);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "done");
  assert_string_equal(jstr(r.json, "closed_reason"), "done");
  assert_string_equal(jstr(r.json, "closed_by"), "collector@example.com");
  assert_string_equal(jstr(r.json, "note"), "Paid by card on the phone");
  assert_non_null(jstr(r.json, "closed_at"));
  assert_int_equal(jint(r.json, "version"), 2);
  assert_string_equal(r.etag, "\"2\"");
  assert_int_equal(harness_sql_int("SELECT count(*) FROM follow_ups WHERE id = %s AND closed_at "
                                   "BETWEEN now() - interval '1 minute' AND now()",
                                   done),
                   1);
  http_resp_clear(&r);
  /* Closed: 409, and nothing changes. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"done\"}", "/v1/follow-ups/%s", done);
  assert_problem(&r, 409, "conflict", "status");
  http_resp_clear(&r);
  snprintf(body, sizeof body, "{\"status\": \"snoozed\", \"snoozed_until\": \"%s\"}", later);
  httpf(&r, "PATCH", ROLE_ADMIN, body, "/v1/follow-ups/%s", done);
  assert_problem(&r, 409, "conflict", "status");
  http_resp_clear(&r);
  assert_int_equal(version_of(done), 2);

  /* snoozed: until a later day; out of the worklist until then. */
  snprintf(body, sizeof body, "{\"status\": \"snoozed\", \"snoozed_until\": \"%s\"}", tomorrow);
  httpf(&r, "PATCH", ROLE_MANAGER, body, "/v1/follow-ups/%s", snoozed);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "snoozed");
  assert_string_equal(jstr(r.json, "snoozed_until"), tomorrow);
  assert_true(json_is_null(json_object_get(r.json, "closed_at")));
  assert_true(json_is_null(json_object_get(r.json, "closed_by")));
  http_resp_clear(&r);
  char got[256];
  worklist(got, sizeof got, "assignee=act");
  assert_string_equal(dismissed, got);
  /* A snoozed one can be snoozed again, then done. */
  snprintf(body, sizeof body, "{\"status\": \"snoozed\", \"snoozed_until\": \"%s\"}", later);
  httpf(&r, "PATCH", ROLE_COLLECTOR, body, "/v1/follow-ups/%s", snoozed);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "snoozed_until"), later);
  http_resp_clear(&r);
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"done\"}", "/v1/follow-ups/%s", snoozed);
  assert_status(&r, 200);
  assert_true(json_is_null(json_object_get(r.json, "snoozed_until")));
  assert_string_equal(jstr(r.json, "closed_by"), "admin@example.com");
  http_resp_clear(&r);

  /* dismissed: with why, stored verbatim. */
  const char *note = "Customer's AP said \\\"no\\\"; DROP TABLE follow_ups; -- 100% \\u00e9";
  snprintf(body, sizeof body, "{\"status\": \"dismissed\", \"note\": \"%s\"}", note);
  httpf(&r, "PATCH", ROLE_COLLECTOR, body, "/v1/follow-ups/%s", dismissed);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "dismissed");
  assert_string_equal(jstr(r.json, "closed_reason"), "dismissed");
  assert_string_equal(jstr(r.json, "note"), "Customer's AP said \"no\"; DROP TABLE follow_ups; -- 100% \xc3\xa9");
  http_resp_clear(&r);
  httpf(&r, "PATCH", ROLE_COLLECTOR, "{\"status\": \"dismissed\", \"note\": \"again\"}", "/v1/follow-ups/%s",
        dismissed);
  assert_problem(&r, 409, "conflict", "status");
  http_resp_clear(&r);
  worklist(got, sizeof got, "assignee=act");
  assert_string_equal("", got);

  /* What GET shows is what PATCH answered. */
  json_t *j = get_ok(dismissed);
  assert_string_equal(jstr(j, "closed_by"), "collector@example.com");
  json_decref(j);
}

/* Every bad PATCH: 4xx, and the follow-up unchanged. */
static void patch_errors(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char yesterday[16], today[16], tomorrow[16], path[64];
  day(yesterday, -1);
  day(today, 0);
  day(tomorrow, 1);
  char cus[32], fu[32];
  customer(cus, "Bad Patch Ltd", "");
  follow_up(fu, cus, "overdue", yesterday, 1000, "bad-patch");
  snprintf(path, sizeof path, "/v1/follow-ups/%s", fu);

  char past_body[128], today_body[128], done_until[128], future_body[128];
  snprintf(past_body, sizeof past_body, "{\"status\": \"snoozed\", \"snoozed_until\": \"%s\"}", yesterday);
  snprintf(today_body, sizeof today_body, "{\"status\": \"snoozed\", \"snoozed_until\": \"%s\"}", today);
  snprintf(done_until, sizeof done_until, "{\"status\": \"done\", \"snoozed_until\": \"%s\"}", tomorrow);
  snprintf(future_body, sizeof future_body, "{\"status\": \"snoozed\", \"snoozed_until\": \"%s\"}", tomorrow);
  char long_note[10100];
  snprintf(long_note, sizeof long_note, "{\"status\": \"done\", \"note\": \"%10001d\"}", 7);
  const struct step steps[] = {
      {"no body", "PATCH", path, ROLE_COLLECTOR, NULL, 422, "validation", "status"},
      {"empty object", "PATCH", path, ROLE_COLLECTOR, "{}", 422, "validation", "status"},
      {"a note alone", "PATCH", path, ROLE_COLLECTOR, "{\"note\": \"hi\"}", 422, "validation", "status"},
      {"status open", "PATCH", path, ROLE_COLLECTOR, "{\"status\": \"open\"}", 422, "validation", "status"},
      {"status unknown", "PATCH", path, ROLE_COLLECTOR, "{\"status\": \"finished\"}", 422, "validation", "status"},
      {"status number", "PATCH", path, ROLE_COLLECTOR, "{\"status\": 1}", 422, "validation", "status"},
      {"status null", "PATCH", path, ROLE_COLLECTOR, "{\"status\": null}", 422, "validation", "status"},
      {"snooze without date", "PATCH", path, ROLE_COLLECTOR, "{\"status\": \"snoozed\"}", 422, "validation",
       "snoozed_until"},
      {"snooze into the past", "PATCH", path, ROLE_COLLECTOR, past_body, 422, "validation", "snoozed_until"},
      {"snooze until today", "PATCH", path, ROLE_COLLECTOR, today_body, 422, "validation", "snoozed_until"},
      {"snooze to a non-date", "PATCH", path, ROLE_COLLECTOR,
       "{\"status\": \"snoozed\", \"snoozed_until\": \"2030-02-30\"}", 422, "validation", "snoozed_until"},
      {"snooze to a number", "PATCH", path, ROLE_COLLECTOR, "{\"status\": \"snoozed\", \"snoozed_until\": 20300101}",
       422, "validation", "snoozed_until"},
      {"snoozed_until with done", "PATCH", path, ROLE_COLLECTOR, done_until, 422, "validation", "snoozed_until"},
      {"dismiss without note", "PATCH", path, ROLE_COLLECTOR, "{\"status\": \"dismissed\"}", 422, "validation",
       "note"},
      {"dismiss with a blank note", "PATCH", path, ROLE_COLLECTOR, "{\"status\": \"dismissed\", \"note\": \"  \"}",
       422, "validation", "note"},
      {"note not a string", "PATCH", path, ROLE_COLLECTOR, "{\"status\": \"done\", \"note\": 5}", 422,
       "validation", "note"},
      {"note too long", "PATCH", path, ROLE_COLLECTOR, long_note, 422, "validation", "note"},
      {"unknown field", "PATCH", path, ROLE_COLLECTOR, "{\"status\": \"done\", \"colour\": \"red\"}", 422,
       "validation", "colour"},
      {"read-only field", "PATCH", path, ROLE_COLLECTOR, "{\"status\": \"done\", \"due_on\": \"2030-01-01\"}", 422,
       "validation", "due_on"},
      {"an array", "PATCH", path, ROLE_COLLECTOR, "[\"done\"]", 422, "validation", NULL},
      {"a float note", "PATCH", path, ROLE_COLLECTOR, "{\"status\": \"done\", \"note\": 1.5}", 422, "validation",
       "note"},
      {"a number past 2^63", "PATCH", path, ROLE_COLLECTOR,
       "{\"status\": \"done\", \"snoozed_until\": 99999999999999999999999}", 400, "malformed-json", NULL},
      {"malformed JSON", "PATCH", path, ROLE_COLLECTOR, "{\"status\": ", 400, "malformed-json", NULL},
      {"duplicate keys", "PATCH", path, ROLE_COLLECTOR, "{\"status\": \"done\", \"status\": \"done\"}", 400,
       "malformed-json", NULL},
      {"viewer", "PATCH", path, ROLE_VIEWER, "{\"status\": \"done\"}", 403, "forbidden", NULL},
      {"integration", "PATCH", path, ROLE_INTEGRATION, "{\"status\": \"done\"}", 403, "forbidden", NULL},
      {"no key", "PATCH", path, NO_KEY, "{\"status\": \"done\"}", 401, "unauthorized", NULL},
      {"unknown id", "PATCH", "/v1/follow-ups/999999999", ROLE_COLLECTOR, "{\"status\": \"done\"}", 404,
       "not-found", NULL},
      {"not an id", "PATCH", "/v1/follow-ups/x'1", ROLE_COLLECTOR, "{\"status\": \"done\"}", 404, "not-found", NULL},
      {"huge id", "PATCH", "/v1/follow-ups/99999999999999999999999", ROLE_COLLECTOR, "{\"status\": \"done\"}", 404,
       "not-found", NULL},
      {"DELETE", "DELETE", path, ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
      {"POST", "POST", "/v1/follow-ups", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
  };
  run_steps(steps, sizeof steps / sizeof steps[0]);
  assert_int_equal(version_of(fu), 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM follow_ups WHERE id = %s AND status = 'open' "
                                   "AND note IS NULL AND closed_at IS NULL AND snoozed_until IS NULL",
                                   fu),
                   1);

  /* Not JSON; invalid UTF-8. */
  http_raw(&r, "PATCH", path, ROLE_COLLECTOR, "status=done", 11, "application/x-www-form-urlencoded", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  http_resp_clear(&r);
  const char *bad_utf8 = "{\"status\": \"done\", \"note\": \"\xff\"}";
  http_raw(&r, "PATCH", path, ROLE_COLLECTOR, bad_utf8, strlen(bad_utf8), "application/json", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http_resp_clear(&r);

  /* Larger than ARC_MAX_BODY (1 MiB by default). */
  size_t big_len = 1100000;
  char *big = malloc(big_len + 1);
  memset(big, ' ', big_len);
  memcpy(big, "{\"status\": \"done\", \"note\": \"", 28);
  memcpy(big + big_len - 2, "\"}", 2);
  big[big_len] = '\0';
  http_raw(&r, "PATCH", path, ROLE_COLLECTOR, big, big_len, "application/json", NULL);
  free(big);
  assert_problem(&r, 413, "payload-too-large", NULL);
  http_resp_clear(&r);
  assert_int_equal(version_of(fu), 1);

  /* If-Match: a stale tag is refused and changes nothing; the current one passes. */
  static const char *const stale[] = {"If-Match: \"7\"", NULL};
  http(&r, "PATCH", path, ROLE_COLLECTOR, future_body, stale);
  assert_problem(&r, 412, "precondition-failed", NULL);
  http_resp_clear(&r);
  assert_int_equal(version_of(fu), 1);
  static const char *const current[] = {"If-Match: \"1\"", NULL};
  http(&r, "PATCH", path, ROLE_COLLECTOR, future_body, current);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"2\"");
  http_resp_clear(&r);
  /* The same tag again is stale now. */
  http(&r, "PATCH", path, ROLE_COLLECTOR, "{\"status\": \"done\"}", current);
  assert_problem(&r, 412, "precondition-failed", NULL);
  http_resp_clear(&r);
  assert_int_equal(version_of(fu), 2);
}

/* A zone where the local time now is within (IN_DAY) or far outside the
 * 08:00-21:00 window, with an hour of margin so the test cannot straddle a
 * boundary. */
static void zone(char out[64], int in_day)
{
  char *z = harness_sql("SELECT name FROM timezones WHERE name NOT LIKE 'posix/%%' AND "
                        "(now() AT TIME ZONE name)::time %s ORDER BY name LIMIT 1",
                        in_day ? "BETWEEN time '09:00' AND time '20:00'" : "NOT BETWEEN time '07:00' AND time '22:00'");
  assert_non_null(z);
  snprintf(out, 64, "%s", z);
  free(z);
}

/* P15: consumers only between 08:00 and 21:00 their time, and never after
 * a cease-communication request; business accounts in business hours
 * (weekdays 08:00-18:00 their time: not at night), a cease request
 * notwithstanding (tests/http/test_consumer_protection.c has their edges). */
static void callable_now(void **state)
{
  (void)state;
  char day_zone[64], night_zone[64], yesterday[16], extra[256];
  zone(day_zone, 1);
  zone(night_zone, 0);
  day(yesterday, -1);
  char awake[32], asleep[32], ceased[32], business[32], business_ceased[32];
  snprintf(extra, sizeof extra, "\"kind\": \"consumer\", \"timezone\": \"%s\"", day_zone);
  customer(awake, "Consumer awake", extra);
  snprintf(extra, sizeof extra, "\"kind\": \"consumer\", \"timezone\": \"%s\"", night_zone);
  customer(asleep, "Consumer asleep", extra);
  snprintf(extra, sizeof extra, "\"kind\": \"consumer\", \"timezone\": \"%s\", \"cease_communication\": true",
           day_zone);
  customer(ceased, "Consumer ceased", extra);
  snprintf(extra, sizeof extra, "\"kind\": \"commercial\", \"timezone\": \"%s\"", night_zone);
  customer(business, "Business at night", extra);
  snprintf(extra, sizeof extra, "\"kind\": \"commercial\", \"timezone\": \"%s\", \"cease_communication\": true",
           night_zone);
  customer(business_ceased, "Business ceased", extra);

  const char *cus[] = {awake, asleep, ceased, business, business_ceased};
  const int want[] = {1, 0, 0, 0, 0};
  const char *const why[] = {NULL, "outside_hours", "cease_communication", "outside_hours", "outside_hours"};
  for (int i = 0; i < 5; i++) {
    char fu[32];
    follow_up(fu, cus[i], "resolve_dispute", yesterday, 100, "callable");
    json_t *j = get_ok(fu);
    if (json_is_true(json_object_get(j, "callable_now")) != want[i])
      fail_msg("customer %d (%s): callable_now should be %s", i, cus[i], want[i] ? "true" : "false");
    if (why[i])
      assert_string_equal(jstr(j, "call_restriction"), why[i]);
    else
      assert_true(is_null(j, "call_restriction"));
    json_decref(j);
    j = listed(fu, "assignee=callable");
    assert_non_null(j);
    assert_int_equal(json_is_true(json_object_get(j, "callable_now")), want[i]);
    json_decref(j);
  }
  /* The zone is the customer's: moving the sleeper into daylight makes it callable. */
  struct http_resp r = {0};
  snprintf(extra, sizeof extra, "{\"timezone\": \"%s\"}", day_zone);
  httpf(&r, "PATCH", ROLE_ADMIN, extra, "/v1/customers/%s", asleep);
  assert_status(&r, 200);
  http_resp_clear(&r);
  char q[64], id[64];
  snprintf(q, sizeof q, "assignee=callable&customer_id=%s", asleep);
  worklist(id, sizeof id, q); /* exactly one */
  json_t *j = listed(id, "assignee=callable");
  assert_true(json_is_true(json_object_get(j, "callable_now")));
  json_decref(j);
}

/* The follow_up.* events of customer CUS in the feed, as "type id actor,...",
 * once the feed shows at least MIN events of the customer (of any kind).
 * The feed holds back events while any transaction on the PostgreSQL
 * server is older than theirs, and the server may be shared with other
 * work: after two minutes a feed still held back by such a transaction is
 * reported and 0 returned (nothing to check); one not held back must show
 * them all.  1 when OUT was filled. */
static int events_of(char *out, size_t size, const char *cus, size_t min)
{
  struct http_resp r = {0};
  for (int tries = 0; tries < 2400; tries++) {
    http_resp_clear(&r);
    httpf(&r, "GET", ROLE_INTEGRATION, NULL, "/v1/events?customer_id=%s&limit=200", cus);
    assert_status(&r, 200);
    if (json_array_size(json_object_get(r.json, "data")) >= min)
      break;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  size_t shown = json_array_size(json_object_get(r.json, "data"));
  if (shown != min) {
    http_resp_clear(&r);
    if (harness_sql_int("SELECT (pg_snapshot_xmin(pg_current_snapshot()) <= max(txid))::int FROM events "
                        "WHERE customer_id = %s",
                        cus) == 1) {
      fprintf(stderr, "note: the event feed is held back by a long transaction elsewhere on the server; "
                      "its order is not checked this time\n");
      return 0;
    }
    fail_msg("the feed shows %zu events of customer %s, not %zu", shown, cus, min);
  }
  size_t used = 0, i;
  json_t *e;
  out[0] = '\0';
  json_array_foreach(json_object_get(r.json, "data"), i, e)
  {
    if (strcmp(jstr(e, "resource_type"), "follow_up") != 0)
      continue;
    assert_string_equal(jstr(e, "resource_id"), jstr(json_object_get(e, "data"), "id"));
    used += (size_t)snprintf(out + used, size - used, "%s%s %s %s", used ? "," : "", jstr(e, "type"),
                             jstr(e, "resource_id"), jstr(e, "actor"));
  }
  http_resp_clear(&r);
  return 1;
}

/* The same straight from the events table (no waiting on the feed). */
static void sql_events(char *out, size_t size, const char *cus)
{
  char *s = harness_sql("SELECT string_agg(type || ' ' || resource_id || ' ' || actor, ',' ORDER BY id) FROM events "
                        "WHERE customer_id = %s AND resource_type = 'follow_up'",
                        cus);
  snprintf(out, size, "%s", s ? s : "");
  free(s);
}

/* follow_up.created / done / snoozed / dismissed / reopened, one per row a
 * statement changed the status of; none for changes that keep the status. */
static void events(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char yesterday[16], later[16], cus[32], body[128];
  day(yesterday, -1);
  day(later, 10);
  customer(cus, "Eventful", "");
  /* One statement, three rows: three events. */
  harness_sql("INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, amount_overdue, currency, assignee) "
              "VALUES (%s, 'overdue', 'e1', '%s', 10, 'USD', 'ev'), (%s, 'retry', 'e2', '%s', 10, 'USD', 'ev'), "
              "(%s, 'check_in', 'e3', '%s', 10, 'USD', 'ev')",
              cus, yesterday, cus, yesterday, cus, yesterday);
  char ids[3][32];
  static const char *const reasons[] = {"overdue", "retry", "check_in"};
  for (int i = 0; i < 3; i++) {
    char *id = harness_sql("SELECT id FROM follow_ups WHERE customer_id = %s AND reason = '%s'", cus, reasons[i]);
    snprintf(ids[i], sizeof ids[i], "%s", id);
    free(id);
  }
  char want[1024], got[1024];
  snprintf(want, sizeof want,
           "follow_up.created %s system,follow_up.created %s system,follow_up.created %s system", ids[0], ids[1],
           ids[2]);
  sql_events(got, sizeof got, cus);
  assert_string_equal(want, got);

  /* A person's actions carry the key's actor and the request id. */
  static const char *const rid[] = {"X-Request-Id: fu-done-1", NULL};
  char path[64];
  snprintf(path, sizeof path, "/v1/follow-ups/%s", ids[0]);
  http(&r, "PATCH", path, ROLE_COLLECTOR, "{\"status\": \"done\"}", rid);
  assert_status(&r, 200);
  http_resp_clear(&r);
  snprintf(body, sizeof body, "{\"status\": \"snoozed\", \"snoozed_until\": \"%s\"}", later);
  httpf(&r, "PATCH", ROLE_MANAGER, body, "/v1/follow-ups/%s", ids[1]);
  assert_status(&r, 200);
  http_resp_clear(&r);
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"dismissed\", \"note\": \"met them at the fair\"}",
        "/v1/follow-ups/%s", ids[2]);
  assert_status(&r, 200);
  http_resp_clear(&r);
  /* Refused: no event. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"done\"}", "/v1/follow-ups/%s", ids[0]);
  assert_status(&r, 409);
  http_resp_clear(&r);
  /* The sweep waking the snoozed one (a statement with no actor), then
   * refreshing amounts: reopened, then nothing. */
  harness_sql("UPDATE follow_ups SET status = 'open', snoozed_until = NULL, due_on = '%s' WHERE id = %s", later,
              ids[1]);
  harness_sql("UPDATE follow_ups SET amount_overdue = amount_overdue + 1, assignee = 'ev2' WHERE customer_id = %s",
              cus);
  harness_sql("UPDATE follow_ups SET note = note WHERE customer_id = %s", cus);
  /* A later event of the customer: once the feed shows it, it shows all before. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"notes\": \"marker\"}", "/v1/customers/%s", cus);
  assert_status(&r, 200);
  http_resp_clear(&r);

  snprintf(want, sizeof want,
           "follow_up.created %s system,follow_up.created %s system,follow_up.created %s system,"
           "follow_up.done %s collector@example.com,follow_up.snoozed %s manager@example.com,"
           "follow_up.dismissed %s admin@example.com,follow_up.reopened %s system",
           ids[0], ids[1], ids[2], ids[0], ids[1], ids[2], ids[1]);
  sql_events(got, sizeof got, cus);
  assert_string_equal(want, got);

  /* The done event: its request id, and the follow-up as that statement left it. */
  char *done = harness_sql("SELECT jsonb_build_object('request_id', request_id, 'customer_id', customer_id::text, "
                           "'data', data)::text FROM events WHERE resource_id = '%s' AND type = 'follow_up.done'",
                           ids[0]);
  json_t *e = json_loads(done, 0, NULL);
  free(done);
  assert_non_null(e);
  assert_string_equal(jstr(e, "request_id"), "fu-done-1");
  assert_string_equal(jstr(e, "customer_id"), cus);
  const json_t *data = json_object_get(e, "data");
  assert_string_equal(jstr(data, "status"), "done");
  assert_string_equal(jstr(data, "closed_by"), "collector@example.com");
  assert_string_equal(jstr(data, "customer_name"), "Eventful");
  json_decref(e);

  /* The feed shows them: customer.created, these seven, customer.updated. */
  if (events_of(got, sizeof got, cus, 9))
    assert_string_equal(want, got);
}

/* The call sheet lists the customer's open follow-ups in worklist order,
 * each as GET shows it; snoozed and closed ones are not there. */
static void call_sheet(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char yesterday[16], tomorrow[16], later[16];
  day(yesterday, -1);
  day(tomorrow, 1);
  day(later, 9);
  char cus[32], other[32], small_retry[32], small_broken[32], big[32], future[32], snoozed[32], done[32], theirs[32];
  customer(cus, "Sheet follow-ups", "");
  customer(other, "Not on the sheet", "");
  follow_up(small_retry, cus, "retry", yesterday, 100, "sheet");
  follow_up(small_broken, cus, "promise_broken", yesterday, 100, "sheet");
  follow_up(big, cus, "thank_you", yesterday, 5000, "sheet");
  follow_up(future, cus, "confirm_receipt", tomorrow, 0, "sheet");
  follow_up(snoozed, cus, "overdue", yesterday, 100, "sheet");
  follow_up(done, cus, "check_in", yesterday, 100, "sheet");
  follow_up(theirs, other, "overdue", yesterday, 100, "sheet");
  harness_sql("UPDATE follow_ups SET status = 'snoozed', snoozed_until = '%s' WHERE id = %s", later, snoozed);
  harness_sql("UPDATE follow_ups SET status = 'done', closed_reason = 'contact_logged', closed_at = now() "
              "WHERE id = %s",
              done);

  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s/call-sheet", cus);
  assert_status(&r, 200);
  const json_t *list = json_object_get(r.json, "follow_ups");
  char want[256], got[256] = "";
  snprintf(want, sizeof want, "%s,%s,%s,%s", big, small_broken, small_retry, future);
  append_ids(list, got, sizeof got);
  assert_string_equal(want, got);
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e)
  {
    json_t *g = get_ok(jstr(e, "id"));
    if (!same_document(g, e))
      fail_msg("follow-up %s differs between the sheet and GET", jstr(e, "id"));
    json_decref(g);
  }
  http_resp_clear(&r);

  /* Nothing open: an empty list. */
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s/call-sheet", other);
  assert_status(&r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "follow_ups")), 1);
  http_resp_clear(&r);
  harness_sql("UPDATE follow_ups SET status = 'dismissed', closed_reason = 'dismissed', closed_at = now() "
              "WHERE id = %s",
              theirs);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s/call-sheet", other);
  assert_status(&r, 200);
  assert_true(json_is_array(json_object_get(r.json, "follow_ups")));
  assert_int_equal(json_array_size(json_object_get(r.json, "follow_ups")), 0);
  http_resp_clear(&r);
}

/* The document: every field, with its type. */
static void document(void **state)
{
  (void)state;
  char yesterday[16], cus[32], fu[32], extra[128];
  day(yesterday, -1);
  snprintf(extra, sizeof extra,
           "\"collector\": \"maria@example.com\", \"phone\": \"+1 555 0100\", \"timezone\": \"America/Chicago\"");
  customer(cus, "Doc & Co", extra);
  follow_up(fu, cus, "overdue", yesterday, 125000, "maria@example.com");
  harness_sql("UPDATE follow_ups SET invoice_ids = '{3,1}', run_id = 7, overdue_since = '%s'::date - 9 WHERE id = %s",
              yesterday, fu);
  json_t *j = get_ok(fu);
  static const char *const keys[] = {
      "id", "customer_id", "customer_name", "customer_phone", "customer_timezone", "customer_local_time",
      "call_sheet", "reason", "priority", "due_on", "assignee", "amount_overdue", "currency", "days_overdue",
      "invoice_ids", "promise_id", "dispute_id", "payment_id", "plan_id", "installment_id",
      "escalation_id", "preferred_today", "callable_now", "call_restriction", "callable_from", "held_from",
      "held_until", "held_by", "status", "snoozed_until", "note", "closed_reason", "closed_at", "closed_by",
      "closed_by_call_log_id", "run_id", "version", "created_at", "updated_at"};
  assert_int_equal(json_object_size(j), sizeof keys / sizeof keys[0]);
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (!json_object_get(j, keys[i]))
      fail_msg("no %s in the follow-up", keys[i]);
  assert_string_equal(jstr(j, "id"), fu);
  assert_string_equal(jstr(j, "customer_id"), cus);
  assert_string_equal(jstr(j, "customer_name"), "Doc & Co");
  /* What a collector needs to dial, with no request per row. */
  assert_string_equal(jstr(j, "customer_phone"), "+1 555 0100");
  assert_string_equal(jstr(j, "customer_timezone"), "America/Chicago");
  const char *local = jstr(j, "customer_local_time");
  char *offset = harness_sql("SELECT lpad(abs(extract(hour FROM utc_offset))::int::text, 2, '0') || ':' || "
                             "lpad(abs(extract(minute FROM utc_offset))::int::text, 2, '0') "
                             "FROM pg_timezone_names WHERE name = 'America/Chicago'");
  assert_int_equal(strlen(local), 25);
  assert_string_equal(local + 20, offset); /* "-06:00" or "-05:00": after the sign */
  assert_int_equal(local[19], '-');
  free(offset);
  assert_int_equal(harness_sql_int("SELECT (abs(extract(epoch FROM '%s'::timestamptz - now())) < 60)::int", local), 1);
  char sheet[64];
  snprintf(sheet, sizeof sheet, "/v1/customers/%s/call-sheet", cus);
  assert_string_equal(jstr(j, "call_sheet"), sheet);
  assert_int_equal(jint(j, "days_overdue"), 10);
  assert_string_equal(jstr(j, "reason"), "overdue");
  assert_int_equal(jint(j, "priority"), 3);
  assert_string_equal(jstr(j, "due_on"), yesterday);
  assert_string_equal(jstr(j, "assignee"), "maria@example.com");
  assert_int_equal(jint(j, "amount_overdue"), 125000);
  assert_string_equal(jstr(j, "currency"), "USD");
  assert_string_equal(json_string_value(json_array_get(json_object_get(j, "invoice_ids"), 0)), "3");
  assert_string_equal(jstr(j, "run_id"), "7");
  assert_string_equal(jstr(j, "status"), "open");
  assert_true(json_is_null(json_object_get(j, "promise_id")));
  assert_true(json_is_boolean(json_object_get(j, "preferred_today")));
  /* GET by id: preferred_today is about today (commercial: Mondays). */
  long long monday = harness_sql_int("SELECT (extract(isodow FROM (now() AT TIME ZONE '%s')::date) = 1)::int", tz());
  assert_int_equal(json_is_true(json_object_get(j, "preferred_today")), monday);
  assert_int_equal(jint(j, "version"), 2);
  json_decref(j);
}

/* After a real sweep: a worklist row says how long the account has been
 * overdue (its oldest invoice past due), and its call sheet answers. */
static void worklist_row_after_sweep(void **state)
{
  (void)state;
  char today[16], cus[32], inv[32];
  day(today, 0);
  customer(cus, "Dial Me Ltd", "\"phone\": \"+44 20 7946 0000\", \"timezone\": \"Europe/London\"");
  sql_invoice(inv, .customer = cus, .amount = 3000, .from = today, .issued_in = -40, .due_in = -12);
  sql_invoice(inv, .customer = cus, .amount = 4000, .from = today, .issued_in = -30, .due_in = -3);
  struct http_resp r = {0};
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, "{}", NULL);
  assert_status(&r, 201);
  http_resp_clear(&r);
  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/follow-ups?customer_id=%s", cus);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 1);
  json_t *row = json_array_get(json_object_get(r.json, "data"), 0);
  assert_int_equal(jint(row, "days_overdue"), 12);
  assert_int_equal(jint(row, "amount_overdue"), 7000);
  assert_string_equal(jstr(row, "customer_phone"), "+44 20 7946 0000");
  assert_string_equal(jstr(row, "customer_timezone"), "Europe/London");
  char sheet[96];
  snprintf(sheet, sizeof sheet, "%s", jstr(row, "call_sheet"));
  http_resp_clear(&r);
  http(&r, "GET", sheet, ROLE_COLLECTOR, NULL, NULL);
  assert_status(&r, 200);
  http_resp_clear(&r);
  /* Local times with offsets of every shape: half and three-quarter hours,
   * both signs, summer time. */
  static const char *const local[][2] = {
      {"America/St_Johns", "2026-07-01T09:30:00-02:30"}, {"Pacific/Chatham", "2026-07-02T00:45:00+12:45"},
      {"Asia/Kolkata", "2026-07-01T17:30:00+05:30"},     {"UTC", "2026-07-01T12:00:00+00:00"},
      {"America/Chicago", "2026-07-01T07:00:00-05:00"},
  };
  for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
    char *got = harness_sql("SELECT arc_local_ts('2026-07-01T12:00:00Z', '%s')", local[i][0]);
    assert_string_equal(got, local[i][1]);
    free(got);
  }
}

static void item_and_list_errors(void **state)
{
  (void)state;
  char yesterday[16], cus[32], fu[32], path[64];
  day(yesterday, -1);
  customer(cus, "Errors Ltd", "");
  follow_up(fu, cus, "overdue", yesterday, 1, "errors");
  snprintf(path, sizeof path, "/v1/follow-ups/%s", fu);
  const struct step steps[] = {
      /* Every role reads. */
      {"list admin", "GET", "/v1/follow-ups", ROLE_ADMIN, NULL, 200, NULL, NULL},
      {"list manager", "GET", "/v1/follow-ups", ROLE_MANAGER, NULL, 200, NULL, NULL},
      {"list collector", "GET", "/v1/follow-ups", ROLE_COLLECTOR, NULL, 200, NULL, NULL},
      {"list viewer", "GET", "/v1/follow-ups", ROLE_VIEWER, NULL, 200, NULL, NULL},
      {"list integration", "GET", "/v1/follow-ups", ROLE_INTEGRATION, NULL, 200, NULL, NULL},
      {"get admin", "GET", path, ROLE_ADMIN, NULL, 200, NULL, NULL},
      {"get viewer", "GET", path, ROLE_VIEWER, NULL, 200, NULL, NULL},
      {"get integration", "GET", path, ROLE_INTEGRATION, NULL, 200, NULL, NULL},
      {"list no key", "GET", "/v1/follow-ups", NO_KEY, NULL, 401, "unauthorized", NULL},
      {"get no key", "GET", path, NO_KEY, NULL, 401, "unauthorized", NULL},
      {"get unknown", "GET", "/v1/follow-ups/999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"get not an id", "GET", "/v1/follow-ups/abc", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"get zero", "GET", "/v1/follow-ups/0", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      /* Query parameters. */
      {"unknown parameter", "GET", "/v1/follow-ups?colour=red", ROLE_ADMIN, NULL, 422, "validation", "colour"},
      {"bad due_on", "GET", "/v1/follow-ups?due_on=2026-02-30", ROLE_ADMIN, NULL, 422, "validation", "due_on"},
      {"due_on instant", "GET", "/v1/follow-ups?due_on=2026-01-01T00:00:00Z", ROLE_ADMIN, NULL, 422, "validation",
       "due_on"},
      {"bad reason", "GET", "/v1/follow-ups?reason=call", ROLE_ADMIN, NULL, 422, "validation", "reason"},
      {"bad status", "GET", "/v1/follow-ups?status=closed", ROLE_ADMIN, NULL, 422, "validation", "status"},
      {"bad customer_id", "GET", "/v1/follow-ups?customer_id=1%20OR%201=1", ROLE_ADMIN, NULL, 422, "validation",
       "customer_id"},
      {"empty assignee", "GET", "/v1/follow-ups?assignee=", ROLE_ADMIN, NULL, 422, "validation", "assignee"},
      {"limit 0", "GET", "/v1/follow-ups?limit=0", ROLE_ADMIN, NULL, 422, "validation", "limit"},
      {"limit 201", "GET", "/v1/follow-ups?limit=201", ROLE_ADMIN, NULL, 422, "validation", "limit"},
      {"limit text", "GET", "/v1/follow-ups?limit=ten", ROLE_ADMIN, NULL, 422, "validation", "limit"},
      {"cursor text", "GET", "/v1/follow-ups?cursor=abc", ROLE_ADMIN, NULL, 422, "validation", "cursor"},
      {"cursor empty", "GET", "/v1/follow-ups?cursor=", ROLE_ADMIN, NULL, 422, "validation", "cursor"},
      {"cursor an id", "GET", "/v1/follow-ups?cursor=12", ROLE_ADMIN, NULL, 422, "validation", "cursor"},
      {"cursor four parts", "GET", "/v1/follow-ups?cursor=1.1.1.2026-01-05", ROLE_ADMIN, NULL, 422, "validation",
       "cursor"},
      {"cursor six parts", "GET", "/v1/follow-ups?cursor=1.1.1.2026-01-05.5.6", ROLE_ADMIN, NULL, 422, "validation",
       "cursor"},
      {"cursor trailing dot", "GET", "/v1/follow-ups?cursor=1.1.1.2026-01-05.5.", ROLE_ADMIN, NULL, 422,
       "validation", "cursor"},
      {"cursor preferred 2", "GET", "/v1/follow-ups?cursor=1.2.1.2026-01-05.5", ROLE_ADMIN, NULL, 422, "validation",
       "cursor"},
      {"cursor priority 0", "GET", "/v1/follow-ups?cursor=1.1.0.2026-01-05.5", ROLE_ADMIN, NULL, 422, "validation",
       "cursor"},
      {"cursor priority 10", "GET", "/v1/follow-ups?cursor=1.1.10.2026-01-05.5", ROLE_ADMIN, NULL, 422, "validation",
       "cursor"},
      {"cursor bad date", "GET", "/v1/follow-ups?cursor=1.1.1.2026-13-05.5", ROLE_ADMIN, NULL, 422, "validation",
       "cursor"},
      {"cursor id 0", "GET", "/v1/follow-ups?cursor=1.1.1.2026-01-05.0", ROLE_ADMIN, NULL, 422, "validation",
       "cursor"},
      {"cursor amount text", "GET", "/v1/follow-ups?cursor=x.1.1.2026-01-05.5", ROLE_ADMIN, NULL, 422, "validation",
       "cursor"},
      {"cursor amount empty", "GET", "/v1/follow-ups?cursor=.1.1.2026-01-05.5", ROLE_ADMIN, NULL, 422, "validation",
       "cursor"},
      {"cursor amount sign only", "GET", "/v1/follow-ups?cursor=-.1.1.2026-01-05.5", ROLE_ADMIN, NULL, 422,
       "validation", "cursor"},
      {"cursor amount too big", "GET", "/v1/follow-ups?cursor=9999999999999999999.1.1.2026-01-05.5", ROLE_ADMIN,
       NULL, 422, "validation", "cursor"},
      {"cursor id too big", "GET", "/v1/follow-ups?cursor=1.1.1.2026-01-05.99999999999999999999", ROLE_ADMIN, NULL,
       422, "validation", "cursor"},
      {"cursor SQL", "GET", "/v1/follow-ups?cursor=1.1.1.2026-01-05.5%27%3B--", ROLE_ADMIN, NULL, 422, "validation",
       "cursor"},
      /* Well-formed cursors are positions, found or not. */
      {"cursor negative amount", "GET", "/v1/follow-ups?cursor=-5.0.9.2026-01-05.5", ROLE_ADMIN, NULL, 200, NULL,
       NULL},
      {"cursor largest", "GET", "/v1/follow-ups?cursor=999999999999999999.1.1.1900-01-01.999999999999999999",
       ROLE_ADMIN, NULL, 200, NULL, NULL},
  };
  run_steps(steps, sizeof steps / sizeof steps[0]);

  /* Several bad parameters: each is named. */
  struct http_resp r = {0};
  http(&r, "GET", "/v1/follow-ups?due_on=x&reason=y&status=z&limit=0&cursor=q", ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 422, "validation", "due_on");
  assert_problem(&r, 422, "validation", "reason");
  assert_problem(&r, 422, "validation", "status");
  assert_problem(&r, 422, "validation", "limit");
  assert_problem(&r, 422, "validation", "cursor");
  http_resp_clear(&r);

  /* A cursor past the last row ends the list; one before the first starts it. */
  char got[256], want[64];
  worklist(got, sizeof got, "assignee=errors&cursor=-5.0.9.2026-01-05.5");
  assert_string_equal("", got);
  snprintf(want, sizeof want, "%s", fu);
  worklist(got, sizeof got, "assignee=errors&cursor=999999999999999999.1.1.1900-01-01.999999999999999999");
  assert_string_equal(want, got);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(order),
      cmocka_unit_test(filters),
      cmocka_unit_test(pages),
      cmocka_unit_test(actions),
      cmocka_unit_test(patch_errors),
      cmocka_unit_test(callable_now),
      cmocka_unit_test(events),
      cmocka_unit_test(call_sheet),
      cmocka_unit_test(document),
      cmocka_unit_test(worklist_row_after_sweep),
      cmocka_unit_test(item_and_list_errors),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
