/* GET /v1/customers/{id}/call-sheet: everything about an account before a
 * call.  The sheet is one SQL statement (arc_call_sheet): call_sheet_get
 * issues exactly one db_exec, so every part comes from one snapshot.  That
 * is a property of the handler's code, not something a request can see;
 * these tests check what the sheet holds, in what order, and who gets it. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An instant MINUTES before now, RFC 3339 UTC. */
static void minutes_ago(char out[40], int minutes)
{
  char *t = harness_sql("SELECT to_char((now() - interval '%d minutes') AT TIME ZONE 'UTC', "
                        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                        minutes);
  snprintf(out, 40, "%s", t);
  free(t);
}

/* An unsuccessful outbound call of CUSTOMER that occurred MINUTES ago. */
static void attempt(char out[32], const char *customer, const char *contact, int minutes)
{
  char at[40], body[512];
  minutes_ago(at, minutes);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", "
           "\"outcome\": \"no_answer\", \"contact_id\": \"%s\", \"occurred_at\": \"%s\"}",
           customer, contact, at);
  create_id(out, "/v1/call-logs", body);
}

/* A promise of CUSTOMER for AMOUNT USD, due in DAYS. */
static void promise(char out[32], const char *customer, long long amount, int days)
{
  char on[16], body[256];
  day(on, days);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": %lld, \"currency\": \"USD\", \"promised_on\": \"%s\"}", customer,
           amount, on);
  create_id(out, "/v1/promises", body);
}

static json_t *sheet_ok(const char *customer, enum role who)
{
  struct http_resp r = {0};
  httpf(&r, "GET", who, NULL, "/v1/customers/%s/call-sheet", customer);
  assert_status(&r, 200);
  assert_non_null(r.json);
  json_t *j = json_incref(r.json);
  http_resp_clear(&r);
  return j;
}

/* The ids of ARRAY, in order, as "a,b,c". */
static void ids_of(const json_t *array, char *out, size_t size)
{
  size_t used = 0, i;
  json_t *e;
  out[0] = '\0';
  json_array_foreach(array, i, e) {
    used += (size_t)snprintf(out + used, size - used, "%s%s", i ? "," : "", jstr(e, "id"));
  }
}

/* Asserts DOC equals what GET PATH answers now. */
static void same_as_get(const json_t *doc, const char *path)
{
  struct http_resp r = {0};
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  if (!same_document(doc, r.json)) {
    char *a = json_dumps(doc, JSON_SORT_KEYS);
    fail_msg("%s differs from the sheet:\n sheet: %s\n get:   %s", path, a, r.body);
  }
  http_resp_clear(&r);
}

static void assert_json(const json_t *got, const char *want_text)
{
  json_t *want = json_loads(want_text, 0, NULL);
  assert_non_null(want);
  if (!json_equal(want, got)) {
    char *g = json_dumps(got, JSON_SORT_KEYS);
    fail_msg("expected %s\n     got %s", want_text, g);
  }
  json_decref(want);
}

/* A customer with everything the sheet shows, and things it must leave out. */
static void full_sheet(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char cus[32], body[1024], yesterday[16];
  day(yesterday, -1);
  create_id(cus, "/v1/customers", "{\"name\": \"Sheet & Sons\", \"kind\": \"commercial\"}");

  /* Contacts: the primary one is not the first made. */
  char k1[32], k2[32], k3[32], path[128];
  snprintf(path, sizeof path, "/v1/customers/%s/contacts", cus);
  create_id(k1, path, "{\"name\": \"Ann Payable\", \"role\": \"accounts_payable\"}");
  create_id(k2, path, "{\"name\": \"Bo Owner\", \"role\": \"owner\", \"is_primary\": true}");
  create_id(k3, path, "{\"name\": \"Cy Billing\", \"role\": \"billing\"}");

  /* Open invoices on both sides of every bucket boundary, in two currencies,
   * each issued 30 days before it is due. */
  char ia[32], ib[32], ic[32], id[32], ie[32], iff[32], ij[32], ik[32], ig[32], ih[32], ii[32];
  /* current (due today is not overdue) */
  new_invoice(ia, .customer = cus, .number = "SH-A", .amount = 10000, .issued_in = -20, .due_in = 10);
  new_invoice(ib, .customer = cus, .number = "SH-B", .amount = 20000, .issued_in = -30, .due_in = 0);
  /* 1-30 */
  new_invoice(ic, .customer = cus, .number = "SH-C", .amount = 30000, .issued_in = -31, .due_in = -1);
  new_invoice(id, .customer = cus, .number = "SH-D", .amount = 40000, .issued_in = -60, .due_in = -30);
  /* 31-60 (SH-F partly paid below) */
  new_invoice(ie, .customer = cus, .number = "SH-E", .currency = "EUR", .amount = 50000, .issued_in = -61, .due_in = -31);
  new_invoice(iff, .customer = cus, .number = "SH-F", .amount = 60000, .issued_in = -75, .due_in = -45);
  new_invoice(ij, .customer = cus, .number = "SH-J", .amount = 15000, .issued_in = -90, .due_in = -60);
  /* 61-90 */
  new_invoice(ik, .customer = cus, .number = "SH-K", .currency = "EUR", .amount = 25000, .issued_in = -91, .due_in = -61);
  new_invoice(ig, .customer = cus, .number = "SH-G", .amount = 70000, .issued_in = -120, .due_in = -90);
  /* 91+ */
  new_invoice(ih, .customer = cus, .number = "SH-H", .amount = 80000, .issued_in = -121, .due_in = -91);
  new_invoice(ii, .customer = cus, .number = "SH-I", .currency = "EUR", .amount = 90000, .issued_in = -230, .due_in = -200);
  /* Not open: paid in full, and void. */
  char paid[32], voided[32];
  new_invoice(paid, .customer = cus, .number = "SH-PAID", .amount = 11111, .issued_in = -50, .due_in = -20);
  new_invoice(voided, .customer = cus, .number = "SH-VOID", .amount = 22222, .issued_in = -50, .due_in = -20);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 16111, \"currency\": \"USD\", \"received_on\": \"%s\", "
           "\"method\": \"ach\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 11111}, "
           "{\"invoice_id\": \"%s\", \"amount\": 5000}]}",
           cus, yesterday, paid, iff);
  json_decref(create_ok("/v1/payments", body));
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"status\": \"void\"}", "/v1/invoices/%s", voided);
  assert_status(&r, 200);

  /* Another customer's records never show. */
  char other[32], other_contact[32], other_inv[32], other_log[32];
  create_id(other, "/v1/customers", "{\"name\": \"Someone Else\"}");
  snprintf(path, sizeof path, "/v1/customers/%s/contacts", other);
  create_id(other_contact, path, "{\"name\": \"Not Ours\"}");
  new_invoice(other_inv, .customer = other, .number = "SH-OTHER", .amount = 99999, .issued_in = -80, .due_in = -50);
  attempt(other_log, other, other_contact, 1);

  /* 23 attempts made out of time order, and a reached call with a promise
   * (the newest): the sheet shows the 20 newest by occurred_at. */
  char log_by_age[24][32];
  for (int i = 0; i < 23; i++) {
    int age = (i * 7) % 23 + 1; /* a permutation of 1..23 */
    attempt(log_by_age[age], cus, i % 2 ? k1 : k3, age * 60);
  }
  char at[40], due3[16];
  minutes_ago(at, 10);
  day(due3, 3);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"channel\": \"phone\", \"direction\": \"outbound\", "
           "\"outcome\": \"reached\", \"contact_id\": \"%s\", \"occurred_at\": \"%s\", "
           "\"notes\": \"Pays A on Friday\", \"promise\": {\"amount\": 10000, \"promised_on\": \"%s\", "
           "\"method\": \"ach\"}}",
           cus, ia, k2, at, due3);
  json_t *reached = create_ok("/v1/call-logs", body);
  snprintf(log_by_age[0], 32, "%s", jstr(reached, "id"));
  char p1[32];
  snprintf(p1, sizeof p1, "%s", jstr(json_object_get(reached, "promise"), "id"));
  json_decref(reached);

  /* Promises: pending ones whatever their age, and others made or closed
   * in the last 90 days.  Their past is written directly, after every
   * request that evaluates promises (a backdated one would count
   * yesterday's payment). */
  char p2[32], p3[32], p4[32], p5[32];
  promise(p2, cus, 5000, 5);
  promise(p3, cus, 6000, 5);
  promise(p4, cus, 7000, 5);
  promise(p5, cus, 8000, 5);
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"cancelled\", \"cancel_reason\": \"paid by plan\"}",
        "/v1/promises/%s", p5);
  assert_status(&r, 200);

  /* Disputes: an open one on C; one on D that was rejected, one on B that
   * was resolved. */
  char d_open[32], d_rejected[32], d_resolved[32];
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 3000}", ic);
  create_id(d_open, "/v1/disputes", body);
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"damaged\", \"amount\": 4000}", id);
  create_id(d_rejected, "/v1/disputes", body);
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"rejected\", \"resolution_notes\": \"signed delivery\"}",
        "/v1/disputes/%s", d_rejected);
  assert_status(&r, 200);
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"missing_po\", \"amount\": 2000}", ib);
  create_id(d_resolved, "/v1/disputes", body);
  httpf(&r, "PATCH", ROLE_MANAGER, "{\"status\": \"resolved\", \"resolution\": \"customer_accepted\"}",
        "/v1/disputes/%s", d_resolved);
  assert_status(&r, 200);

  harness_sql("UPDATE promises SET created_at = now() - interval '200 days' WHERE id = %s", p2);
  harness_sql("UPDATE promises SET status = 'kept', kept_at = now() - interval '100 days', "
              "created_at = now() - interval '120 days' WHERE id = %s",
              p3);
  harness_sql("UPDATE promises SET status = 'broken', broken_at = now() - interval '10 days', "
              "created_at = now() - interval '120 days' WHERE id = %s",
              p4);

  json_t *s = sheet_ok(cus, ROLE_COLLECTOR);
  char got[2048], want[2048];

  /* The customer exactly as GET shows it. */
  snprintf(path, sizeof path, "/v1/customers/%s", cus);
  same_as_get(json_object_get(s, "customer"), path);

  /* Contacts: the primary first, then by id. */
  ids_of(json_object_get(s, "contacts"), got, sizeof got);
  snprintf(want, sizeof want, "%s,%s,%s", k2, k1, k3);
  assert_string_equal(got, want);
  snprintf(path, sizeof path, "/v1/customers/%s/contacts/%s", cus, k2);
  same_as_get(json_array_get(json_object_get(s, "contacts"), 0), path);

  /* Open invoices by due date, each with its bucket; as GET shows them. */
  json_t *open = json_object_get(s, "open_invoices");
  ids_of(open, got, sizeof got);
  snprintf(want, sizeof want, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s", ii, ih, ig, ik, ij, iff, ie, id, ic, ib, ia);
  assert_string_equal(got, want);
  static const char *const buckets[] = {"91+",   "91+",  "61-90", "61-90",   "31-60",  "31-60",
                                        "31-60", "1-30", "1-30",  "current", "current"};
  size_t i;
  json_t *inv;
  json_array_foreach(open, i, inv) {
    assert_string_equal(jstr(inv, "aging_bucket"), buckets[i]);
    json_t *copy = json_deep_copy(inv);
    json_object_del(copy, "aging_bucket");
    snprintf(path, sizeof path, "/v1/invoices/%s", jstr(inv, "id"));
    same_as_get(copy, path);
    json_decref(copy);
  }
  assert_int_equal(jint(json_array_get(open, 5), "balance"), 55000);
  /* The open dispute shows on its invoice; the closed ones do not. */
  assert_true(json_is_true(json_object_get(json_array_get(open, 8), "in_dispute")));
  assert_true(json_is_false(json_object_get(json_array_get(open, 7), "in_dispute")));
  assert_true(json_is_false(json_object_get(json_array_get(open, 9), "in_dispute")));

  /* Aging: open balances (not amounts) per bucket and currency, exactly. */
  assert_json(json_object_get(s, "aging"), "{\"current\": {\"USD\": 30000}, \"1-30\": {\"USD\": 70000}, "
                                           "\"31-60\": {\"USD\": 70000, \"EUR\": 50000}, "
                                           "\"61-90\": {\"USD\": 70000, \"EUR\": 25000}, "
                                           "\"91+\": {\"USD\": 80000, \"EUR\": 90000}}");

  /* The 20 newest call logs, newest first, the reached call on top. */
  json_t *logs = json_object_get(s, "call_logs");
  assert_int_equal(json_array_size(logs), 20);
  size_t used = 0;
  for (int age = 0; age < 20; age++)
    used += (size_t)snprintf(want + used, sizeof want - used, "%s%s", age ? "," : "", log_by_age[age]);
  ids_of(logs, got, sizeof got);
  assert_string_equal(got, want);
  assert_string_equal(jstr(json_array_get(logs, 0), "promise_id"), p1);
  snprintf(path, sizeof path, "/v1/call-logs/%s", log_by_age[0]);
  same_as_get(json_array_get(logs, 0), path);

  /* Promises: newest first; the one kept long ago is left out. */
  json_t *proms = json_object_get(s, "promises");
  ids_of(proms, got, sizeof got);
  snprintf(want, sizeof want, "%s,%s,%s,%s", p5, p1, p4, p2);
  assert_string_equal(got, want);
  assert_string_equal(jstr(json_array_get(proms, 3), "status"), "pending");
  json_t *pr;
  json_array_foreach(proms, i, pr) {
    snprintf(path, sizeof path, "/v1/promises/%s", jstr(pr, "id"));
    same_as_get(pr, path);
  }

  /* Only the open dispute. */
  json_t *disp = json_object_get(s, "disputes");
  ids_of(disp, got, sizeof got);
  assert_string_equal(got, d_open);
  snprintf(path, sizeof path, "/v1/disputes/%s", d_open);
  same_as_get(json_array_get(disp, 0), path);

  /* Plans and escalations do not exist yet; no sweep ran, so no follow-ups. */
  assert_true(json_is_null(json_object_get(s, "plan")));
  assert_true(json_is_null(json_object_get(s, "escalation")));
  assert_true(json_is_array(json_object_get(s, "follow_ups")));
  assert_int_equal(json_array_size(json_object_get(s, "follow_ups")), 0);
  const char *gen = jstr(s, "generated_at");
  assert_non_null(gen);
  assert_int_equal(strlen(gen), 27);
  assert_int_equal(gen[26], 'Z');
  assert_int_equal(json_object_size(s), 11);

  json_decref(s);
  http_resp_clear(&r);
}

/* A customer with nothing yet: every part present and empty. */
static void empty_sheet(void **state)
{
  (void)state;
  char cus[32];
  create_id(cus, "/v1/customers", "{\"name\": \"Blank Slate\"}");
  json_t *s = sheet_ok(cus, ROLE_VIEWER);
  assert_string_equal(jstr(json_object_get(s, "customer"), "id"), cus);
  static const char *const lists[] = {"contacts", "open_invoices", "call_logs", "promises", "disputes", "follow_ups"};
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
    json_t *a = json_object_get(s, lists[i]);
    if (!json_is_array(a) || json_array_size(a) != 0)
      fail_msg("%s is not []", lists[i]);
  }
  assert_json(json_object_get(s, "aging"),
              "{\"current\": {}, \"1-30\": {}, \"31-60\": {}, \"61-90\": {}, \"91+\": {}}");
  assert_true(json_is_null(json_object_get(s, "plan")));
  assert_true(json_is_null(json_object_get(s, "escalation")));
  json_decref(s);
}

/* Unknown and malformed ids, no key, query parameters, other methods. */
static void errors(void **state)
{
  (void)state;
  char cus[32], path[128];
  create_id(cus, "/v1/customers", "{\"name\": \"Error Co\"}");
  snprintf(path, sizeof path, "/v1/customers/%s/call-sheet?as_of=2026-01-01", cus);
  const struct step steps[] = {
      {"unknown customer", "GET", "/v1/customers/999999999/call-sheet", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"not an id", "GET", "/v1/customers/abc/call-sheet", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"zero", "GET", "/v1/customers/0/call-sheet", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"negative", "GET", "/v1/customers/-1/call-sheet", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"too long", "GET", "/v1/customers/1234567890123456789/call-sheet", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"beyond bigint", "GET", "/v1/customers/99999999999999999999/call-sheet", ROLE_ADMIN, NULL, 404, "not-found",
       NULL},
      {"quote", "GET", "/v1/customers/1'--/call-sheet", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"no key", "GET", "/v1/customers/1/call-sheet", NO_KEY, NULL, 401, "unauthorized", NULL},
      {"query parameter", "GET", path, ROLE_ADMIN, NULL, 422, "validation", "as_of"},
      {"POST", "POST", "/v1/customers/1/call-sheet", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
      {"DELETE", "DELETE", "/v1/customers/1/call-sheet", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
  };
  run_steps(steps, sizeof steps / sizeof steps[0]);

  struct http_resp r = {0};
  const char *const bad_key[] = {
      "Authorization: Bearer arc_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL};
  snprintf(path, sizeof path, "/v1/customers/%s/call-sheet", cus);
  http(&r, "GET", path, NO_KEY, NULL, bad_key);
  assert_problem(&r, 401, "unauthorized", NULL);
  http(&r, "POST", path, ROLE_ADMIN, "{}", NULL);
  assert_problem(&r, 405, "method-not-allowed", NULL);
  assert_non_null(strstr(r.allow, "GET"));
  assert_null(strstr(r.allow, "POST"));
  http_resp_clear(&r);
}

/* Every role reads the sheet; HEAD answers without a body. */
static void every_role_reads(void **state)
{
  (void)state;
  char cus[32], path[128];
  create_id(cus, "/v1/customers", "{\"name\": \"Open Book\"}");
  snprintf(path, sizeof path, "/v1/customers/%s/call-sheet", cus);
  static const enum role roles[] = {ROLE_ADMIN, ROLE_MANAGER, ROLE_COLLECTOR, ROLE_VIEWER, ROLE_INTEGRATION};
  struct http_resp r = {0};
  for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
    http(&r, "GET", path, roles[i], NULL, NULL);
    assert_status(&r, 200);
    assert_string_equal(jstr(json_object_get(r.json, "customer"), "id"), cus);
    http(&r, "HEAD", path, roles[i], NULL, NULL);
    assert_status(&r, 200);
    assert_null(r.body);
  }
  http_resp_clear(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(full_sheet),
      cmocka_unit_test(empty_sheet),
      cmocka_unit_test(errors),
      cmocka_unit_test(every_role_reads),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
