/* The worklist order kept on the follow-ups (migrations/0012_worklist_order.sql,
 * src/schedule/follow_ups.sql): after every change that moves a follow-up in
 * the order — a payment the sweep sees, a customer's contact days or kind, a
 * sweep on a new day — the stored priority and preferred equal what
 * arc_follow_up_priority and arc_preferred_on compute, and the pages (both
 * the stored order's and the computed one's) list what P9 says.  And the
 * page statements' generic plans read the order from an index, with no
 * sort, stopping after the page. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/statements.h"

/* The weekday name (mon..sun) of DATE. */
static void weekday(char out[8], const char *date)
{
  char *d = harness_sql("SELECT (arc_weekdays())[extract(isodow FROM date '%s')::integer]", date);
  snprintf(out, 8, "%s", d);
  free(d);
}

/* A customer of collector COLLECTOR with contact days DAYS (a JSON array). */
static void customer(char out[32], const char *name, const char *collector, const char *days)
{
  char body[256];
  snprintf(body, sizeof body, "{\"name\": \"%s\", \"collector\": \"%s\", \"preferred_contact_days\": %s}", name,
           collector, days);
  create_id(out, "/v1/customers", body);
}

/* The customer's open follow-up (one reason each here). */
static void open_follow_up(char out[32], const char *cus)
{
  char *id = harness_sql("SELECT id FROM follow_ups WHERE customer_id = %s AND status = 'open'", cus);
  assert_non_null(id);
  snprintf(out, 32, "%s", id);
  free(id);
}

/* Every page of GET /v1/follow-ups?QUERY, LIMIT rows each, as ids "a,b,c". */
static void pages(char *out, size_t size, const char *query, int limit)
{
  char cursor[256] = "";
  size_t used = 0;
  out[0] = '\0';
  for (int n = 0; n < 100; n++) {
    struct http_resp r = {0};
    httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/follow-ups?limit=%d&%s%s%s", limit, query, *cursor ? "&cursor=" : "",
          cursor);
    assert_status(&r, 200);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r.json, "data"), i, e) used +=
        (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "", jstr(e, "id"));
    json_t *next = json_object_get(r.json, "next_cursor");
    int more = json_is_string(next);
    if (more)
      snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
    http_resp_clear(&r);
    if (!more)
      return;
  }
  fail_msg("more than 100 pages");
}

/* The order P9 gives the open follow-ups of ASSIGNEE due on or before DAY,
 * computed per row as the worklist did before the order was stored. */
static char *computed(const char *assignee, const char *day)
{
  char *s = harness_sql("SELECT coalesce(string_agg(f.id::text, ',' ORDER BY -f.amount_overdue, "
                        "NOT arc_preferred_on(c, date '%s'), arc_follow_up_priority(f.reason), f.due_on, f.id), '') "
                        "FROM follow_ups f JOIN customers c ON c.id = f.customer_id "
                        "WHERE f.status = 'open' AND f.due_on <= date '%s' AND f.assignee = '%s'",
                        day, day, assignee);
  assert_non_null(s);
  return s;
}

/* The stored order is what the functions compute, for every open and
 * snoozed follow-up, for the day worklist_order keeps it for. */
static void assert_stored_true(const char *when)
{
  long long wrong = harness_sql_int(
      "SELECT count(*) FROM follow_ups f JOIN customers c ON c.id = f.customer_id CROSS JOIN worklist_order w "
      "WHERE f.status IN ('open', 'snoozed') AND (f.priority <> arc_follow_up_priority(f.reason) "
      "OR f.preferred <> coalesce(arc_preferred_on(c, w.preferred_on), false))");
  if (wrong != 0)
    fail_msg("%s: %lld open follow-ups whose stored order is not the computed one", when, wrong);
}

/* The worklist of ASSIGNEE listed for DAY (QUERY_DAY: "" for today, or
 * "&due_on=..."), whole and in pages of one, must be WANT (labels in LABELS
 * order: ids[i] is label i) and the computed order. */
static void expect_order(const char *when, const char *assignee, const char *day, const char *query_day,
                         const char *const *ids, const char *want_labels)
{
  char want[512] = "", got[512], paged[512], query[128];
  size_t used = 0;
  for (const char *p = want_labels; *p; p++)
    used += (size_t)snprintf(want + used, sizeof want - used, "%s%s", used ? "," : "", ids[*p - 'a']);
  snprintf(query, sizeof query, "assignee=%s%s", assignee, query_day);
  pages(got, sizeof got, query, 200);
  pages(paged, sizeof paged, query, 1);
  char *ref = computed(assignee, day);
  if (strcmp(got, want) != 0 || strcmp(paged, want) != 0 || strcmp(ref, want) != 0)
    fail_msg("%s: want %s (%s), listed %s, in pages of one %s, computed %s", when, want, want_labels, got, paged,
             ref);
  free(ref);
  assert_stored_true(when);
}

/* A payment, a change of contact days and of kind, and a new day each move
 * follow-ups in the order; the stored order follows each at once (the
 * customer's changes) or with the sweep that sees it (amounts, the day). */
static void order_follows_changes(void **state)
{
  (void)state;
  char today[16], tomorrow[16], wd0[8], wd1[8], days0[32], days1[32], path[64];
  day(today, 0);
  day(tomorrow, 1);
  weekday(wd0, today);
  weekday(wd1, tomorrow);
  snprintf(days0, sizeof days0, "[\"%s\"]", wd0);
  snprintf(days1, sizeof days1, "[\"%s\"]", wd1);

  /* a..d: customers; their follow-ups are ids[0..3] once swept. */
  char a[32], b[32], c[32], d[32], inv[32];
  customer(a, "Worklist A", "wl-order", days1);
  customer(b, "Worklist B", "wl-order", days0);
  customer(c, "Worklist C", "wl-order", days0);
  customer(d, "Worklist D", "wl-order", days1);
  new_invoice(inv, .customer = a, .amount = 5000, .from = today, .issued_in = -40, .due_in = -10);
  new_invoice(inv, .customer = b, .amount = 5000, .from = today, .issued_in = -40, .due_in = -10);
  new_invoice(inv, .customer = c, .amount = 3000, .from = today, .issued_in = -40, .due_in = -10);
  new_invoice(inv, .customer = d, .amount = 9000, .from = today, .issued_in = -40, .due_in = -10);
  sweep_at(today, 0);
  assert_int_equal(harness_sql_int("SELECT (preferred_on = date '%s')::int FROM worklist_order", today), 1);
  char f[4][32];
  open_follow_up(f[0], a);
  open_follow_up(f[1], b);
  open_follow_up(f[2], c);
  open_follow_up(f[3], d);
  const char *ids[] = {f[0], f[1], f[2], f[3]};

  /* Today: D's 9000 first; of the 5000s, B prefers today. */
  expect_order("after the sweep", "wl-order", today, "", ids, "dbac");
  /* Tomorrow, computed per request (the order is kept for today): A prefers it. */
  char q[48];
  snprintf(q, sizeof q, "&due_on=%s", tomorrow);
  expect_order("listed for tomorrow", "wl-order", tomorrow, q, ids, "dabc");

  /* B no longer prefers today: A and B tie, id decides.  Its follow-up
   * moves in the order, with no new version (nothing of it changed). */
  long long b_version = harness_sql_int("SELECT version FROM follow_ups WHERE id = %s", f[1]);
  snprintf(path, sizeof path, "/v1/customers/%s", b);
  struct http_resp r = {0};
  char body[256];
  snprintf(body, sizeof body, "{\"preferred_contact_days\": %s}", days1);
  http(&r, "PATCH", path, ROLE_ADMIN, body, NULL);
  assert_status(&r, 200);
  http_resp_clear(&r);
  expect_order("B's contact days changed", "wl-order", today, "", ids, "dabc");
  assert_int_equal(harness_sql_int("SELECT version FROM follow_ups WHERE id = %s", f[1]), b_version);
  /* Back to the kind's default (commercial: Monday), and C becomes a
   * consumer with its kind's days (Thursday and Friday). */
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"preferred_contact_days\": null}", NULL);
  assert_status(&r, 200);
  http_resp_clear(&r);
  snprintf(path, sizeof path, "/v1/customers/%s", c);
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"kind\": \"consumer\", \"preferred_contact_days\": null}", NULL);
  assert_status(&r, 200);
  http_resp_clear(&r);
  int b_first = strcmp(wd0, "mon") == 0; /* B prefers today only on a Monday */
  expect_order("kind and default days", "wl-order", today, "", ids, b_first ? "dbac" : "dabc");
  /* Back to the days of the start. */
  snprintf(body, sizeof body, "{\"preferred_contact_days\": %s}", days0);
  snprintf(path, sizeof path, "/v1/customers/%s", b);
  http(&r, "PATCH", path, ROLE_ADMIN, body, NULL);
  assert_status(&r, 200);
  http_resp_clear(&r);
  snprintf(path, sizeof path, "/v1/customers/%s", c);
  http(&r, "PATCH", path, ROLE_ADMIN, body, NULL);
  assert_status(&r, 200);
  http_resp_clear(&r);
  expect_order("contact days back", "wl-order", today, "", ids, "dbac");

  /* D pays 6000 of its 9000: 3000 left, level with C, who prefers today. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 6000, \"currency\": \"USD\", \"received_on\": \"%s\", "
           "\"method\": \"ach\"}",
           d, today);
  json_decref(create_ok("/v1/payments", body));
  sweep_at(today, 0);
  expect_order("D paid 6000", "wl-order", today, "", ids, "bacd");

  /* A sweep on the next day keeps the order for it: A and D prefer it. */
  sweep_at(today, 1);
  assert_int_equal(harness_sql_int("SELECT (preferred_on = date '%s')::int FROM worklist_order", tomorrow), 1);
  expect_order("swept the next day", "wl-order", tomorrow, q, ids, "abdc");
  /* Today is now computed per request, and still today's order. */
  expect_order("today after the next day's sweep", "wl-order", today, "", ids, "bacd");
}

/* Walks a JSON plan: counts Sort nodes, and finds the index scan on INDEX
 * (its Index Cond in COND, its actual rows in ROWS when analysed). */
static void walk(const json_t *plan, const char *index, int *sorts, char *cond, size_t size, long long *rows)
{
  const char *type = json_string_value(json_object_get(plan, "Node Type"));
  if (type && strstr(type, "Sort"))
    (*sorts)++;
  const char *name = json_string_value(json_object_get(plan, "Index Name"));
  if (name && strcmp(name, index) == 0) {
    const char *ic = json_string_value(json_object_get(plan, "Index Cond"));
    snprintf(cond, size, "%s", ic ? ic : "");
    json_t *ar = json_object_get(plan, "Actual Rows");
    if (ar)
      *rows = json_integer_value(ar);
  }
  size_t i;
  json_t *child;
  json_array_foreach(json_object_get(plan, "Plans"), i, child) walk(child, index, sorts, cond, size, rows);
}

/* EXPLAIN (FORMAT JSON[, ANALYZE]) EXECUTE NAME(ARGS) under the generic plan. */
static void expect_plan(PGconn *conn, const char *name, const char *args, const char *index, const char *cond_has)
{
  for (int analyze = 0; analyze < 2; analyze++) {
    char sql[512];
    snprintf(sql, sizeof sql, "EXPLAIN (FORMAT JSON%s) EXECUTE %s(%s)", analyze ? ", ANALYZE" : "", name, args);
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
      fail_msg("%s: %s", sql, PQerrorMessage(conn));
    json_error_t err;
    json_t *doc = json_loads(PQgetvalue(res, 0, 0), 0, &err);
    PQclear(res);
    assert_non_null(doc);
    int sorts = 0;
    char cond[1024] = "";
    long long rows = -1;
    walk(json_object_get(json_array_get(doc, 0), "Plan"), index, &sorts, cond, sizeof cond, &rows);
    char *text = json_dumps(doc, JSON_INDENT(1));
    if (sorts != 0 || !strstr(cond, "ROW(") || (cond_has && !strstr(cond, cond_has)) ||
        (analyze && (rows < 1 || rows > 51)))
      fail_msg("%s: want an index scan on %s with the key's range in its Index Cond, no sort, at most a page "
               "read (51); got %d sorts, Index Cond \"%s\", %lld rows:\n%s",
               name, index, sorts, cond, rows, text);
    free(text);
    json_decref(doc);
  }
}

/* On a book of 12,000 open follow-ups, each page statement of the stored
 * order, as the generic plan every connection ends up with, reads its page
 * from its index: the key's range as the Index Cond (the cursor too), no
 * sort, and at most the page's rows. */
static void generic_plans(void **state)
{
  (void)state;
  PGconn *conn = PQconnectdb(getenv("DATABASE_URL"));
  assert_int_equal(PQstatus(conn), CONNECTION_OK);
  /* The order kept for today, as a sweep today would leave it. */
  exec_ok(conn, "UPDATE worklist_order SET preferred_on = current_date");
  exec_ok(conn, "UPDATE follow_ups f SET preferred = coalesce(arc_preferred_on(c, current_date), false) "
                "FROM customers c WHERE c.id = f.customer_id AND f.status IN ('open', 'snoozed')");
  exec_ok(conn, "INSERT INTO customers (name, kind, collector, preferred_contact_days) "
                "SELECT 'Plan ' || g, CASE WHEN g % 4 = 0 THEN 'consumer' ELSE 'commercial' END, 'plan-' || g % 40, "
                "CASE WHEN g % 3 = 0 THEN ARRAY['mon', 'tue', 'wed', 'thu', 'fri'] END "
                "FROM generate_series(1, 4000) g");
  exec_ok(conn, "INSERT INTO follow_ups (customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency) "
                "SELECT c.id, r.reason, 'plan:' || c.id, current_date - (c.id % 20)::integer, c.collector, "
                "(c.id * 7919) % 100000, 'USD' "
                "FROM customers c CROSS JOIN (VALUES ('overdue'), ('retry'), ('confirm_receipt')) r (reason) "
                "WHERE c.name LIKE 'Plan %'");
  exec_ok(conn, "ANALYZE follow_ups");
  exec_ok(conn, "ANALYZE customers");
  assert_stored_true("the plans' book");
  for (const struct db_stmt *s = follow_ups_stmts; s->name; s++) {
    PGresult *res = PQprepare(conn, s->name, s->sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
      fail_msg("prepare %s: %s", s->name, PQerrorMessage(conn));
    PQclear(res);
  }
  exec_ok(conn, "SET plan_cache_mode = force_generic_plan");
  /* A cursor from the middle of the book. */
  char *cursor = harness_sql("SELECT arc_worklist_cursor(f, f.preferred) FROM follow_ups f "
                             "WHERE f.status = 'open' AND f.assignee = 'plan-7' "
                             "ORDER BY -f.amount_overdue, NOT f.preferred, f.priority, f.due_on, f.id OFFSET 20 LIMIT 1");
  assert_non_null(cursor);
  char args[256];
  expect_plan(conn, "follow_ups_select_worklist", "NULL, '51', NULL", "follow_ups_worklist_order_idx", NULL);
  snprintf(args, sizeof args, "'%s', '51', NULL", cursor);
  expect_plan(conn, "follow_ups_select_worklist", args, "follow_ups_worklist_order_idx", NULL);
  expect_plan(conn, "follow_ups_select_worklist_assignee", "NULL, '51', NULL, 'plan-7', NULL",
              "follow_ups_worklist_assignee_idx", "assignee");
  snprintf(args, sizeof args, "'%s', '51', NULL, 'plan-7', NULL", cursor);
  expect_plan(conn, "follow_ups_select_worklist_assignee", args, "follow_ups_worklist_assignee_idx", "assignee");
  expect_plan(conn, "follow_ups_select_worklist_reason", "NULL, '51', NULL, 'retry'", "follow_ups_worklist_reason_idx",
              "reason");
  snprintf(args, sizeof args, "'%s', '51', NULL, 'retry'", cursor);
  expect_plan(conn, "follow_ups_select_worklist_reason", args, "follow_ups_worklist_reason_idx", "reason");
  free(cursor);
  PQfinish(conn);

  /* And what those pages list is the computed order. */
  char got[16384], today[16];
  day(today, 0);
  pages(got, sizeof got, "assignee=plan-7", 50);
  char *ref = computed("plan-7", today);
  assert_string_equal(got, ref);
  free(ref);
}

/* follow_ups_touch (src/db/versions.sql) fires for an update of any column
 * but priority and preferred: a column added to follow_ups must be added
 * to its list, or a change to it alone would make no new version. */
/* assignee=me is the key's actor: the harness's collector key acts as
 * collector@example.com; a key made without an actor has nobody to be. */
static void my_worklist(void **state)
{
  (void)state;
  char mine[32], theirs[32], fu_mine[32], fu_theirs[32], inv[32], today[16];
  day(today, 0);
  customer(mine, "Mine Ltd", "collector@example.com", "null");
  customer(theirs, "Theirs Ltd", "someone-else@example.com", "null");
  new_invoice(inv, .customer = mine, .issued_in = -40, .due_in = -10);
  new_invoice(inv, .customer = theirs, .issued_in = -40, .due_in = -10);
  sweep_at(today, 0);
  open_follow_up(fu_mine, mine);
  open_follow_up(fu_theirs, theirs);
  struct http_resp r = {0};
  http(&r, "GET", "/v1/follow-ups?assignee=me&limit=200", ROLE_COLLECTOR, NULL, NULL);
  assert_status(&r, 200);
  int seen_mine = 0;
  size_t i;
  json_t *row;
  json_array_foreach(json_object_get(r.json, "data"), i, row) {
    assert_string_equal(jstr(row, "assignee"), "collector@example.com");
    seen_mine |= strcmp(jstr(row, "id"), fu_mine) == 0;
    assert_string_not_equal(jstr(row, "id"), fu_theirs);
  }
  assert_true(seen_mine);
  /* The same list as naming the handle. */
  struct http_resp named = {0};
  http(&named, "GET", "/v1/follow-ups?assignee=collector@example.com&limit=200", ROLE_COLLECTOR, NULL, NULL);
  /* Row by row, but for the customers' local time, which moves on. */
  json_t *a = json_object_get(r.json, "data"), *b = json_object_get(named.json, "data");
  assert_int_equal(json_array_size(a), json_array_size(b));
  for (i = 0; i < json_array_size(a); i++)
    assert_true(same_document(json_array_get(a, i), json_array_get(b, i)));
  http_resp_clear(&named);
  /* A key without an actor. */
  http(&r, "POST", "/v1/api-keys", ROLE_ADMIN, "{\"role\": \"collector\", \"name\": \"no actor\"}", NULL);
  assert_status(&r, 201);
  char auth[200];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", jstr(r.json, "key"));
  const char *const as_it[] = {auth, NULL};
  http(&r, "GET", "/v1/follow-ups?assignee=me", NO_KEY, NULL, as_it);
  assert_problem(&r, 422, "validation", "assignee");
  http(&r, "GET", "/v1/follow-ups?assignee=collector@example.com", NO_KEY, NULL, as_it);
  assert_status(&r, 200);
  http_resp_clear(&r);
}

/* Handles match in any case: stored in lower case (src/util/handles.sql),
 * found by a filter in any case, and assignee=me finds the worklist of a
 * key whose actor was typed with capitals. */
static void handles_in_any_case(void **state)
{
  (void)state;
  char cus[32], inv[32], today[16], path[160];
  day(today, 0);
  customer(cus, "Case Ltd", "Maria.Garcia@Example.COM", "null");
  new_invoice(inv, .customer = cus, .issued_in = -40, .due_in = -10);
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s", cus);
  assert_string_equal(jstr(r.json, "collector"), "maria.garcia@example.com");
  http_resp_clear(&r);
  sweep_at(today, 0);
  static const char *const spellings[] = {"maria.garcia@example.com", "MARIA.GARCIA@EXAMPLE.COM",
                                          "Maria.Garcia@example.com"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "/v1/follow-ups?assignee=%s", spellings[i]);
    http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
    assert_int_equal(data_size(&r), 1);
    assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "assignee"),
                        "maria.garcia@example.com");
    snprintf(path, sizeof path, "/v1/follow-ups?assignee=%s&customer_id=%s", spellings[i], cus);
    http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
    assert_int_equal(data_size(&r), 1);
    snprintf(path, sizeof path, "/v1/customers?collector=%s", spellings[i]);
    http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
    assert_int_equal(data_size(&r), 1);
    assert_string_equal(data_id(&r, 0), cus);
  }
  /* An escalation's assignee, and its filter. */
  char body[256];
  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"r\", "
           "\"assignee\": \"Boss@Example.com\"}", cus);
  http(&r, "POST", "/v1/escalations", ROLE_MANAGER, body, NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "assignee"), "boss@example.com");
  http(&r, "GET", "/v1/escalations?assignee=BOSS@example.COM", ROLE_VIEWER, NULL, NULL);
  assert_int_equal(data_size(&r), 1);
  /* The aging report by collector, in any case: the same figures. */
  http(&r, "GET", "/v1/reports/aging?collector=maria.garcia@example.com", ROLE_MANAGER, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "customer_count"), 1);
  char *lower = json_dumps(json_object_get(r.json, "currencies"), JSON_COMPACT | JSON_SORT_KEYS);
  http(&r, "GET", "/v1/reports/aging?collector=Maria.Garcia@EXAMPLE.com", ROLE_MANAGER, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "customer_count"), 1);
  char *mixed = json_dumps(json_object_get(r.json, "currencies"), JSON_COMPACT | JSON_SORT_KEYS);
  assert_non_null(lower);
  assert_string_equal(lower, mixed);
  assert_string_not_equal(lower, "[]");
  free(lower);
  free(mixed);
  /* assignee=me for a key whose actor has capitals. */
  http(&r, "POST", "/v1/api-keys", ROLE_ADMIN,
       "{\"role\": \"collector\", \"name\": \"maria\", \"actor\": \"Maria.Garcia@Example.COM\"}", NULL);
  assert_status(&r, 201);
  char auth[200];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", jstr(r.json, "key"));
  const char *const as_maria[] = {auth, NULL};
  http(&r, "GET", "/v1/follow-ups?assignee=me", NO_KEY, NULL, as_maria);
  assert_status(&r, 200);
  assert_int_equal(data_size(&r), 1);
  http_resp_clear(&r);
}

static void touch_columns(void **state)
{
  (void)state;
  char *all = harness_sql("SELECT string_agg(a.attname, ',' ORDER BY a.attnum) FROM pg_attribute a "
                          "WHERE a.attrelid = 'follow_ups'::regclass AND a.attnum > 0 AND NOT a.attisdropped "
                          "AND a.attname NOT IN ('priority', 'preferred')");
  char *listed = harness_sql("SELECT string_agg(a.attname, ',' ORDER BY a.attnum) FROM pg_trigger t "
                             "JOIN pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = ANY (t.tgattr::int2[]) "
                             "WHERE t.tgrelid = 'follow_ups'::regclass AND t.tgname = 'follow_ups_touch'");
  assert_non_null(all);
  assert_non_null(listed);
  assert_string_equal(listed, all);
  free(all);
  free(listed);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(touch_columns),
      cmocka_unit_test(handles_in_any_case),
      cmocka_unit_test(my_worklist),
      cmocka_unit_test(order_follows_changes),
      cmocka_unit_test(generic_plans),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
