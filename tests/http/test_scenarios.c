/* The sweep's rules as a collector lives them (SPEC P1-P3, P5, P6, P11,
 * P12, P14, P15): one account replayed day by day with POST
 * /v1/scheduler/runs {"as_of"}, its data made through the API, what the
 * collector sees read through GET /v1/follow-ups.
 *
 * Dates are relative to fixed days.  Call logs, receipt confirmations and
 * payments cannot be in the future, so most scenarios live in the past
 * (BASE); promises (promised_on >= today) and disputes (dated by the
 * clock) live around today.  The sweep reads only as_of, so either works.
 *
 * A follow-up's story is checked as "status:due:closed_reason" per
 * follow-up of a reason, oldest first, with due as days after the
 * scenario's first day: "done:1:contact_logged open:4". */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A Monday long past: every day of these scenarios is before today. */
#define BASE "2026-03-02"
#define COLLECTOR "maria@example.com"

/* A moment ago, and its business day: for what cannot be in the future
 * but must be recent (a call that makes a promise due from today). */
static void just_now(char instant[40], char day_out[16])
{
  char *t = harness_sql("SELECT arc_ts(now() - interval '1 minute')");
  snprintf(instant, 40, "%s", t);
  free(t);
  char *d = harness_sql("SELECT to_char(('%s'::timestamptz AT TIME ZONE '%s')::date, 'YYYY-MM-DD')", instant, tz());
  snprintf(day_out, 16, "%s", d);
  free(d);
}

/* What the worklist of DATE + DAYS holds for customer CUS: reasons in the
 * worklist's order, "promise_broken,retry". */
static void worklist(char *out, size_t size, const char *cus, const char *date, int days)
{
  char day[16];
  date_plus(day, date, days);
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/follow-ups?customer_id=%s&due_on=%s&limit=200", cus, day);
  assert_status(&r, 200);
  size_t i, used = 0;
  json_t *e;
  out[0] = '\0';
  json_array_foreach(json_object_get(r.json, "data"), i, e) used +=
      (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "", jstr(e, "reason"));
  http_resp_clear(&r);
}

static void expect_worklist(const char *when, const char *cus, const char *date, int days, const char *want)
{
  char got[512];
  worklist(got, sizeof got, cus, date, days);
  if (strcmp(got, want) != 0)
    fail_msg("%s: worklist of customer %s: expected \"%s\", got \"%s\"", when, cus, want, got);
}

/* The document of customer CUS's follow-up for REASON in STATUS, as
 * GET /v1/follow-ups/{id} shows it (the caller decrefs). */
static json_t *follow_up(const char *cus, const char *reason, const char *status)
{
  char *id = harness_sql("SELECT max(id) FROM follow_ups WHERE customer_id = %s AND reason = '%s' AND status = '%s'",
                         cus, reason, status);
  if (!id)
    fail_msg("customer %s has no %s follow-up %s", cus, status, reason);
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/follow-ups/%s", id);
  free(id);
  assert_status(&r, 200);
  json_t *doc = json_incref(r.json);
  http_resp_clear(&r);
  return doc;
}

static void customer(char out[32], const char *name, const char *extra)
{
  char body[512];
  snprintf(body, sizeof body, "{\"name\": \"%s\", \"collector\": \"" COLLECTOR "\"%s%s}", name, *extra ? ", " : "",
           extra);
  json_t *j = create_ok("/v1/customers", body);
  snprintf(out, 32, "%s", jstr(j, "id"));
  json_decref(j);
}

/* An outbound phone call to customer CUS at instant WHEN with OUTCOME;
 * EXTRA adds members (a promise).  Returns the call log document. */
static json_t *call(const char *cus, const char *when, const char *outcome, const char *extra)
{
  char body[1024];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", \"outcome\": \"%s\", "
           "\"contact_name\": \"Pat (accounts payable)\", \"occurred_at\": \"%s\", \"logged_by\": \"" COLLECTOR
           "\"%s%s}",
           cus, outcome, when, *extra ? ", " : "", extra);
  return create_ok("/v1/call-logs", body);
}

static void call_at(const char *cus, const char *date, int days, const char *hhmm, const char *outcome)
{
  char when[40];
  instant_at(when, date, days, hhmm);
  json_decref(call(cus, when, outcome, ""));
}

/* A reached call to CUS at instant WHEN with a USD promise of AMOUNT for
 * PROMISED_ON; the promise's id goes to PROMISE. */
static void call_with_promise(char promise[32], const char *cus, const char *when, long long amount,
                              const char *promised_on)
{
  char extra[256];
  snprintf(extra, sizeof extra,
           "\"promise\": {\"amount\": %lld, \"currency\": \"USD\", \"promised_on\": \"%s\", \"method\": \"ach\"}",
           amount, promised_on);
  json_t *log = call(cus, when, "reached", extra);
  snprintf(promise, 32, "%s", jstr(log, "promise_id"));
  json_decref(log);
}

/* A USD payment of AMOUNT received on DATE + DAYS, allocated oldest first. */
static void pay(const char *cus, long long amount, const char *date, int days)
{
  char received[16], body[256];
  date_plus(received, date, days);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": %lld, \"currency\": \"USD\", \"received_on\": \"%s\", "
           "\"method\": \"ach\"}",
           cus, amount, received);
  json_decref(create_ok("/v1/payments", body));
}

static void patch_ok(const char *path, const char *body, enum role who)
{
  struct http_resp r = {0};
  http(&r, "PATCH", path, who, body, NULL);
  assert_status(&r, 200);
  http_resp_clear(&r);
}

/* P1: receipt is confirmed with new customers and late payers, from
 * issued_on + 2 until it is confirmed; not with customers who pay on time. */
static void confirm_receipt(void **state)
{
  (void)state;
  char fresh[32], punctual[32], late[32], inv[32], old[32], path[96], body[256], confirmed_at[40];
  customer(fresh, "Receipt New Ltd", "");
  customer(punctual, "Receipt Punctual Ltd", "");
  customer(late, "Receipt Late Ltd", "");
  /* The punctual customer paid an earlier invoice before it was due, the
   * late one 10 days after. */
  new_invoice(old, .customer = punctual, .from = BASE, .issued_in = -60, .due_in = -30, .amount = 5000);
  pay(punctual, 5000, BASE, -35);
  new_invoice(old, .customer = late, .from = BASE, .issued_in = -60, .due_in = -30, .amount = 5000);
  pay(late, 5000, BASE, -20);
  new_invoice(inv, .customer = fresh, .from = BASE, .issued_in = 0, .due_in = 30, .amount = 10000);
  new_invoice(old, .customer = punctual, .from = BASE, .issued_in = 0, .due_in = 30, .amount = 10000);
  new_invoice(old, .customer = late, .from = BASE, .issued_in = 0, .due_in = 30, .amount = 10000);

  sweep_at(BASE, 1);
  expect_story("the day after issue", fresh, "confirm_receipt", BASE, "");
  sweep_at(BASE, 2);
  expect_story("issued_on + 2", fresh, "confirm_receipt", BASE, "open:2");
  expect_story("issued_on + 2", late, "confirm_receipt", BASE, "open:2");
  expect_story("issued_on + 2", punctual, "confirm_receipt", BASE, "");
  expect_worklist("issued_on + 2", fresh, BASE, 2, "confirm_receipt");
  json_t *doc = follow_up(fresh, "confirm_receipt", "open");
  char ids[48];
  snprintf(ids, sizeof ids, "[\"%s\"]", inv);
  expect_json(doc, "invoice_ids", ids);
  assert_string_equal(jstr(doc, "assignee"), COLLECTOR);
  assert_int_equal(jint(doc, "priority"), 7);
  json_decref(doc);

  /* Confirmed in the afternoon: the next sweep closes it, at its as_of. */
  instant_at(confirmed_at, BASE, 2, "15:00");
  snprintf(path, sizeof path, "/v1/invoices/%s/receipt-confirmation", inv);
  snprintf(body, sizeof body, "{\"confirmed_by\": \"Ann (AP)\", \"via\": \"email\", \"confirmed_at\": \"%s\"}",
           confirmed_at);
  struct http_resp r = {0};
  http(&r, "POST", path, ROLE_COLLECTOR, body, NULL);
  assert_status(&r, 200);
  http_resp_clear(&r);
  sweep_at(BASE, 3);
  expect_story("after confirmation", fresh, "confirm_receipt", BASE, "done:2:cause_gone");
  /* Closed in real time, not at the replayed as_of. */
  doc = follow_up(fresh, "confirm_receipt", "done");
  assert_true(recorded_now(jstr(doc, "closed_at")));
  json_decref(doc);
  /* Unconfirmed, the late payer's stays until the invoice is due, then
   * gives way to dunning. */
  sweep_at(BASE, 30);
  expect_story("due date", late, "confirm_receipt", BASE, "open:2");
  sweep_at(BASE, 31);
  expect_story("overdue", late, "confirm_receipt", BASE, "done:2:cause_gone");
  expect_story("overdue", late, "overdue", BASE, "open:31");
}

/* P2, P3: overdue on the first day past due (not on the due date); a call
 * closes it at once; retries every cadence_days after the last contact,
 * unanswered or answered without a promise. */
static void overdue_and_retry(void **state)
{
  (void)state;
  char cus[32], slow[32], inv[32], other[32];
  customer(cus, "Overdue Ltd", "");
  customer(slow, "Cadence Five Ltd", "\"cadence_days\": 5");
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 50000);
  new_invoice(other, .customer = slow, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 20000);

  /* Called on the first day past due before the morning's sweep: that was
   * the overdue call. */
  char early[32];
  customer(early, "Early Call Ltd", "");
  new_invoice(other, .customer = early, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 20000);
  call_at(early, BASE, 1, "08:00", "no_answer");

  sweep_at(BASE, 0);
  expect_story("due date", cus, "overdue", BASE, "");
  sweep_at(BASE, 1);
  expect_story("day 1", cus, "overdue", BASE, "open:1");
  expect_story("day 1", slow, "overdue", BASE, "open:1");
  expect_story("day 1, called already", early, "overdue", BASE, "");
  expect_worklist("day 1", cus, BASE, 1, "overdue");
  json_t *doc = follow_up(cus, "overdue", "open");
  assert_int_equal(jint(doc, "amount_overdue"), 50000);
  assert_string_equal(jstr(doc, "currency"), "USD");
  assert_string_equal(jstr(doc, "assignee"), COLLECTOR);
  char ids[48];
  snprintf(ids, sizeof ids, "[\"%s\"]", inv);
  expect_json(doc, "invoice_ids", ids);
  json_decref(doc);

  /* No answer: closed at once by the call, by whoever logged it. */
  char when[40];
  instant_at(when, BASE, 1, "14:00");
  json_t *log = call(cus, when, "no_answer", "");
  expect_story("after the call", cus, "overdue", BASE, "done:1:contact_logged");
  doc = follow_up(cus, "overdue", "done");
  assert_string_equal(jstr(doc, "closed_by"), COLLECTOR);
  assert_string_equal(jstr(doc, "closed_at"), jstr(log, "created_at"));
  json_decref(doc);
  json_decref(log);
  call_at(slow, BASE, 1, "14:00", "no_answer");

  /* Nothing on the two days after; the retry on the third. */
  sweep_days(BASE, 2, 3);
  expect_story("days 1-2 after the call", cus, "retry", BASE, "");
  expect_story("days 1-2 after the call", cus, "overdue", BASE, "done:1:contact_logged");
  expect_worklist("days 1-2 after the call", cus, BASE, 3, "");
  sweep_at(BASE, 4);
  expect_story("day 3 after the call", cus, "retry", BASE, "open:4");
  expect_story("day 3 after the early call", early, "retry", BASE, "open:4");
  expect_worklist("day 3 after the call", cus, BASE, 4, "retry");

  /* A customer's own cadence: day 5, not day 3 or 4. */
  sweep_at(BASE, 5);
  expect_story("cadence 5, day 4", slow, "retry", BASE, "");
  sweep_at(BASE, 6);
  expect_story("cadence 5, day 5", slow, "retry", BASE, "open:6");

  /* A call logged late for a day before the follow-up was due does not
   * answer it (and is not the last contact either). */
  call_at(cus, BASE, 0, "16:00", "reached");
  expect_story("late entry", cus, "retry", BASE, "open:4");

  /* Reached, but no promise: the same cadence from this call. */
  call_at(cus, BASE, 6, "10:00", "reached");
  expect_story("reached", cus, "retry", BASE, "done:4:contact_logged");
  sweep_days(BASE, 7, 8);
  expect_story("2 days after the talk", cus, "retry", BASE, "done:4:contact_logged");
  sweep_at(BASE, 9);
  expect_story("3 days after the talk", cus, "retry", BASE, "done:4:contact_logged open:9");
}

/* P5: a promise keeps the account quiet until promised_on + grace (1); the
 * day after, unpaid, it is broken and followed up first; then the payment
 * closes what it was about and is thanked for (P11), last. */
static void promise_kept_quiet_then_broken(void **state)
{
  (void)state;
  char cus[32], inv[32], now_at[40], today[16], promised_on[16];
  just_now(now_at, today);
  customer(cus, "Promise Ltd", "");
  new_invoice(inv, .customer = cus, .from = today, .issued_in = -40, .due_in = -10, .amount = 30000);
  sweep_at(today, -9);
  expect_story("day 1", cus, "overdue", today, "open:-9");

  /* A call today: reached, promise to pay everything in two days. */
  date_plus(promised_on, today, 2);
  char promise[32];
  call_with_promise(promise, cus, now_at, 30000, promised_on);
  expect_story("the call", cus, "overdue", today, "done:-9:contact_logged");

  /* Quiet through promised_on + 1, although a retry would be due on day 3. */
  sweep_days(today, 1, 3);
  expect_story("promise pending", cus, "retry", today, "");
  expect_story("promise pending", cus, "promise_broken", today, "");
  expect_story("promise pending", cus, "overdue", today, "done:-9:contact_logged");
  expect_worklist("promise pending", cus, today, 3, "");

  /* The day after the grace day: broken, at once, above the plain retry. */
  sweep_at(today, 4);
  expect_story("broken", cus, "promise_broken", today, "open:4");
  expect_story("broken", cus, "retry", today, "open:3");
  expect_worklist("broken", cus, today, 4, "promise_broken,retry");
  json_t *doc = follow_up(cus, "promise_broken", "open");
  assert_string_equal(jstr(doc, "promise_id"), promise);
  assert_int_equal(jint(doc, "priority"), 1);
  assert_int_equal(jint(doc, "amount_overdue"), 30000);
  json_decref(doc);
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/promises/%s", promise);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "broken");
  http_resp_clear(&r);

  /* Paid today: what it was about closes, a thank-you comes, last. */
  pay(cus, 30000, today, 0);
  json_t *run = sweep_at_doc(today, 5);
  expect_story("paid", cus, "promise_broken", today, "done:4:cause_gone");
  expect_story("paid", cus, "retry", today, "done:3:cause_gone");
  expect_story("paid", cus, "thank_you", today, "open:0");
  assert_true(json_integer_value(json_object_get(json_object_get(run, "closed"), "promise_broken")) >= 1);
  assert_true(json_integer_value(json_object_get(json_object_get(run, "created"), "thank_you")) >= 1);
  json_decref(run);
  doc = follow_up(cus, "thank_you", "open");
  assert_int_equal(jint(doc, "priority"), 9);
  assert_int_equal(jint(doc, "amount_overdue"), 0);
  assert_true(json_is_string(json_object_get(doc, "payment_id")));
  json_decref(doc);
  expect_worklist("paid", cus, today, 5, "thank_you");
}

/* A sweep replayed for a later day (ARC_TIME_TRAVEL) makes an overdue
 * follow-up of an invoice that is not yet due today: read today, it is 0
 * days overdue, not a negative count. */
static void not_yet_overdue_today(void **state)
{
  (void)state;
  char cus[32], inv[32], today[16];
  day(today, 0);
  customer(cus, "Later Ltd", "");
  new_invoice(inv, .customer = cus, .from = today, .issued_in = -20, .due_in = 3, .amount = 12000);
  sweep_at(today, 6);
  expect_story("in six days", cus, "overdue", today, "open:4");
  json_t *doc = follow_up(cus, "overdue", "open");
  assert_int_equal(jint(doc, "days_overdue"), 0);
  json_decref(doc);
}

/* P5: a promise kept by a payment that bounces after its due date breaks
 * on the day of the bounce, and is followed up from that day: a call made
 * before the bounce (after the promise was kept) is no contact since. */
static void bounced_payment_breaks_promise(void **state)
{
  (void)state;
  char cus[32], a[32], b[32], today[16], when[40], promised_on[16];
  day(today, 0);
  customer(cus, "Bounce Ltd", "");
  new_invoice(a, .customer = cus, .from = today, .issued_in = -40, .due_in = -10, .amount = 30000);
  new_invoice(b, .customer = cus, .from = today, .issued_in = -38, .due_in = -8, .amount = 30000);
  /* Received three days ago (it pays the older invoice); five days ago the
   * customer had promised as much for three days ago: kept. */
  pay(cus, 30000, today, -3);
  instant_at(when, today, -5, "10:00");
  date_plus(promised_on, today, -3);
  char promise[32];
  call_with_promise(promise, cus, when, 30000, promised_on);
  char *status = harness_sql("SELECT status FROM promises WHERE id = %s", promise);
  assert_string_equal(status, "kept");
  free(status);
  /* A call two days ago; today the payment bounces: the promise breaks today. */
  call_at(cus, today, -2, "10:00", "reached");
  char *pay_id = harness_sql("SELECT max(id) FROM payments WHERE customer_id = %s", cus);
  char etag[48], path[64];
  snprintf(etag, sizeof etag, "If-Match: \"%lld\"", harness_sql_int("SELECT version FROM payments WHERE id = %s", pay_id));
  snprintf(path, sizeof path, "/v1/payments/%s/reversal", pay_id);
  free(pay_id);
  struct http_resp r = {0};
  http(&r, "POST", path, ROLE_MANAGER, "{\"reason\": \"check bounced\"}", (const char *const[]){etag, NULL});
  assert_status(&r, 200);
  http_resp_clear(&r);
  status = harness_sql("SELECT status FROM promises WHERE id = %s", promise);
  assert_string_equal(status, "broken");
  free(status);
  sweep_at(today, 0);
  expect_story("bounced", cus, "promise_broken", today, "open:0");
}

/* P5 with P3: a promise over one invoice of two keeps only what it covers
 * quiet; the rest keeps its cadence, and its follow-ups show the promise.
 * A promise of everything keeps the account quiet (above). */
static void promise_over_one_invoice(void **state)
{
  (void)state;
  char cus[32], a[32], b[32], now_at[40], today[16], promised_on[16], extra[256];
  just_now(now_at, today);
  customer(cus, "Half Promise Ltd", "");
  new_invoice(a, .customer = cus, .from = today, .issued_in = -50, .due_in = -20, .amount = 10000);
  new_invoice(b, .customer = cus, .from = today, .issued_in = -40, .due_in = -10, .amount = 20000);
  sweep_at(today, 0);
  expect_story("overdue", cus, "overdue", today, "open:-19");
  date_plus(promised_on, today, 10);
  snprintf(extra, sizeof extra,
           "\"promise\": {\"amount\": 10000, \"currency\": \"USD\", \"promised_on\": \"%s\", "
           "\"invoice_ids\": [\"%s\"]}",
           promised_on, a);
  json_t *log = call(cus, now_at, "reached", extra);
  char promise[32];
  snprintf(promise, sizeof promise, "%s", jstr(log, "promise_id"));
  json_decref(log);
  expect_story("the call", cus, "overdue", today, "done:-19:contact_logged");
  /* Three days on: the retry of the other 200.00, showing the promise. */
  sweep_days(today, 1, 3);
  expect_story("cadence goes on", cus, "retry", today, "open:3");
  json_t *doc = follow_up(cus, "retry", "open");
  assert_string_equal(jstr(doc, "promise_id"), promise);
  assert_int_equal(jint(doc, "amount_overdue"), 30000);
  json_decref(doc);
  /* A second promise, for invoice B: together they cover the account, which
   * is quiet again; the retry closes. */
  char body[512];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 20000, \"currency\": \"USD\", \"promised_on\": \"%s\", "
           "\"invoice_ids\": [\"%s\"]}",
           cus, promised_on, b);
  json_decref(create_ok("/v1/promises", body));
  sweep_at(today, 4);
  expect_story("covered", cus, "retry", today, "done:3:cause_gone");
  sweep_days(today, 5, 8);
  expect_story("covered, days on", cus, "retry", today, "done:3:cause_gone");
}

/* A payment closes the overdue follow-ups (cause_gone, at the sweep's
 * as_of); a part payment only lowers the amount.  No thank-you without
 * collection activity in the 60 days before the payment. */
static void payment_closes_overdue(void **state)
{
  (void)state;
  char cus[32], inv[32];
  customer(cus, "Paying Ltd", "");
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 40000);
  /* Contact long ago (before the invoice): not collection activity for a
   * payment 64 days later. */
  call_at(cus, BASE, -61, "10:00", "reached");
  sweep_at(BASE, 1);
  expect_story("day 1", cus, "overdue", BASE, "open:1");

  pay(cus, 10000, BASE, 2);
  sweep_at(BASE, 2);
  expect_story("part paid", cus, "overdue", BASE, "open:1");
  json_t *doc = follow_up(cus, "overdue", "open");
  assert_int_equal(jint(doc, "amount_overdue"), 30000);
  json_decref(doc);

  pay(cus, 30000, BASE, 3);
  sweep_at(BASE, 3);
  expect_story("paid", cus, "overdue", BASE, "done:1:cause_gone");
  doc = follow_up(cus, "overdue", "done");
  assert_true(recorded_now(jstr(doc, "closed_at")));
  assert_true(json_is_null(json_object_get(doc, "closed_by")));
  json_decref(doc);
  expect_story("paid", cus, "thank_you", BASE, "");
  expect_worklist("paid", cus, BASE, 3, "");

  /* The same payments after a call in the window are thanked for. */
  char thanked[32];
  customer(thanked, "Thanked Ltd", "");
  new_invoice(inv, .customer = thanked, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 40000);
  call_at(thanked, BASE, -20, "10:00", "no_answer");
  pay(thanked, 40000, BASE, 3);
  sweep_at(BASE, 4);
  expect_story("paid after a call", thanked, "thank_you", BASE, "open:3");
  /* A week after the payment it is no longer news. */
  char late[32];
  customer(late, "Thanked Late Ltd", "");
  new_invoice(inv, .customer = late, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 40000);
  call_at(late, BASE, -20, "10:00", "no_answer");
  pay(late, 40000, BASE, 3);
  sweep_at(BASE, 11);
  expect_story("8 days after the payment", late, "thank_you", BASE, "");
}

/* P6: an invoice under open dispute is not dunned; the dispute gets an
 * internal follow-up; once rejected, dunning resumes. */
static void disputed_invoice(void **state)
{
  (void)state;
  char cus[32], two[32], inv[32], small[32], now_at[40], today[16], body[256];
  just_now(now_at, today);
  customer(cus, "Dispute Ltd", "");
  customer(two, "Half Disputed Ltd", "");
  new_invoice(inv, .customer = cus, .from = today, .issued_in = -40, .due_in = -10, .amount = 20000);
  char big[32];
  new_invoice(big, .customer = two, .from = today, .issued_in = -40, .due_in = -10, .amount = 20000);
  new_invoice(small, .customer = two, .from = today, .issued_in = -35, .due_in = -5, .amount = 7000);
  sweep_at(today, -9);
  expect_story("overdue", cus, "overdue", today, "open:-9");
  expect_story("overdue", two, "overdue", today, "open:-9");

  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 5000}", inv);
  json_t *d = create_ok("/v1/disputes", body);
  char dispute[32];
  snprintf(dispute, sizeof dispute, "%s", jstr(d, "id"));
  json_decref(d);
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"quantity\", \"amount\": 20000}", big);
  json_decref(create_ok("/v1/disputes", body));

  sweep_at(today, 1);
  expect_story("disputed", cus, "overdue", today, "done:-9:cause_gone");
  expect_story("disputed", cus, "resolve_dispute", today, "open:0");
  expect_worklist("disputed", cus, today, 1, "resolve_dispute");
  json_t *doc = follow_up(cus, "resolve_dispute", "open");
  assert_string_equal(jstr(doc, "dispute_id"), dispute);
  assert_int_equal(jint(doc, "priority"), 6);
  json_decref(doc);
  /* The other customer still owes the undisputed invoice: dunned for it
   * alone. */
  expect_story("one of two disputed", two, "overdue", today, "open:-9");
  doc = follow_up(two, "overdue", "open");
  assert_int_equal(jint(doc, "amount_overdue"), 7000);
  char ids[48];
  snprintf(ids, sizeof ids, "[\"%s\"]", small);
  expect_json(doc, "invoice_ids", ids);
  json_decref(doc);

  char path[64];
  snprintf(path, sizeof path, "/v1/disputes/%s", dispute);
  patch_ok(path, "{\"status\": \"rejected\", \"resolution_notes\": \"Prices as quoted\"}", ROLE_MANAGER);
  sweep_at(today, 2);
  expect_story("rejected", cus, "resolve_dispute", today, "done:0:cause_gone");
  expect_story("rejected", cus, "overdue", today, "done:-9:cause_gone open:-9");
  expect_worklist("rejected", cus, today, 2, "overdue");
}

/* P14: a factored invoice is the factor's to collect. */
static void factored_invoice(void **state)
{
  (void)state;
  char cus[32], inv[32], path[64];
  customer(cus, "Factored Ltd", "");
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 15000,
              .extra = "\"factored\": true");
  sweep_at(BASE, 1);
  expect_story("factored", cus, "overdue", BASE, "");
  expect_worklist("factored", cus, BASE, 1, "");
  snprintf(path, sizeof path, "/v1/invoices/%s", inv);
  patch_ok(path, "{\"factored\": false}", ROLE_ADMIN);
  sweep_at(BASE, 2);
  expect_story("bought back", cus, "overdue", BASE, "open:1");
}

/* P15: after a cease-communication request only internal follow-ups. */
static void cease_communication(void **state)
{
  (void)state;
  char quiet[32], stop[32], inv[32], current[32], now_at[40], today[16], body[256], path[64];
  just_now(now_at, today);
  customer(quiet, "Cease Ltd", "\"cease_communication\": true, \"check_in_days\": 5");
  customer(stop, "Stops Later Ltd", "");
  new_invoice(inv, .customer = quiet, .from = today, .issued_in = -40, .due_in = -10, .amount = 9000);
  new_invoice(current, .customer = quiet, .from = today, .issued_in = -20, .due_in = 10, .amount = 9000);
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"damaged\", \"amount\": 9000}", current);
  json_decref(create_ok("/v1/disputes", body));
  new_invoice(inv, .customer = stop, .from = today, .issued_in = -40, .due_in = -10, .amount = 9000);

  sweep_at(today, -9);
  expect_story("overdue", stop, "overdue", today, "open:-9");
  snprintf(path, sizeof path, "/v1/customers/%s", stop);
  patch_ok(path, "{\"cease_communication\": true}", ROLE_MANAGER);

  sweep_at(today, 1);
  /* A new customer with an invoice to confirm and one overdue: neither. */
  expect_story("cease", quiet, "overdue", today, "");
  expect_story("cease", quiet, "confirm_receipt", today, "");
  expect_story("cease", quiet, "retry", today, "");
  expect_story("cease", quiet, "resolve_dispute", today, "open:0");
  expect_worklist("cease", quiet, today, 1, "resolve_dispute");
  expect_story("asked to stop", stop, "overdue", today, "done:-9:cause_gone");
}

/* P12: check in when nothing is owed and the last contact is check_in_days
 * old; a debt closes it, and once paid it comes back. */
static void check_in(void **state)
{
  (void)state;
  char cus[32], owing[32], inv[32];
  customer(cus, "Check In Ltd", "\"check_in_days\": 30");
  customer(owing, "Check In Owing Ltd", "\"check_in_days\": 30");
  new_invoice(inv, .customer = owing, .from = BASE, .issued_in = -60, .due_in = -40, .amount = 3000);
  call_at(cus, BASE, 0, "10:00", "reached");
  call_at(owing, BASE, 0, "10:00", "reached");

  sweep_at(BASE, 29);
  expect_story("day 29", cus, "check_in", BASE, "");
  sweep_at(BASE, 30);
  expect_story("day 30", cus, "check_in", BASE, "open:30");
  expect_story("day 30, owing", owing, "check_in", BASE, "");
  expect_worklist("day 30", cus, BASE, 30, "check_in");
  json_t *doc = follow_up(cus, "check_in", "open");
  assert_int_equal(jint(doc, "priority"), 8);
  json_decref(doc);

  /* Something falls overdue: the check-in gives way to dunning... */
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = 1, .due_in = 31, .amount = 2500);
  sweep_at(BASE, 32);
  expect_story("overdue", cus, "check_in", BASE, "done:30:cause_gone");
  expect_story("overdue", cus, "overdue", BASE, "open:32");
  /* ...and comes back once it is paid. */
  pay(cus, 2500, BASE, 33);
  sweep_at(BASE, 34);
  expect_story("paid", cus, "overdue", BASE, "done:32:cause_gone");
  expect_story("paid", cus, "check_in", BASE, "done:30:cause_gone open:30");
  /* A call is the check-in: done, and the next one 30 days on. */
  call_at(cus, BASE, 35, "10:00", "reached");
  expect_story("called", cus, "check_in", BASE, "done:30:cause_gone done:30:contact_logged");
  sweep_at(BASE, 64);
  expect_story("29 days on", cus, "check_in", BASE, "done:30:cause_gone done:30:contact_logged");
  sweep_at(BASE, 65);
  expect_story("30 days on", cus, "check_in", BASE, "done:30:cause_gone done:30:contact_logged open:65");
}

/* SPEC §4: a sweep repeated for the same as_of creates and closes nothing
 * and changes no follow-up. */
static void idempotent(void **state)
{
  (void)state;
  char cus[32], inv[32];
  customer(cus, "Twice Ltd", "");
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = -30, .due_in = 39, .amount = 1000);
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = 38, .due_in = 60, .amount = 1000);
  json_t *first = sweep_at_doc(BASE, 40);
  assert_true(json_integer_value(json_object_get(json_object_get(first, "created"), "overdue")) >= 1);
  json_decref(first);
  expect_story("first sweep", cus, "overdue", BASE, "open:40");
  expect_story("first sweep", cus, "confirm_receipt", BASE, "open:40");

  /* Every follow-up, every column (version and updated_at included). */
  static const char *const follow_ups[] = {"follow_ups", NULL};
  char *before = tables_fingerprint(follow_ups);
  long long events = harness_sql_int("SELECT count(*) FROM events WHERE type LIKE 'follow\\_up.%%'");
  json_t *again = sweep_at_doc(BASE, 40);
  char *created = json_dumps(json_object_get(again, "created"), JSON_COMPACT);
  char *closed = json_dumps(json_object_get(again, "closed"), JSON_COMPACT);
  assert_string_equal(created, "{}");
  assert_string_equal(closed, "{}");
  free(created);
  free(closed);
  json_decref(again);
  char *after = tables_fingerprint(follow_ups);
  assert_string_equal(before, after);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM events WHERE type LIKE 'follow\\_up.%%'"), events);
  free(before);
  free(after);
}

/* A follow-up closed by hand is not made again for the same cause; a new
 * cause (a new attempt) makes a new one. */
static void closed_by_hand(void **state)
{
  (void)state;
  char cus[32], inv[32], path[64];
  customer(cus, "Dismissed Ltd", "");
  new_invoice(inv, .customer = cus, .from = BASE, .issued_in = -30, .due_in = 0, .amount = 8000);
  sweep_at(BASE, 1);
  json_t *doc = follow_up(cus, "overdue", "open");
  snprintf(path, sizeof path, "/v1/follow-ups/%s", jstr(doc, "id"));
  json_decref(doc);
  patch_ok(path, "{\"status\": \"dismissed\", \"note\": \"Owner on holiday, talks to us on the 10th\"}",
           ROLE_COLLECTOR);
  sweep_days(BASE, 2, 4);
  expect_story("dismissed", cus, "overdue", BASE, "dismissed:1:dismissed");
  expect_worklist("dismissed", cus, BASE, 4, "");

  call_at(cus, BASE, 4, "11:00", "voicemail");
  sweep_at(BASE, 7);
  expect_story("new attempt", cus, "retry", BASE, "open:7");
  doc = follow_up(cus, "retry", "open");
  snprintf(path, sizeof path, "/v1/follow-ups/%s", jstr(doc, "id"));
  json_decref(doc);
  patch_ok(path, "{\"status\": \"done\"}", ROLE_COLLECTOR);
  sweep_days(BASE, 8, 9);
  expect_story("done by hand", cus, "retry", BASE, "done:7:done");
  expect_story("done by hand", cus, "overdue", BASE, "dismissed:1:dismissed");
}

/* A snoozed follow-up is out of the worklist until its day, then open
 * again, due that day. */
static void snooze_and_wake(void **state)
{
  (void)state;
  char cus[32], inv[32], now_at[40], today[16], until[16], path[64], body[128];
  just_now(now_at, today);
  customer(cus, "Snoozed Ltd", "");
  new_invoice(inv, .customer = cus, .from = today, .issued_in = -30, .due_in = 0, .amount = 6000);
  sweep_at(today, 1);
  json_t *doc = follow_up(cus, "overdue", "open");
  snprintf(path, sizeof path, "/v1/follow-ups/%s", jstr(doc, "id"));
  json_decref(doc);
  date_plus(until, today, 5);
  snprintf(body, sizeof body, "{\"status\": \"snoozed\", \"snoozed_until\": \"%s\"}", until);
  patch_ok(path, body, ROLE_COLLECTOR);
  sweep_at(today, 4);
  expect_story("snoozed", cus, "overdue", today, "snoozed:1");
  expect_worklist("snoozed", cus, today, 4, "");
  sweep_at(today, 5);
  expect_story("woken", cus, "overdue", today, "open:5");
  expect_worklist("woken", cus, today, 5, "overdue");
}

/* The days of a new customer's invoice from BASE_DAY, as one string. */
static void replay(char *out, size_t size, const char *base_day)
{
  char cus[32], inv[32], part[512];
  customer(cus, "Replay Ltd", "");
  new_invoice(inv, .customer = cus, .from = base_day, .issued_in = 0, .due_in = 30, .amount = 12000);
  static const int days[] = {1, 2, 30, 31, 33};
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
    sweep_at(base_day, days[i]);
    used += (size_t)snprintf(out + used, size - used, "day %d:", days[i]);
    static const char *const reasons[] = {"confirm_receipt", "overdue", "retry"};
    for (size_t k = 0; k < 3; k++) {
      follow_up_story(part, sizeof part, cus, reasons[k], base_day);
      used += (size_t)snprintf(out + used, size - used, " %s=[%s]", reasons[k], part);
    }
    used += (size_t)snprintf(out + used, size - used, "; ");
  }
}

/* Rules read as_of, never the clock: the same days replayed in 2026 and
 * in 2030 tell the same story; no rule's SQL mentions the clock (what they
 * record as having happened is stamped through arc_recorded_at, the one
 * function that may). */
static void no_wall_clock(void **state)
{
  (void)state;
  char in2026[2048], in2030[2048];
  replay(in2026, sizeof in2026, BASE);
  replay(in2030, sizeof in2030, "2030-03-04");
  assert_string_equal(in2026, in2030);
  assert_string_equal(in2026, "day 1: confirm_receipt=[] overdue=[] retry=[]; "
                              "day 2: confirm_receipt=[open:2] overdue=[] retry=[]; "
                              "day 30: confirm_receipt=[open:2] overdue=[] retry=[]; "
                              "day 31: confirm_receipt=[done:2:cause_gone] overdue=[open:31] retry=[]; "
                              "day 33: confirm_receipt=[done:2:cause_gone] overdue=[open:31] retry=[]; ");
#define RULE_HELPERS                                                                                          \
  "'arc_dunnable_invoices', 'arc_overdue_accounts', 'arc_last_contacts', 'arc_sweep_accounts', "               \
  "'arc_promise_quiet', 'arc_receipts_to_confirm', 'arc_promises_evaluate', 'arc_business_date', "              \
  "'arc_missed_installments', 'arc_sweep_kind', 'arc_sweep_scope', "                                           \
  "'arc_sweep_falling_due', 'arc_sweep_written_since', 'arc_sweep_dated_between'"
  char *clocked = harness_sql(
      "SELECT string_agg(p.proname, ', ' ORDER BY p.proname) FROM pg_proc p "
      "WHERE (p.proname LIKE 'arc\\_rule\\_%%' OR p.proname IN (" RULE_HELPERS ")) "
      "AND p.prosrc ~* '\\m(now|current_date|current_timestamp|localtimestamp|localtime|clock_timestamp|"
      "statement_timestamp|transaction_timestamp|timeofday)\\M'");
  if (clocked)
    fail_msg("rules that read the clock: %s", clocked);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM pg_proc WHERE proname LIKE 'arc\\_rule\\_%%'"), 16);
  /* Every helper named is there (a rename would leave it unchecked). */
  assert_int_equal(harness_sql_int("SELECT count(DISTINCT proname) FROM pg_proc WHERE proname IN (" RULE_HELPERS ")"),
                   14);
#undef RULE_HELPERS
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(confirm_receipt),
      cmocka_unit_test(overdue_and_retry),
      cmocka_unit_test(promise_kept_quiet_then_broken),
      cmocka_unit_test(promise_over_one_invoice),
      cmocka_unit_test(bounced_payment_breaks_promise),
      cmocka_unit_test(not_yet_overdue_today),
      cmocka_unit_test(payment_closes_overdue),
      cmocka_unit_test(disputed_invoice),
      cmocka_unit_test(factored_invoice),
      cmocka_unit_test(cease_communication),
      cmocka_unit_test(check_in),
      cmocka_unit_test(idempotent),
      cmocka_unit_test(closed_by_hand),
      cmocka_unit_test(snooze_and_wake),
      cmocka_unit_test(no_wall_clock),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
