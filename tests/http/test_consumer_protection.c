/* Consumer protection (SPEC P15, Regulation F style): for consumer
 * customers at most 7 call attempts in 7 days, no call within 7 days after
 * a telephone conversation, calls only 08:00-21:00 in the customer's time
 * zone, none after a cease-communication request; business customers are
 * not limited.  The sweep's side is replayed day by day with POST
 * /v1/scheduler/runs {"as_of"} (follow-ups held past the limits, with
 * held_by / held_from / held_until); the worklist's side is about the wall
 * clock (callable_now, call_restriction, callable_from on GET
 * /v1/follow-ups and /v1/follow-ups/{id}).  The second group runs a server
 * with other limits (ARC_CONSUMER_*).
 *
 * A follow-up's story is "status:due[:closed_reason][ held_by from..until]"
 * per follow-up of a reason, oldest first, days counted from the
 * scenario's first day: "done:1:contact_logged open:8 attempt_cap 6..8". */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Mondays long past, one per replayed scenario, so that every sweep of the
 * program is later than the sweeps before it. */
#define CAP_BASE "2026-03-02"
#define TALK_BASE "2026-03-16"
#define SETTINGS_BASE "2026-03-30"
#define COLLECTOR "maria@example.com"

/* Today in the business's time zone. */
static void today(char out[16])
{
  day(out, 0);
}

/* The reasons on the worklist of DATE + DAYS for customer CUS, in order. */
static void expect_worklist(const char *when, const char *cus, const char *date, int days, const char *want)
{
  char day_s[16], got[512];
  date_plus(day_s, date, days);
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/follow-ups?customer_id=%s&due_on=%s&limit=200", cus, day_s);
  assert_status(&r, 200);
  size_t i, used = 0;
  json_t *e;
  got[0] = '\0';
  json_array_foreach(json_object_get(r.json, "data"), i, e) used +=
      (size_t)snprintf(got + used, sizeof got - used, "%s%s", used ? "," : "", jstr(e, "reason"));
  http_resp_clear(&r);
  if (strcmp(got, want) != 0)
    fail_msg("%s: worklist of customer %s on day %d: expected \"%s\", got \"%s\"", when, cus, days, want, got);
}

/* The id of customer CUS's latest follow-up for REASON (static storage). */
static const char *follow_up_id(const char *cus, const char *reason)
{
  static char id[32];
  char *s = harness_sql("SELECT max(id) FROM follow_ups WHERE customer_id = %s AND reason = '%s'", cus, reason);
  if (!s)
    fail_msg("customer %s has no %s follow-up", cus, reason);
  snprintf(id, sizeof id, "%s", s);
  free(s);
  return id;
}

/* GET /v1/follow-ups/{id} (the caller decrefs). */
static json_t *get_doc(const char *id)
{
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/follow-ups/%s", id);
  assert_status(&r, 200);
  json_t *doc = json_incref(r.json);
  http_resp_clear(&r);
  return doc;
}

/* The document of follow-up ID as the worklist of DUE_ON lists it, for its
 * customer (the caller decrefs; fails when it is not listed). */
static json_t *listed_doc(const char *id, const char *cus, const char *due_on)
{
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/follow-ups?customer_id=%s&due_on=%s&limit=200", cus, due_on);
  assert_status(&r, 200);
  size_t i;
  json_t *e, *found = NULL;
  json_array_foreach(json_object_get(r.json, "data"), i, e) if (strcmp(jstr(e, "id"), id) == 0) found =
      json_incref(e);
  http_resp_clear(&r);
  if (!found)
    fail_msg("follow-up %s is not on the worklist of %s", id, due_on);
  return found;
}

/* Member KEY of DOC is the string WANT, or JSON null when WANT is NULL. */
static void expect_member(const json_t *doc, const char *key, const char *want)
{
  const json_t *v = json_object_get(doc, key);
  if (!v)
    fail_msg("no %s in the document", key);
  if (!want) {
    if (!json_is_null(v))
      fail_msg("%s: expected null, got %s", key, json_is_string(v) ? json_string_value(v) : "a non-string");
    return;
  }
  if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
    fail_msg("%s: expected \"%s\", got %s", key, want, json_is_string(v) ? json_string_value(v) : "a non-string");
}

/* callable_now, call_restriction and callable_from of DOC. */
static void expect_callable(const char *when, const json_t *doc, int callable, const char *restriction,
                            const char *from)
{
  const json_t *c = json_object_get(doc, "callable_now");
  if (!json_is_boolean(c) || json_is_true(c) != callable)
    fail_msg("%s: callable_now should be %s", when, callable ? "true" : "false");
  expect_member(doc, "call_restriction", restriction);
  expect_member(doc, "callable_from", from);
}

/* A business customer's callable_now, call_restriction and callable_from
 * by the wall clock: weekdays 08:00-18:00 its time, else outside_hours
 * until its next opening (Friday evening: Monday) — worked out here on its
 * own, not by the function under test. */
static void expect_business_hours(const char *when, const json_t *doc, const char *customer)
{
  char *want = harness_sql(
      "SELECT CASE WHEN open THEN 'open' ELSE arc_ts(next_open) END FROM ("
      " SELECT extract(isodow FROM l) <= 5 AND l::time >= time '08:00' AND l::time < time '18:00' AS open,"
      "        ((l::date + CASE WHEN extract(isodow FROM l) <= 5 AND l::time < time '08:00' THEN 0"
      "                         WHEN extract(isodow FROM l) = 5 THEN 3 WHEN extract(isodow FROM l) = 6 THEN 2"
      "                         ELSE 1 END) + time '08:00') AT TIME ZONE z AS next_open"
      " FROM (SELECT c.timezone AS z, now() AT TIME ZONE c.timezone AS l FROM customers c WHERE c.id = %s) s) t",
      customer);
  assert_non_null(want);
  if (strcmp(want, "open") == 0)
    expect_callable(when, doc, 1, NULL, NULL);
  else
    expect_callable(when, doc, 0, "outside_hours", want);
  free(want);
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

static void consumer(char out[32], const char *name, const char *extra)
{
  char more[256];
  snprintf(more, sizeof more, "\"kind\": \"consumer\"%s%s", *extra ? ", " : "", extra);
  customer(out, name, more);
}

/* A contact with customer CUS at instant WHEN; EXTRA adds members. */
static json_t *contact(const char *cus, const char *when, const char *channel, const char *direction,
                       const char *outcome, const char *extra)
{
  char body[1024];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"%s\", \"direction\": \"%s\", \"outcome\": \"%s\", "
           "\"contact_name\": \"Sam\", \"occurred_at\": \"%s\", \"logged_by\": \"" COLLECTOR "\"%s%s}",
           cus, channel, direction, outcome, when, *extra ? ", " : "", extra);
  return create_ok("/v1/call-logs", body);
}

/* A contact at HH:MM on DATE + DAYS. */
static void contact_at(const char *cus, const char *date, int days, const char *hhmm, const char *channel,
                       const char *direction, const char *outcome)
{
  char when[40];
  instant_at(when, date, days, hhmm);
  json_decref(contact(cus, when, channel, direction, outcome, ""));
}

/* N unanswered outbound phone calls on DATE + DAYS, from 10:00 hourly. */
static void attempts(const char *cus, const char *date, int days, int n)
{
  for (int i = 0; i < n; i++) {
    char hhmm[16];
    snprintf(hhmm, sizeof hhmm, "%02d:00", 10 + i);
    contact_at(cus, date, days, hhmm, "phone", "outbound", "no_answer");
  }
}

/* N phone contacts with OUTCOME in the last minutes, oldest first. */
static void recent_calls(const char *cus, int n, const char *direction, const char *outcome)
{
  for (int i = n; i >= 1; i--) {
    char *when = harness_sql("SELECT arc_ts(now() - interval '%d seconds')", 10 * i);
    json_decref(contact(cus, when, "phone", direction, outcome, ""));
    free(when);
  }
}

/* P15 attempt cap: with 7 outbound phone calls in the 7 days ending on a
 * day, a consumer is not called until the oldest of them leaves the
 * window; a retry due meanwhile moves to that day and says why.  Six are
 * fine; a business customer with the same seven is not limited. */
static void attempt_cap(void **state)
{
  (void)state;
  const char *b = CAP_BASE;
  char capped[32], business[32], six[32], inv[32];
  consumer(capped, "Capped Consumer", "");
  customer(business, "Capped Business", "\"kind\": \"commercial\"");
  consumer(six, "Six Calls Consumer", "");
  new_invoice(inv, .customer = capped, .from = b, .issued_in = -30, .due_in = 0, .amount = 50000);
  new_invoice(inv, .customer = business, .from = b, .issued_in = -30, .due_in = 0, .amount = 50000);
  new_invoice(inv, .customer = six, .from = b, .issued_in = -30, .due_in = 0, .amount = 50000);
  sweep_at(b, 1);
  expect_story("day 1", capped, "overdue", b, "open:1");

  /* Seven attempts: one on day 1, six on day 3.  The window of day 6 is
   * days 0..6: all seven. */
  attempts(capped, b, 1, 1);
  attempts(capped, b, 3, 6);
  attempts(business, b, 1, 1);
  attempts(business, b, 3, 6);
  attempts(six, b, 1, 1);
  attempts(six, b, 3, 5);
  expect_story("called", capped, "overdue", b, "done:1:contact_logged");

  sweep_days(b, 4, 5);
  expect_story("days 1-2 after the last call", capped, "retry", b, "");
  sweep_at(b, 6);
  /* The retry of day 6 waits for day 8, when the attempt of day 1 is out
   * of the window (not day 10, a week after the last call). */
  expect_story("capped", capped, "retry", b, "open:8 attempt_cap 6..8");
  expect_story("business", business, "retry", b, "open:6");
  expect_story("six attempts", six, "retry", b, "open:6");
  expect_worklist("capped", capped, b, 6, "");
  expect_worklist("business", business, b, 6, "retry");
  expect_worklist("six attempts", six, b, 6, "retry");

  char d6[16], d8[16];
  date_plus(d6, b, 6);
  date_plus(d8, b, 8);
  json_t *doc = get_doc(follow_up_id(capped, "retry"));
  assert_string_equal(jstr(doc, "due_on"), d8);
  expect_member(doc, "held_by", "attempt_cap");
  expect_member(doc, "held_from", d6);
  expect_member(doc, "held_until", d8);
  json_decref(doc);
  doc = get_doc(follow_up_id(business, "retry"));
  expect_member(doc, "held_by", NULL);
  expect_member(doc, "held_from", NULL);
  expect_member(doc, "held_until", NULL);
  json_decref(doc);

  /* The same as_of again changes no follow-up (not even its version). */
  static const char *const follow_ups[] = {"follow_ups", NULL};
  char *before = tables_fingerprint(follow_ups);
  sweep_at(b, 6);
  char *after = tables_fingerprint(follow_ups);
  assert_string_equal(before, after);
  free(before);
  free(after);

  sweep_at(b, 7);
  expect_story("day 7, the window is days 1..7", capped, "retry", b, "open:8 attempt_cap 6..8");
  expect_worklist("day 7", capped, b, 7, "");
  /* Day 8: the hold is over; due that day, on the worklist. */
  sweep_at(b, 8);
  expect_story("day 8", capped, "retry", b, "open:8");
  expect_worklist("day 8", capped, b, 8, "retry");
  doc = get_doc(follow_up_id(capped, "retry"));
  expect_member(doc, "held_by", NULL);
  expect_member(doc, "held_until", NULL);
  json_decref(doc);
  /* A call on day 8 answers it. */
  attempts(capped, b, 8, 1);
  expect_story("called on day 8", capped, "retry", b, "done:8:contact_logged");
}

/* P15 quiet period: a telephone conversation on day X is day 1 of seven
 * without calls: callable again on X+7.  Outbound reached and inbound are
 * conversations; an e-mail that reached someone is not.  A contact on a
 * held follow-up answers it (judged by the day it was due before the
 * hold), and a new conversation holds the next one longer. */
static void recent_conversation(void **state)
{
  (void)state;
  const char *b = TALK_BASE;
  char talked[32], inbound[32], emailed[32], business[32], inv[32];
  consumer(talked, "Talked Consumer", "");
  consumer(inbound, "Inbound Consumer", "");
  consumer(emailed, "Emailed Consumer", "");
  customer(business, "Talked Business", "");
  const char *all[] = {talked, inbound, emailed, business};
  for (size_t i = 0; i < 4; i++)
    new_invoice(inv, .customer = all[i], .from = b, .issued_in = -30, .due_in = 0, .amount = 20000);
  sweep_at(b, 1);
  expect_story("day 1", talked, "overdue", b, "open:1");
  contact_at(talked, b, 1, "10:00", "phone", "outbound", "reached");
  contact_at(inbound, b, 1, "10:00", "phone", "inbound", "reached");
  contact_at(emailed, b, 1, "10:00", "email", "outbound", "reached");
  contact_at(business, b, 1, "10:00", "phone", "outbound", "reached");
  expect_story("talked", talked, "overdue", b, "done:1:contact_logged");

  /* No promise: a retry three days later, which the quiet period holds
   * until day 8 (the talk on day 1 is day 1 of seven). */
  sweep_at(b, 4);
  expect_story("reached by phone", talked, "retry", b, "open:8 recent_conversation 4..8");
  expect_story("inbound call", inbound, "retry", b, "open:8 recent_conversation 4..8");
  expect_story("e-mail reached", emailed, "retry", b, "open:4");
  expect_story("business", business, "retry", b, "open:4");
  expect_worklist("quiet", talked, b, 4, "");
  expect_worklist("e-mail", emailed, b, 4, "retry");

  /* The consumer calls in on day 5: that answers the held retry (due on
   * day 4 before the hold), and starts a new quiet period. */
  contact_at(inbound, b, 5, "11:00", "phone", "inbound", "reached");
  expect_story("called in", inbound, "retry", b, "done:4:contact_logged");
  json_t *doc = get_doc(follow_up_id(inbound, "retry"));
  expect_member(doc, "held_by", NULL);
  expect_member(doc, "held_from", NULL);
  json_decref(doc);

  sweep_at(b, 7);
  expect_story("day 7 (X+6)", talked, "retry", b, "open:8 recent_conversation 4..8");
  sweep_at(b, 8);
  expect_story("day 8 (X+7)", talked, "retry", b, "open:8");
  expect_worklist("day 8", talked, b, 8, "retry");
  /* The call-in's retry (day 5 + 3) waits for day 12. */
  expect_story("after the call-in", inbound, "retry", b, "done:4:contact_logged open:12 recent_conversation 8..12");
  sweep_at(b, 12);
  expect_story("day 12", inbound, "retry", b, "done:4:contact_logged open:12");
}

/* A hold follows the calls of the sweep's day, not the clock: seven calls
 * on day 1 no longer hold on day 9.  A customer that stops being a
 * consumer is released at once, due on the sweep's day (the day it was
 * due, if later).  No function of the rule reads the clock. */
static void lifted_early(void **state)
{
  (void)state;
  const char *b = CAP_BASE;
  char cus[32], inv[32], path[64];
  consumer(cus, "Becomes Business", "");
  new_invoice(inv, .customer = cus, .from = b, .issued_in = -30, .due_in = 0, .amount = 7000);
  attempts(cus, b, 1, 7);
  sweep_at(b, 9);
  /* Day 9: the calls of day 1 are out of the window; no hold. */
  expect_story("day 9", cus, "retry", b, "open:4");

  char cus2[32];
  consumer(cus2, "Lifted Early", "");
  new_invoice(inv, .customer = cus2, .from = b, .issued_in = -30, .due_in = 9, .amount = 7000);
  attempts(cus2, b, 10, 7);
  sweep_at(b, 13);
  expect_story("capped", cus2, "retry", b, "open:17 attempt_cap 13..17");
  snprintf(path, sizeof path, "/v1/customers/%s", cus2);
  struct http_resp r = {0};
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"kind\": \"commercial\"}", NULL);
  assert_status(&r, 200);
  http_resp_clear(&r);
  sweep_at(b, 14);
  expect_story("no longer a consumer", cus2, "retry", b, "open:14");

  char *clocked = harness_sql(
      "SELECT string_agg(p.proname, ', ' ORDER BY p.proname) FROM pg_proc p "
      "WHERE p.proname IN ('arc_rule_consumer_limits', 'arc_consumer_holds', 'arc_phone_cap_end', "
      "'arc_phone_quiet_end', 'arc_phone_held_by', 'arc_phone_hold_days', 'arc_unheld_due_on') "
      "AND p.prosrc ~* '\\m(now|current_date|current_timestamp|localtimestamp|localtime|clock_timestamp|"
      "statement_timestamp|transaction_timestamp|timeofday)\\M'");
  if (clocked)
    fail_msg("P15 rule functions that read the clock: %s", clocked);
}

/* An Etc/GMT zone whose local hour now is HOUR (Etc/GMT-N is UTC+N). */
static void zone_at_hour(char out[32], int hour)
{
  char *z = harness_sql("SELECT 'Etc/GMT' || CASE WHEN o > 0 THEN '-' || o WHEN o < 0 THEN '+' || -o ELSE '' END "
                        "FROM (SELECT CASE WHEN x > 14 THEN x - 24 WHEN x < -12 THEN x + 24 ELSE x END AS o "
                        "      FROM (SELECT %d - extract(hour FROM now() AT TIME ZONE 'UTC')::int AS x) s) t",
                        hour);
  snprintf(out, 32, "%s", z);
  free(z);
}

/* The next 08:00 in ZONE after now, as RFC 3339 (for a zone before 08:00). */
static void next_eight(char out[40], const char *zone)
{
  char *t = harness_sql("SELECT arc_ts(((now() AT TIME ZONE '%s')::date + time '08:00') AT TIME ZONE '%s')", zone,
                        zone);
  snprintf(out, 40, "%s", t);
  free(t);
}

/* An instant, local to the customer, and what arc_call_status_fields says then:
 * "callable_now call_restriction callable_from" (local, to the minute). */
struct edge {
  const char *local;
  const char *want;
};

/* Customer CUS made KIND checked at each of EDGES in four zones. */
static void expect_edges(const char *cus, const char *kind, const struct edge *edges, size_t n)
{
  static const char *const zones[] = {"Etc/GMT-10", "Etc/GMT+7", "America/New_York", "Asia/Kolkata"};
  for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
    free(harness_sql("UPDATE customers SET kind = '%s', timezone = '%s' WHERE id = %s RETURNING id", kind, zones[z],
                     cus));
    for (size_t i = 0; i < n; i++) {
      char *got = harness_sql(
          "SELECT concat_ws(' ', s->>'callable_now', coalesce(s->>'call_restriction', '-'), "
          "coalesce(to_char((s->>'callable_from')::timestamptz AT TIME ZONE '%s', 'YYYY-MM-DD\"T\"HH24:MI'), '-')) "
          "FROM (SELECT to_jsonb(f) AS s FROM customers c "
          "      CROSS JOIN LATERAL arc_call_status_fields(c, timestamp '%s' AT TIME ZONE '%s') f "
          "      WHERE c.id = %s) x",
          zones[z], edges[i].local, zones[z], cus);
      if (!got || strcmp(got, edges[i].want) != 0)
        fail_msg("%s, %s in %s: expected \"%s\", got \"%s\"", kind, edges[i].local, zones[z], edges[i].want,
                 got ? got : "(null)");
      free(got);
    }
  }
}

/* P15 hours, by the wall clock: a consumer where it is 14:00 may be called;
 * one where it is 03:00 may not (outside_hours, callable from 08:00 its
 * time); a business customer keeps business hours (weekdays 08:00-18:00,
 * so not at 03:00 either).  Both the item and the list say so.  The
 * consumers' window is [08:00, 21:00). */
static void calling_hours(void **state)
{
  (void)state;
  char awake_zone[32], asleep_zone[32], extra[128], t[16], inv[32];
  zone_at_hour(awake_zone, 14);
  zone_at_hour(asleep_zone, 3);
  today(t);
  char awake[32], asleep[32], business[32];
  snprintf(extra, sizeof extra, "\"timezone\": \"%s\"", awake_zone);
  consumer(awake, "Awake Consumer", extra);
  snprintf(extra, sizeof extra, "\"timezone\": \"%s\"", asleep_zone);
  consumer(asleep, "Asleep Consumer", extra);
  snprintf(extra, sizeof extra, "\"kind\": \"commercial\", \"timezone\": \"%s\"", asleep_zone);
  customer(business, "Asleep Business", extra);
  const char *all[] = {awake, asleep, business};
  for (size_t i = 0; i < 3; i++)
    new_invoice(inv, .customer = all[i], .from = t, .issued_in = -40, .due_in = -2, .amount = 10000);
  sweep_at(t, -1);

  /* 03:xx there, maybe 04:xx by now: either way 08:00 today, its time. */
  char from[40];
  next_eight(from, asleep_zone);
  json_t *doc = get_doc(follow_up_id(awake, "overdue"));
  expect_callable("consumer at 14:00", doc, 1, NULL, NULL);
  json_decref(doc);
  doc = get_doc(follow_up_id(asleep, "overdue"));
  expect_callable("consumer at 03:00", doc, 0, "outside_hours", from);
  json_decref(doc);
  doc = get_doc(follow_up_id(business, "overdue"));
  expect_business_hours("business at 03:00", doc, business);
  json_decref(doc);
  json_t *l = listed_doc(follow_up_id(awake, "overdue"), awake, t);
  expect_callable("listed, consumer at 14:00", l, 1, NULL, NULL);
  json_decref(l);
  l = listed_doc(follow_up_id(asleep, "overdue"), asleep, t);
  assert_true(json_is_false(json_object_get(l, "callable_now")));
  expect_member(l, "call_restriction", "outside_hours");
  json_decref(l);
  l = listed_doc(follow_up_id(business, "overdue"), business, t);
  expect_business_hours("listed, business at 03:00", l, business);
  json_decref(l);

  /* The edges of the window at fixed instants, in the customer's own
   * zone (arc_call_status_fields, what the document shows): 07:59:59.999999 no,
   * 08:00 yes, 20:59:59.999999 yes, 21:00 no. */
  static const struct edge edges[] = {
      {"2026-06-10 00:00:00", "false outside_hours 2026-06-10T08:00"},
      {"2026-06-10 07:59:59.999999", "false outside_hours 2026-06-10T08:00"},
      {"2026-06-10 08:00:00", "true - -"},
      {"2026-06-10 20:59:59.999999", "true - -"},
      {"2026-06-10 21:00:00", "false outside_hours 2026-06-11T08:00"},
      {"2026-06-10 23:30:00", "false outside_hours 2026-06-11T08:00"},
  };
  /* A business customer's hours: weekdays [08:00, 18:00) its time; from
   * Friday evening to Monday morning it waits.  2026-06-10 is a Wednesday. */
  static const struct edge business_edges[] = {
      {"2026-06-10 07:59:59.999999", "false outside_hours 2026-06-10T08:00"},
      {"2026-06-10 08:00:00", "true - -"},
      {"2026-06-10 17:59:59.999999", "true - -"},
      {"2026-06-10 18:00:00", "false outside_hours 2026-06-11T08:00"},
      {"2026-06-12 18:00:00", "false outside_hours 2026-06-15T08:00"},
      {"2026-06-13 12:00:00", "false outside_hours 2026-06-15T08:00"},
      {"2026-06-14 23:59:00", "false outside_hours 2026-06-15T08:00"},
      {"2026-06-15 03:00:00", "false outside_hours 2026-06-15T08:00"},
  };
  char edge[32];
  sql_customer(edge, "Edge Customer");
  expect_edges(edge, "consumer", edges, sizeof edges / sizeof edges[0]);
  expect_edges(edge, "commercial", business_edges, sizeof business_edges / sizeof business_edges[0]);
}

/* A zone where business midnight of DAY is HOUR local (an Etc/GMT zone). */
static void zone_for_midnight(char out[32], const char *day_s, int hour)
{
  char *z = harness_sql("SELECT name FROM timezones WHERE name ~ '^Etc/GMT[-+][0-9]+$' "
                        "AND extract(hour FROM ('%s'::date::timestamp AT TIME ZONE '%s') AT TIME ZONE name) = %d "
                        "ORDER BY name LIMIT 1",
                        day_s, tz(), hour);
  assert_non_null(z);
  snprintf(out, 32, "%s", z);
  free(z);
}

/* The day limits by the wall clock: seven attempts today hold a consumer
 * until the first attempt leaves the window (today + 7; from the start of
 * that business day, or 08:00 the customer's time if that is later); a
 * conversation today holds it for seven days; six attempts do not; a
 * business customer with seven is free.  Cease comes first and never
 * ends. */
static void day_limits_now(void **state)
{
  (void)state;
  char t[16], d7[16], noon_zone[32], early_zone[32], awake_zone[32], extra[128], inv[32];
  /* This session's business day is the server's (arc_consumer_holds below). */
  free(harness_sql("SELECT set_config('TimeZone', '%s', false)", tz()));
  today(t);
  date_plus(d7, t, 7);
  zone_for_midnight(noon_zone, d7, 12);
  zone_for_midnight(early_zone, d7, 3);
  zone_at_hour(awake_zone, 14);
  char capped[32], capped_early[32], talked[32], tied[32], six[32], business[32], ceased[32];
  snprintf(extra, sizeof extra, "\"timezone\": \"%s\"", noon_zone);
  consumer(capped, "Capped Today", extra);
  snprintf(extra, sizeof extra, "\"timezone\": \"%s\"", early_zone);
  consumer(capped_early, "Capped Today Early Zone", extra);
  snprintf(extra, sizeof extra, "\"timezone\": \"%s\"", noon_zone);
  consumer(talked, "Talked Today", extra);
  consumer(tied, "Capped And Talked Today", extra);
  snprintf(extra, sizeof extra, "\"timezone\": \"%s\"", awake_zone);
  consumer(six, "Six Today", extra);
  snprintf(extra, sizeof extra, "\"kind\": \"commercial\", \"timezone\": \"%s\"", awake_zone);
  customer(business, "Business Today", extra);
  snprintf(extra, sizeof extra, "\"timezone\": \"%s\", \"cease_communication\": true", awake_zone);
  consumer(ceased, "Ceased Today", extra);
  const char *all[] = {capped, capped_early, talked, tied, six, business, ceased};
  const size_t n_all = sizeof all / sizeof all[0];
  for (size_t i = 0; i < n_all; i++)
    new_invoice(inv, .customer = all[i], .from = t, .issued_in = -40, .due_in = -2, .amount = 10000);
  sweep_at(t, -1);
  recent_calls(capped, 7, "outbound", "no_answer");
  recent_calls(tied, 6, "outbound", "no_answer");
  recent_calls(capped_early, 7, "outbound", "voicemail");
  recent_calls(talked, 1, "outbound", "reached");
  recent_calls(six, 6, "outbound", "no_answer");
  recent_calls(business, 7, "outbound", "no_answer");
  /* An e-mail reached today and an sms attempt are no phone calls. */
  char *when = harness_sql("SELECT arc_ts(now() - interval '5 seconds')");
  json_decref(contact(six, when, "email", "outbound", "reached", ""));
  json_decref(contact(six, when, "sms", "outbound", "sent", ""));
  free(when);
  /* Follow-ups to look at, as the sweep would have made them. */
  for (size_t i = 0; i < n_all; i++)
    free(harness_sql("INSERT INTO follow_ups (customer_id, reason, cause_key, due_on) "
                     "VALUES (%s, 'resolve_dispute', 'cp:%zu', '%s') RETURNING id",
                     all[i], i, t));

  char *midnight = harness_sql("SELECT arc_ts('%s'::date::timestamp AT TIME ZONE '%s')", d7, tz());
  char *eight = harness_sql("SELECT arc_ts((('%s'::date::timestamp AT TIME ZONE '%s' AT TIME ZONE '%s')::date "
                            "+ time '08:00') AT TIME ZONE '%s')",
                            d7, tz(), early_zone, early_zone);
  json_t *doc = get_doc(follow_up_id(capped, "resolve_dispute"));
  expect_callable("seven attempts today", doc, 0, "attempt_cap", midnight);
  json_decref(doc);
  doc = get_doc(follow_up_id(capped_early, "resolve_dispute"));
  expect_callable("seven attempts today, 03:00 there at the end", doc, 0, "attempt_cap", eight);
  json_decref(doc);
  doc = get_doc(follow_up_id(talked, "resolve_dispute"));
  expect_callable("talked today", doc, 0, "recent_conversation", midnight);
  json_decref(doc);
  /* Seven attempts today, the last one reached: both limits end on the
   * same day; the conversation is named. */
  recent_calls(tied, 1, "outbound", "reached");
  doc = get_doc(follow_up_id(tied, "resolve_dispute"));
  expect_callable("capped and talked today", doc, 0, "recent_conversation", midnight);
  json_decref(doc);
  doc = get_doc(follow_up_id(six, "resolve_dispute"));
  expect_callable("six attempts, an e-mail, an sms", doc, 1, NULL, NULL);
  json_decref(doc);
  doc = get_doc(follow_up_id(business, "resolve_dispute"));
  expect_business_hours("business with seven attempts", doc, business);
  json_decref(doc);
  doc = get_doc(follow_up_id(ceased, "resolve_dispute"));
  expect_callable("ceased", doc, 0, "cease_communication", NULL);
  json_decref(doc);
  /* The worklist says the same. */
  doc = listed_doc(follow_up_id(capped, "resolve_dispute"), capped, t);
  expect_callable("listed, capped", doc, 0, "attempt_cap", midnight);
  json_decref(doc);
  doc = listed_doc(follow_up_id(ceased, "resolve_dispute"), ceased, t);
  expect_callable("listed, ceased", doc, 0, "cease_communication", NULL);
  json_decref(doc);
  free(midnight);
  free(eight);

  /* The sweep of today agrees with the document: the set-based and the
   * per-customer counting are the same rules. */
  char *agree = harness_sql(
      "SELECT string_agg(c.name, ', ') FROM customers c "
      "LEFT JOIN arc_consumer_holds(now()) h ON h.customer_id = c.id "
      "CROSS JOIN LATERAL (SELECT to_jsonb(f) AS s FROM arc_call_status_fields(c, now()) f) x "
      "WHERE c.id IN (%s, %s, %s, %s, %s) "
      "AND (h.held_by IS DISTINCT FROM CASE WHEN x.s->>'call_restriction' <> 'outside_hours' THEN x.s->>'call_restriction' END "
      "  OR h.held_until::timestamptz IS DISTINCT FROM "
      "     CASE WHEN x.s->>'call_restriction' <> 'outside_hours' THEN '%s'::date::timestamptz END)",
      capped, capped_early, talked, tied, six, d7);
  if (agree)
    fail_msg("the sweep's holds and the documents disagree for: %s", agree);
}

/* SPEC P15: after a cease-communication request, every contact follow-up
 * stops (overdue, retry, promise_broken, check_in, thank_you,
 * installment_missed) and none is made again; internal ones
 * (resolve_dispute, escalation) go on. */
static void cease_communication(void **state)
{
  (void)state;
  char t[16], inv[32], body[512], path[96];
  today(t);
  char over[32], retry[32], broken[32], check[32], thanks[32], plan[32];
  consumer(over, "Cease Overdue", "");
  consumer(retry, "Cease Retry", "");
  consumer(broken, "Cease Promise", "");
  consumer(check, "Cease Check In", "\"check_in_days\": 5");
  consumer(thanks, "Cease Thanks", "");
  consumer(plan, "Cease Plan", "");

  /* overdue, with an open dispute on another invoice (internal work) and
   * an escalation to the salesperson (internal too). */
  new_invoice(inv, .customer = over, .from = t, .issued_in = -40, .due_in = -10, .amount = 9000);
  char disputed[32];
  new_invoice(disputed, .customer = over, .from = t, .issued_in = -20, .due_in = 10, .amount = 4000);
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"damaged\", \"amount\": 4000}", disputed);
  json_decref(create_ok("/v1/disputes", body));
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"Never answers\", "
           "\"assignee\": \"sam@example.com\"}",
           over);
  struct http_resp r = {0};
  http(&r, "POST", "/v1/escalations", ROLE_MANAGER, body, NULL);
  assert_status(&r, 201);
  http_resp_clear(&r);
  /* retry: an unanswered call after it went overdue. */
  new_invoice(inv, .customer = retry, .from = t, .issued_in = -40, .due_in = -20, .amount = 9000);
  contact_at(retry, t, -15, "10:00", "phone", "outbound", "no_answer");
  /* promise_broken: promised today, so broken the day after tomorrow. */
  new_invoice(inv, .customer = broken, .from = t, .issued_in = -40, .due_in = -10, .amount = 9000);
  char *now_at = harness_sql("SELECT arc_ts(now() - interval '1 minute')");
  snprintf(body, sizeof body,
           "\"promise\": {\"amount\": 9000, \"currency\": \"USD\", \"promised_on\": \"%s\", \"method\": \"ach\"}", t);
  json_decref(contact(broken, now_at, "phone", "outbound", "reached", body));
  free(now_at);
  /* thank_you: paid today after a call. */
  new_invoice(inv, .customer = thanks, .from = t, .issued_in = -40, .due_in = -10, .amount = 9000);
  contact_at(thanks, t, -3, "10:00", "phone", "outbound", "no_answer");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 9000, \"currency\": \"USD\", \"received_on\": \"%s\", "
           "\"method\": \"ach\"}",
           thanks, t);
  json_decref(create_ok("/v1/payments", body));
  /* installment_missed: one installment due today, missed after the grace
   * days. */
  new_invoice(inv, .customer = plan, .from = t, .issued_in = -40, .due_in = -10, .amount = 9000);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"installments\": [{\"due_on\": \"%s\", "
           "\"amount\": 9000}]}",
           plan, inv, t);
  json_decref(create_ok("/v1/payment-plans", body));

  sweep_at(t, -12);
  sweep_at(t, -9);
  sweep_at(t, 0);
  sweep_at(t, 2);
  sweep_at(t, 4);
  sweep_at(t, 5);
  expect_story("before", over, "overdue", t, "open:-9");
  expect_story("before", over, "resolve_dispute", t, "open:0");
  expect_story("before", over, "escalation", t, "open:0");
  expect_story("before", retry, "retry", t, "open:-12");
  expect_story("before", broken, "promise_broken", t, "open:7 recent_conversation 2..7");
  expect_story("before", check, "check_in", t, "open:5");
  expect_story("before", thanks, "thank_you", t, "open:0");
  expect_story("before", plan, "installment_missed", t, "open:4");
  json_t *doc = get_doc(follow_up_id(plan, "installment_missed"));
  assert_true(json_is_string(json_object_get(doc, "plan_id")));
  assert_true(json_is_string(json_object_get(doc, "installment_id")));
  assert_true(json_is_null(json_object_get(doc, "escalation_id")));
  json_decref(doc);
  doc = get_doc(follow_up_id(over, "escalation"));
  assert_true(json_is_string(json_object_get(doc, "escalation_id")));
  assert_true(json_is_null(json_object_get(doc, "plan_id")));
  json_decref(doc);

  const char *all[] = {over, retry, broken, check, thanks, plan};
  for (size_t i = 0; i < 6; i++) {
    snprintf(path, sizeof path, "/v1/customers/%s", all[i]);
    http(&r, "PATCH", path, ROLE_MANAGER, "{\"cease_communication\": true}", NULL);
    assert_status(&r, 200);
    http_resp_clear(&r);
  }
  sweep_at(t, 6);
  expect_story("ceased", over, "overdue", t, "done:-9:cause_gone");
  expect_story("ceased", retry, "retry", t, "done:-12:cause_gone");
  /* Closed while held: back to the day it was due. */
  expect_story("ceased", broken, "promise_broken", t, "done:2:cause_gone");
  expect_story("ceased", check, "check_in", t, "done:5:cause_gone");
  expect_story("ceased", thanks, "thank_you", t, "done:0:cause_gone");
  expect_story("ceased", plan, "installment_missed", t, "done:4:cause_gone");
  expect_story("internal", over, "resolve_dispute", t, "open:0");
  expect_story("internal", over, "escalation", t, "open:0");
  expect_worklist("ceased", over, t, 6, "escalation,resolve_dispute");
  doc = get_doc(follow_up_id(over, "resolve_dispute"));
  expect_callable("ceased, internal work", doc, 0, "cease_communication", NULL);
  json_decref(doc);
  /* And nothing comes back in the days after. */
  sweep_days(t, 7, 12);
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(harness_sql_int("SELECT count(*) FROM follow_ups WHERE customer_id = %s AND status = 'open' "
                                     "AND reason = ANY (arc_contact_reasons())",
                                     all[i]),
                     0);
  expect_story("later", over, "resolve_dispute", t, "open:0");
}

/* The document has exactly the members openapi's FollowUp lists, the new
 * ones included; on a plain commercial follow-up they are all null but
 * callable_now. */
static void document(void **state)
{
  (void)state;
  char cus[32], yesterday[16];
  customer(cus, "Doc Business", "");
  day(yesterday, -1);
  char *id = harness_sql("INSERT INTO follow_ups (customer_id, reason, cause_key, due_on) "
                         "VALUES (%s, 'overdue', 'doc', '%s') RETURNING id",
                         cus, yesterday);
  json_t *doc = get_doc(id);
  static const char *const keys[] = {
      "id", "customer_id", "customer_name", "customer_phone", "customer_timezone", "customer_local_time",
      "call_sheet", "reason", "priority", "due_on", "assignee", "amount_overdue", "currency", "days_overdue",
      "invoice_ids", "promise_id", "dispute_id", "payment_id", "plan_id", "installment_id",
      "escalation_id", "preferred_today", "held_from", "held_until", "held_by", "callable_now",
      "call_restriction", "callable_from", "status", "snoozed_until", "note", "closed_reason", "closed_at",
      "closed_by", "closed_by_call_log_id", "run_id", "version", "created_at", "updated_at"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (!json_object_get(doc, keys[i]))
      fail_msg("no %s in the follow-up", keys[i]);
  assert_int_equal(json_object_size(doc), sizeof keys / sizeof keys[0]);
  expect_business_hours("business", doc, cus);
  static const char *const nulls[] = {"plan_id", "installment_id", "escalation_id", "held_from", "held_until",
                                      "held_by"};
  for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
    expect_member(doc, nulls[i], NULL);
  json_decref(doc);
  free(id);
}

/* Limits an administrator changed (ARC_CONSUMER_MAX_ATTEMPTS=3,
 * ARC_CONSUMER_WINDOW_DAYS=10, ARC_CONSUMER_QUIET_DAYS=2): three attempts
 * hold for ten days from the oldest; a conversation only two days. */
static void changed_settings(void **state)
{
  (void)state;
  const char *b = SETTINGS_BASE;
  char three[32], two[32], talked[32], called_in[32], inv[32];
  consumer(three, "Three Calls", "");
  consumer(two, "Two Calls", "");
  consumer(talked, "Talked Two Days", "");
  consumer(called_in, "Two Calls And A Call In", "");
  new_invoice(inv, .customer = three, .from = b, .issued_in = -30, .due_in = 0, .amount = 5000);
  new_invoice(inv, .customer = two, .from = b, .issued_in = -30, .due_in = 0, .amount = 5000);
  new_invoice(inv, .customer = talked, .from = b, .issued_in = -30, .due_in = 0, .amount = 5000);
  new_invoice(inv, .customer = called_in, .from = b, .issued_in = -30, .due_in = 0, .amount = 5000);
  sweep_at(b, 1);
  attempts(three, b, 1, 3);
  attempts(two, b, 1, 2);
  contact_at(talked, b, 1, "10:00", "phone", "outbound", "reached");
  /* An inbound call is a conversation, not an attempt. */
  attempts(called_in, b, 1, 2);
  contact_at(called_in, b, 1, "18:00", "phone", "inbound", "reached");
  sweep_at(b, 2);
  expect_story("called in, day 2", called_in, "retry", b, "");
  sweep_at(b, 4);
  expect_story("three attempts", three, "retry", b, "open:11 attempt_cap 4..11");
  expect_story("two attempts", two, "retry", b, "open:4");
  /* The talk of day 1 quiets days 1 and 2 only. */
  expect_story("talked", talked, "retry", b, "open:4");
  expect_story("two attempts and a call-in", called_in, "retry", b, "open:4");

  /* And the document, by the wall clock. */
  char t[16], d10[16], zone[32], extra[96];
  today(t);
  date_plus(d10, t, 10);
  zone_for_midnight(zone, d10, 12);
  char now_capped[32];
  snprintf(extra, sizeof extra, "\"timezone\": \"%s\"", zone);
  consumer(now_capped, "Three Today", extra);
  recent_calls(now_capped, 3, "outbound", "no_answer");
  free(harness_sql("INSERT INTO follow_ups (customer_id, reason, cause_key, due_on) "
                   "VALUES (%s, 'check_in', 'cp', '%s') RETURNING id",
                   now_capped, t));
  char *midnight = harness_sql("SELECT arc_ts('%s'::date::timestamp AT TIME ZONE '%s')", d10, tz());
  json_t *doc = get_doc(follow_up_id(now_capped, "check_in"));
  expect_callable("three attempts today", doc, 0, "attempt_cap", midnight);
  json_decref(doc);
  free(midnight);

  /* Two attempts today and a call-in three days ago (its quiet period of
   * two days is over): may be called. */
  char awake_zone[32], two_now[32];
  zone_at_hour(awake_zone, 14);
  snprintf(extra, sizeof extra, "\"timezone\": \"%s\"", awake_zone);
  consumer(two_now, "Two Today And A Call In", extra);
  char *when = harness_sql("SELECT arc_ts(now() - interval '3 days')");
  json_decref(contact(two_now, when, "phone", "inbound", "reached", ""));
  free(when);
  recent_calls(two_now, 2, "outbound", "no_answer");
  free(harness_sql("INSERT INTO follow_ups (customer_id, reason, cause_key, due_on) "
                   "VALUES (%s, 'check_in', 'cp', '%s') RETURNING id",
                   two_now, t));
  doc = get_doc(follow_up_id(two_now, "check_in"));
  expect_callable("two attempts today, a call-in three days ago", doc, 1, NULL, NULL);
  json_decref(doc);
}

static int setup_changed(void **state)
{
  setenv("ARC_CONSUMER_MAX_ATTEMPTS", "3", 1);
  setenv("ARC_CONSUMER_WINDOW_DAYS", "10", 1);
  setenv("ARC_CONSUMER_QUIET_DAYS", "2", 1);
  return harness_setup(state);
}

int main(void)
{
  const struct CMUnitTest defaults[] = {
      cmocka_unit_test(attempt_cap),    cmocka_unit_test(lifted_early),
      cmocka_unit_test(recent_conversation), cmocka_unit_test(calling_hours),
      cmocka_unit_test(day_limits_now), cmocka_unit_test(cease_communication),
      cmocka_unit_test(document),
  };
  const struct CMUnitTest changed[] = {
      cmocka_unit_test(changed_settings),
  };
  int failed = cmocka_run_group_tests_name("defaults", defaults, harness_setup, harness_teardown);
  failed += cmocka_run_group_tests_name("changed settings", changed, setup_changed, harness_teardown);
  return failed;
}
