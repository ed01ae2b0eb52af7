/* POST /v1/payments/{id}/reversal: what a payment paid goes back onto the
 * invoices (paid ones reopen), the payment is marked reversed once, and
 * every refusal changes nothing. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int invoice_is(const char *invoice, const char *status)
{
  char *s = harness_sql("SELECT status FROM invoices WHERE id = %s", invoice);
  int same = s && strcmp(s, status) == 0;
  free(s);
  return same;
}

/* Records a payment as admin and copies its id to OUT. */
static void pay(char out[32], const char *body)
{
  json_t *p = create_ok("/v1/payments", body);
  snprintf(out, 32, "%s", jstr(p, "id"));
  json_decref(p);
}

/* Everything a reversal could change. */
static const char *const watched[] = {"invoices", "payments", "payment_allocations", NULL};

static void refused(const char *path, enum role who, const char *body, const char *const *headers, long status,
                    const char *slug, const char *field)
{
  assert_refused(watched, "POST", path, who, body, headers, status, slug, field);
}

/* Every invoice's balance is its amount less its active allocations. */
static void assert_balances_consistent(void)
{
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices i WHERE i.balance <> i.amount - coalesce((SELECT "
                                   "sum(x.amount) FROM payment_allocations x WHERE x.invoice_id = i.id AND "
                                   "x.reversed_at IS NULL), 0)"),
                   0);
}

static void reversal_reopens_what_it_paid(void **state)
{
  (void)state;
  char cust[32], a[32], b[32], c[32], p1[32], p2[32], body[1024], path[96];
  sql_customer(cust, "Bounced Check Co");
  sql_invoice(a, .customer = cust, .amount = 4000, .due_on = "2025-01-01");
  sql_invoice(b, .customer = cust, .amount = 3000, .due_on = "2025-02-01");
  sql_invoice(c, .customer = cust, .amount = 5000, .due_on = "2025-03-01");
  /* p1 pays a in full and part of b, leaving credit; p2 pays part of c. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 6000, \"currency\": \"USD\", \"received_on\": \"2026-01-05\", "
           "\"method\": \"check\", \"reference\": \"CHK 77\", \"allocations\": [{\"invoice_id\": \"%s\", "
           "\"amount\": 4000}, {\"invoice_id\": \"%s\", \"amount\": 1500}]}",
           cust, a, b);
  pay(p1, body);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 1000, \"currency\": \"USD\", \"received_on\": \"2026-01-06\", "
           "\"method\": \"ach\", \"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 1000}]}",
           cust, c);
  pay(p2, body);
  assert_int_equal(balance_of(a), 0);
  assert_true(invoice_is(a, "paid"));
  assert_int_equal(balance_of(b), 1500);

  snprintf(path, sizeof path, "/v1/payments/%s/reversal", p1);
  struct http_resp r = {0};
  const char *const if_match[] = {"If-Match: \"1\"", NULL};
  http(&r, "POST", path, ROLE_MANAGER, "{\"reason\": \"check bounced: NSF\"}", if_match);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "id"), p1);
  assert_string_equal(jstr(r.json, "status"), "reversed");
  assert_string_equal(jstr(r.json, "reversal_reason"), "check bounced: NSF");
  assert_non_null(jstr(r.json, "reversed_at"));
  assert_int_equal(jint(r.json, "version"), 2);
  assert_string_equal(r.etag, "\"2\"");
  /* The payment keeps its history. */
  assert_int_equal(jint(r.json, "amount"), 6000);
  assert_int_equal(jint(r.json, "unapplied"), 500);
  assert_int_equal(json_array_size(json_object_get(r.json, "allocations")), 2);

  /* The money went back; the paid invoice is open again; p2 is untouched. */
  assert_int_equal(balance_of(a), 4000);
  assert_true(invoice_is(a, "open"));
  assert_int_equal(balance_of(b), 3000);
  assert_int_equal(balance_of(c), 4000);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payment_allocations WHERE payment_id = %s AND reversed_at "
                                   "IS NULL",
                                   p1),
                   0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payment_allocations WHERE payment_id = %s AND reversed_at "
                                   "IS NULL",
                                   p2),
                   1);
  assert_balances_consistent();

  /* GET agrees. */
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/payments/%s", p1);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "reversed");

  /* Once only. */
  refused(path, ROLE_ADMIN, "{\"reason\": \"again\"}", NULL, 409, "conflict", NULL);

  /* The reopened invoices take a new payment (oldest first). */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 5000, \"currency\": \"USD\", \"received_on\": \"2026-01-07\", "
           "\"method\": \"wire\"}",
           cust);
  json_t *p3 = create_ok("/v1/payments", body);
  assert_int_equal(json_array_size(json_object_get(p3, "allocations")), 2);
  json_decref(p3);
  assert_int_equal(balance_of(a), 0);
  assert_int_equal(balance_of(b), 2000);
  assert_balances_consistent();
  http_resp_clear(&r);
}

static void reversal_of_auto_allocated_and_unapplied(void **state)
{
  (void)state;
  char cust[32], a[32], b[32], p1[32], p2[32], body[1024], path[96];
  sql_customer(cust, "Auto Reverse");
  sql_invoice(a, .customer = cust, .amount = 1000, .due_on = "2025-01-01");
  sql_invoice(b, .customer = cust, .amount = 1000, .due_on = "2025-01-02");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 2500, \"currency\": \"USD\", \"received_on\": \"2026-01-05\", "
           "\"method\": \"card\"}",
           cust);
  pay(p1, body);
  assert_true(invoice_is(a, "paid"));
  assert_true(invoice_is(b, "paid"));
  /* Only credit: nothing to put back, but it stops counting as credit. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 700, \"currency\": \"USD\", \"received_on\": \"2026-01-05\", "
           "\"method\": \"cash\"}",
           cust);
  pay(p2, body);
  assert_int_equal(harness_sql_int("SELECT unapplied FROM payments WHERE id = %s", p2), 700);

  struct http_resp r = {0};
  snprintf(path, sizeof path, "/v1/payments/%s/reversal", p1);
  http(&r, "POST", path, ROLE_INTEGRATION, "{\"reason\": \"chargeback\"}", NULL);
  assert_status(&r, 200);
  assert_int_equal(balance_of(a), 1000);
  assert_int_equal(balance_of(b), 1000);
  assert_true(invoice_is(a, "open"));
  assert_true(invoice_is(b, "open"));

  snprintf(path, sizeof path, "/v1/payments/%s/reversal", p2);
  http(&r, "POST", path, ROLE_ADMIN, "{\"reason\": \"counterfeit\"}", NULL);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "status"), "reversed");
  assert_int_equal(harness_sql_int("SELECT count(*) FROM payments WHERE customer_id = %s AND status = 'received'",
                                   cust),
                   0);
  assert_balances_consistent();
  http_resp_clear(&r);
}

static void reversal_refusals(void **state)
{
  (void)state;
  char cust[32], inv[32], p[32], body[1024], path[96];
  sql_customer(cust, "Refused Reversal");
  sql_invoice(inv, .customer = cust, .amount = 1000, .due_on = "2025-01-01");
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 400, \"currency\": \"USD\", \"received_on\": \"2026-01-05\", "
           "\"method\": \"check\"}",
           cust);
  pay(p, body);
  snprintf(path, sizeof path, "/v1/payments/%s/reversal", p);

  refused(path, NO_KEY, "{\"reason\": \"x\"}", NULL, 401, "unauthorized", NULL);
  refused(path, ROLE_VIEWER, "{\"reason\": \"x\"}", NULL, 403, "forbidden", NULL);
  refused(path, ROLE_COLLECTOR, "{\"reason\": \"x\"}", NULL, 403, "forbidden", NULL);
  refused("/v1/payments/987654321/reversal", ROLE_ADMIN, "{\"reason\": \"x\"}", NULL, 404, "not-found", NULL);
  refused("/v1/payments/abc/reversal", ROLE_ADMIN, "{\"reason\": \"x\"}", NULL, 404, "not-found", NULL);
  refused(path, ROLE_ADMIN, NULL, NULL, 422, "validation", "reason");
  refused(path, ROLE_ADMIN, "{}", NULL, 422, "validation", "reason");
  refused(path, ROLE_ADMIN, "{\"reason\": \"\"}", NULL, 422, "validation", "reason");
  refused(path, ROLE_ADMIN, "{\"reason\": null}", NULL, 422, "validation", "reason");
  refused(path, ROLE_ADMIN, "{\"reason\": 5}", NULL, 422, "validation", "reason");
  refused(path, ROLE_ADMIN, "{\"reason\": \"x\", \"amount\": 100}", NULL, 422, "validation", "amount");
  refused(path, ROLE_ADMIN, "[\"x\"]", NULL, 422, "validation", "(body)");
  char longreason[600], big[700];
  memset(longreason, 'z', 501);
  longreason[501] = '\0';
  snprintf(big, sizeof big, "{\"reason\": \"%s\"}", longreason);
  refused(path, ROLE_ADMIN, big, NULL, 422, "validation", "reason");
  refused(path, ROLE_ADMIN, "{\"reason\": ", NULL, 400, "malformed-json", NULL);
  const char *const stale[] = {"If-Match: \"7\"", NULL};
  refused(path, ROLE_ADMIN, "{\"reason\": \"x\"}", stale, 412, "precondition-failed", NULL);
  struct http_resp r = {0};
  http(&r, "GET", path, ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 405, "method-not-allowed", NULL);
  assert_non_null(strstr(r.allow, "POST"));
  http_raw(&r, "POST", path, ROLE_ADMIN, "{\"reason\": \"x\"}", 15, "text/plain", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  /* The reason is stored as sent, quotes and all. */
  http(&r, "POST", path, ROLE_ADMIN, "{\"reason\": \"'); UPDATE invoices SET balance = 0; --\"}", NULL);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "reversal_reason"), "'); UPDATE invoices SET balance = 0; --");
  assert_int_equal(balance_of(inv), 1000);
  http_resp_clear(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reversal_reopens_what_it_paid),
      cmocka_unit_test(reversal_of_auto_allocated_and_unapplied),
      cmocka_unit_test(reversal_refusals),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
