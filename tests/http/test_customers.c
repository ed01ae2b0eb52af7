/* /v1/customers: create, read, list with filters and pages, PATCH with
 * If-Match, the external_id upsert, balances computed from the ledger, and
 * every way a request can be refused without changing anything. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long long customer_count(void)
{
  return harness_sql_int("SELECT count(*) FROM customers");
}

/* POSTs BODY as admin, asserts 201 and copies the new id into ID. */
static void create_into(char id[32], const char *body)
{
  json_t *c = create_ok("/v1/customers", body);
  snprintf(id, 32, "%s", jstr(c, "id"));
  json_decref(c);
}

static void assert_days(const json_t *doc, const char *expected_json)
{
  json_t *want = json_loads(expected_json, 0, NULL);
  assert_non_null(want);
  json_t *got = json_object_get(doc, "preferred_contact_days");
  if (!json_equal(want, got)) {
    char *g = json_dumps(got, JSON_COMPACT);
    json_decref(want);
    fail_msg("preferred_contact_days: expected %s, got %s", expected_json, g ? g : "(none)");
  }
  json_decref(want);
}

static void assert_json_field(const json_t *doc, const char *field, const char *expected_json)
{
  json_t *want = json_loads(expected_json, JSON_DECODE_ANY, NULL);
  assert_non_null(want);
  json_t *got = json_object_get(doc, field);
  if (!json_equal(want, got)) {
    char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
    fail_msg("%s: expected %s, got %s", field, expected_json, g ? g : "(absent)");
  }
  json_decref(want);
}

/* "Today" in the SQL written here must be the server's: its sessions use
 * ARC_TIMEZONE (UTC unless set). */
static int setup(void **state)
{
  if (harness_setup(state) != 0)
    return -1;
  const char *tz = getenv("ARC_TIMEZONE");
  free(harness_sql("SET TimeZone = '%s'", tz && *tz ? tz : "UTC"));
  return 0;
}

static void create_with_every_field(void **state)
{
  (void)state;
  struct http_resp r = {0};
  http(&r, "POST", "/v1/customers", ROLE_ADMIN,
       "{\"name\": \"Acme Corp\", \"kind\": \"commercial\", \"email\": \"ap@acme.example\", "
       "\"phone\": \"+1 555 0100\", \"timezone\": \"America/New_York\", "
       "\"preferred_contact_days\": [\"fri\", \"mon\"], \"cadence_days\": 5, \"check_in_days\": 90, "
       "\"collector\": \"maria@example.com\", \"salesperson\": \"sam@example.com\", "
       "\"cease_communication\": true, \"notes\": \"Pays by wire.\", \"external_id\": \"crm-acme-1\"}",
       NULL);
  assert_status(&r, 201);
  const char *id = jstr(r.json, "id");
  assert_non_null(id);
  char loc[64];
  snprintf(loc, sizeof loc, "/v1/customers/%s", id);
  assert_string_equal(r.location, loc);
  assert_string_equal(r.etag, "\"1\"");
  assert_string_equal(jstr(r.json, "name"), "Acme Corp");
  assert_string_equal(jstr(r.json, "kind"), "commercial");
  assert_string_equal(jstr(r.json, "email"), "ap@acme.example");
  assert_string_equal(jstr(r.json, "phone"), "+1 555 0100");
  assert_string_equal(jstr(r.json, "timezone"), "America/New_York");
  /* Kept in week order, whatever order they came in. */
  assert_days(r.json, "[\"mon\", \"fri\"]");
  assert_int_equal(jint(r.json, "cadence_days"), 5);
  assert_int_equal(jint(r.json, "check_in_days"), 90);
  assert_string_equal(jstr(r.json, "collector"), "maria@example.com");
  assert_string_equal(jstr(r.json, "salesperson"), "sam@example.com");
  assert_true(json_is_true(json_object_get(r.json, "cease_communication")));
  assert_string_equal(jstr(r.json, "notes"), "Pays by wire.");
  assert_string_equal(jstr(r.json, "external_id"), "crm-acme-1");
  assert_int_equal(jint(r.json, "version"), 1);
  assert_json_field(r.json, "balance_open", "{}");
  assert_json_field(r.json, "balance_overdue", "{}");
  assert_json_field(r.json, "unapplied_credit", "{}");
  assert_int_equal(jint(r.json, "days_overdue"), 0);
  assert_non_null(strstr(jstr(r.json, "created_at"), "Z"));
  assert_string_equal(jstr(r.json, "created_at"), jstr(r.json, "updated_at"));
  json_t *created = json_incref(r.json);

  /* GET answers the same document and ETag. */
  http(&r, "GET", loc, ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"1\"");
  assert_true(json_equal(created, r.json));
  json_decref(created);
  http_resp_clear(&r);
}

static void defaults_for_a_minimal_body(void **state)
{
  (void)state;
  struct http_resp r = {0};
  http(&r, "POST", "/v1/customers", ROLE_MANAGER, "{\"name\": \"Minimal\"}", NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "kind"), "commercial");
  assert_string_equal(jstr(r.json, "timezone"), "UTC");
  assert_days(r.json, "[\"mon\"]");
  assert_false(json_is_true(json_object_get(r.json, "cease_communication")));
  static const char *const nulls[] = {"external_id", "email", "phone", "cadence_days", "check_in_days",
                                      "collector", "salesperson", "notes"};
  for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
    if (!json_is_null(json_object_get(r.json, nulls[i])))
      fail_msg("%s should be null: %s", nulls[i], r.body);

  /* Consumers are called toward the end of the week. */
  http(&r, "POST", "/v1/customers", ROLE_INTEGRATION, "{\"name\": \"Pat Doe\", \"kind\": \"consumer\"}", NULL);
  assert_status(&r, 201);
  assert_days(r.json, "[\"thu\", \"fri\"]");
  /* The doc shows the effective days; the row keeps "default". */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE id = %s AND preferred_contact_days IS NULL",
                                   jstr(r.json, "id")),
                   1);
  /* A body that is empty or has no body at all lacks the name. */
  http(&r, "POST", "/v1/customers", ROLE_ADMIN, NULL, NULL);
  assert_problem(&r, 422, "validation", "name");
  http_resp_clear(&r);
}

/* Balances come from invoices and payments rows, written here directly so
 * this test does not depend on the invoice and payment routes. */
static void balances_from_the_ledger(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char id[32], other[32];
  create_into(id, "{\"name\": \"Ledger Ltd\"}");
  create_into(other, "{\"name\": \"Someone Else\"}");
  harness_sql(
      "INSERT INTO invoices (customer_id, number, currency, original_amount, amount, balance, issued_on, due_on, status) "
      "VALUES (%s, 'BAL-A', 'USD', 100000, 100000, 60000, current_date - 40, current_date - 10, 'open'), "
      "(%s, 'BAL-B', 'USD', 50000, 50000, 50000, current_date - 33, current_date - 3, 'open'), "
      "(%s, 'BAL-C', 'USD', 20000, 20000, 20000, current_date - 30, current_date, 'open'), "
      "(%s, 'BAL-D', 'EUR', 7000, 7000, 7000, current_date, current_date + 30, 'open'), "
      "(%s, 'BAL-E', 'USD', 30000, 30000, 0, current_date - 90, current_date - 60, 'open'), "
      "(%s, 'BAL-F', 'USD', 9999, 9999, 9999, current_date - 90, current_date - 50, 'void'), "
      "(%s, 'BAL-G', 'GBP', 4000, 4000, 4000, current_date - 90, current_date - 70, 'written_off'), "
      "(%s, 'BAL-X', 'USD', 777, 777, 777, current_date - 90, current_date - 80, 'open')",
      id, id, id, id, id, id, id, other);
  harness_sql("INSERT INTO payments (customer_id, amount, currency, received_on, method, unapplied, status) "
              "VALUES (%s, 5000, 'USD', current_date, 'ach', 2500, 'received'), "
              "(%s, 1000, 'USD', current_date, 'check', 1000, 'reversed'), "
              "(%s, 3000, 'EUR', current_date, 'wire', 0, 'received'), "
              "(%s, 300, 'GBP', current_date - 1, 'card', 300, 'received'), "
              "(%s, 111, 'USD', current_date, 'cash', 111, 'received')",
              id, id, id, id, other);
  /* BAL-E has a zero balance: the status trigger made it paid. */
  assert_int_equal(harness_sql_int("SELECT count(*) FROM invoices WHERE number = 'BAL-E' AND status = 'paid'"), 1);

  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/customers/%s", id);
  assert_status(&r, 200);
  /* Open: A 60000 + B 50000 + C 20000 (due today, open but not overdue). */
  assert_json_field(r.json, "balance_open", "{\"USD\": 130000, \"EUR\": 7000}");
  assert_json_field(r.json, "balance_overdue", "{\"USD\": 110000}");
  /* The oldest overdue open invoice: A, ten days. */
  assert_int_equal(jint(r.json, "days_overdue"), 10);
  /* Reversed payments and fully applied ones leave no credit. */
  assert_json_field(r.json, "unapplied_credit", "{\"USD\": 2500, \"GBP\": 300}");
  /* Ledger rows do not touch the customer's version. */
  assert_int_equal(jint(r.json, "version"), 1);

  /* Paying A off moves the oldest overdue to B. */
  harness_sql("UPDATE invoices SET balance = 0 WHERE number = 'BAL-A'");
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/customers/%s", id);
  assert_json_field(r.json, "balance_open", "{\"USD\": 70000, \"EUR\": 7000}");
  assert_json_field(r.json, "balance_overdue", "{\"USD\": 50000}");
  assert_int_equal(jint(r.json, "days_overdue"), 3);

  /* Nothing overdue any more. */
  harness_sql("UPDATE invoices SET balance = 0 WHERE number = 'BAL-B'");
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/customers/%s", id);
  assert_json_field(r.json, "balance_open", "{\"USD\": 20000, \"EUR\": 7000}");
  assert_json_field(r.json, "balance_overdue", "{}");
  assert_int_equal(jint(r.json, "days_overdue"), 0);

  /* Amounts up to 2^53 - 1 are exact. */
  harness_sql("INSERT INTO invoices (customer_id, number, currency, original_amount, amount, balance, issued_on, due_on) "
              "VALUES (%s, 'BAL-BIG', 'JPY', 9007199254740991, 9007199254740991, 9007199254740991, "
              "current_date - 2, current_date - 1)",
              id);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/customers/%s", id);
  assert_json_field(r.json, "balance_overdue", "{\"JPY\": 9007199254740991}");
  assert_int_equal(jint(r.json, "days_overdue"), 1);

  /* The other customer sees only its own. */
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/customers/%s", other);
  assert_json_field(r.json, "balance_open", "{\"USD\": 777}");
  assert_json_field(r.json, "balance_overdue", "{\"USD\": 777}");
  assert_int_equal(jint(r.json, "days_overdue"), 80);
  assert_json_field(r.json, "unapplied_credit", "{\"USD\": 111}");

  /* An invoice made through the API counts the same way. */
  char *issued = harness_sql("SELECT (current_date - 35)::text");
  char *due = harness_sql("SELECT (current_date - 5)::text");
  make_invoice(other, "BAL-API-1", 1000, issued, due);
  free(issued);
  free(due);
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/customers/%s", other);
  assert_json_field(r.json, "balance_open", "{\"USD\": 1777}");
  assert_json_field(r.json, "balance_overdue", "{\"USD\": 1777}");
  assert_int_equal(jint(r.json, "days_overdue"), 80);

  /* Lists render the same balances. */
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/customers?q=Someone%%20Else");
  assert_status(&r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
  assert_int_equal(jint(json_array_get(json_object_get(r.json, "data"), 0), "days_overdue"), 80);
  http_resp_clear(&r);
}

static void patch_changes_only_what_is_given(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char id[32];
  create_into(id, "{\"name\": \"Patchable\", \"email\": \"a@b.example\", \"phone\": \"123\", \"notes\": \"n\", "
                  "\"cadence_days\": 3, \"check_in_days\": 30, \"collector\": \"c@example.com\", "
                  "\"salesperson\": \"s@example.com\", \"preferred_contact_days\": [\"tue\"]}");

  httpf(&r, "PATCH", ROLE_MANAGER, "{\"name\": \"Patched\"}", "/v1/customers/%s", id);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"2\"");
  assert_string_equal(jstr(r.json, "name"), "Patched");
  assert_string_equal(jstr(r.json, "email"), "a@b.example");
  assert_int_equal(jint(r.json, "version"), 2);

  /* A kind change keeps the stored days. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"kind\": \"consumer\"}", "/v1/customers/%s", id);
  assert_status(&r, 200);
  assert_days(r.json, "[\"tue\"]");

  /* null clears every nullable field; the days fall back to the kind's. */
  httpf(&r, "PATCH", ROLE_INTEGRATION,
        "{\"email\": null, \"phone\": null, \"notes\": null, \"cadence_days\": null, \"check_in_days\": null, "
        "\"collector\": null, \"salesperson\": null, \"preferred_contact_days\": null}",
        "/v1/customers/%s", id);
  assert_status(&r, 200);
  static const char *const cleared[] = {"email", "phone", "notes", "cadence_days", "check_in_days", "collector",
                                        "salesperson"};
  for (size_t i = 0; i < sizeof cleared / sizeof cleared[0]; i++)
    if (!json_is_null(json_object_get(r.json, cleared[i])))
      fail_msg("%s not cleared: %s", cleared[i], r.body);
  assert_days(r.json, "[\"thu\", \"fri\"]");
  /* With no days of its own, the kind decides. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"kind\": \"commercial\"}", "/v1/customers/%s", id);
  assert_days(r.json, "[\"mon\"]");
  long long version = jint(r.json, "version");
  char updated_at[64];
  snprintf(updated_at, sizeof updated_at, "%s", jstr(r.json, "updated_at"));

  /* Nothing really changed: neither version nor updated_at move. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"kind\": \"commercial\", \"name\": \"Patched\"}", "/v1/customers/%s", id);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), version);
  assert_string_equal(jstr(r.json, "updated_at"), updated_at);
  /* An empty PATCH is a no-op that answers the doc. */
  httpf(&r, "PATCH", ROLE_ADMIN, NULL, "/v1/customers/%s", id);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), version);

  /* Not nullable: name, kind, timezone, cease_communication. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"name\": null, \"kind\": null, \"timezone\": null, \"cease_communication\": null}",
        "/v1/customers/%s", id);
  assert_problem(&r, 422, "validation", "name");
  assert_problem(&r, 422, "validation", "kind");
  assert_problem(&r, 422, "validation", "timezone");
  assert_problem(&r, 422, "validation", "cease_communication");
  /* Read-only fields are not part of the body. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"balance_open\": {}, \"version\": 9, \"id\": \"1\"}", "/v1/customers/%s", id);
  assert_problem(&r, 422, "validation", "balance_open");
  assert_problem(&r, 422, "validation", "version");
  assert_problem(&r, 422, "validation", "id");
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"timezone\": \"Europe/Nowhere\"}", "/v1/customers/%s", id);
  assert_problem(&r, 422, "validation", "timezone");
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/customers/%s", id);
  assert_int_equal(jint(r.json, "version"), version);
  assert_string_equal(jstr(r.json, "timezone"), "UTC");
  http_resp_clear(&r);
}

static void patch_with_if_match(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char id[32], path[64];
  create_into(id, "{\"name\": \"Matcher\"}");
  snprintf(path, sizeof path, "/v1/customers/%s", id);

  const char *const current[] = {"If-Match: \"1\"", NULL};
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"notes\": \"first\"}", current);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"2\"");

  /* The same tag again is stale now: 412 and nothing changes. */
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"notes\": \"lost update\"}", current);
  assert_problem(&r, 412, "precondition-failed", NULL);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE id = %s AND notes = 'first' AND version = 2", id),
                   1);
  /* The 412 names the current ETag, in the wording of every resource. */
  assert_string_equal(jstr(r.json, "detail"),
                      "If-Match does not name the customer as it is now (ETag \"2\"); read it again and retry");
  const char *const weak[] = {"If-Match: W/\"2\"", NULL};
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"notes\": \"weak\"}", weak);
  assert_problem(&r, 412, "precondition-failed", NULL);
  /* A version without its quotes is no entity tag: 400 before anything is
   * read, whether or not it is the current version; nothing changes. */
  const char *const bare[] = {"If-Match: 2", NULL};
  const char *const unclosed[] = {"If-Match: \"2", NULL};
  const char *const trailing[] = {"If-Match: \"2\" x", NULL};
  const char *const *malformed[] = {bare, unclosed, trailing};
  for (size_t i = 0; i < 3; i++) {
    http(&r, "PATCH", path, ROLE_ADMIN, "{\"notes\": \"bare\"}", malformed[i]);
    assert_problem(&r, 400, "bad-request", NULL);
    assert_non_null(strstr(jstr(r.json, "detail"), "If-Match must be an ETag"));
  }
  http(&r, "PATCH", "/v1/customers/999999999", ROLE_ADMIN, "{\"notes\": \"bare\"}", bare);
  assert_problem(&r, 400, "bad-request", NULL);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE id = %s AND notes = 'first' AND version = 2", id),
                   1);
  const char *const list[] = {"If-Match: \"7\", \"2\"", NULL};
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"notes\": \"listed\"}", list);
  assert_status(&r, 200);
  const char *const any[] = {"If-Match: *", NULL};
  http(&r, "PATCH", path, ROLE_ADMIN, "{\"notes\": \"star\"}", any);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "notes"), "star");
  assert_string_equal(r.etag, "\"4\"");

  /* Unknown and malformed ids are 404, before and after validation alike. */
  http(&r, "PATCH", "/v1/customers/999999999", ROLE_ADMIN, "{\"notes\": \"x\"}", NULL);
  assert_problem(&r, 404, "not-found", NULL);
  http(&r, "PATCH", "/v1/customers/abc", ROLE_ADMIN, "{\"notes\": \"x\"}", NULL);
  assert_problem(&r, 404, "not-found", NULL);
  http_resp_clear(&r);
}

static void external_id_is_unique(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char a[32], b[32];
  create_into(a, "{\"name\": \"Unique A\", \"external_id\": \"dup-1\"}");
  create_into(b, "{\"name\": \"Unique B\", \"external_id\": \"dup-2\"}");
  long long before = customer_count();
  http(&r, "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"Again\", \"external_id\": \"dup-1\"}", NULL);
  assert_problem(&r, 409, "duplicate", "external_id");
  assert_int_equal(customer_count(), before);
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"external_id\": \"dup-1\"}", "/v1/customers/%s", b);
  assert_problem(&r, 409, "duplicate", "external_id");
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE id = %s AND external_id = 'dup-2'", b), 1);
  /* Cleared, the id is free again; NULLs never collide. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"external_id\": null}", "/v1/customers/%s", a);
  assert_status(&r, 200);
  assert_true(json_is_null(json_object_get(r.json, "external_id")));
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"external_id\": \"dup-1\"}", "/v1/customers/%s", b);
  assert_status(&r, 200);
  http(&r, "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"No ext 1\", \"external_id\": null}", NULL);
  assert_status(&r, 201);
  http_resp_clear(&r);
}

static void upsert_by_external_id(void **state)
{
  (void)state;
  struct http_resp r = {0};
  long long before = customer_count();
  http(&r, "PUT", "/v1/customers/external/erp-77", ROLE_INTEGRATION,
       "{\"name\": \"Synced Co\", \"phone\": \"555\", \"collector\": \"c1@example.com\"}", NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "external_id"), "erp-77");
  char id[32], loc[64];
  snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
  snprintf(loc, sizeof loc, "/v1/customers/%s", id);
  assert_string_equal(r.location, loc);
  assert_string_equal(r.etag, "\"1\"");
  assert_int_equal(customer_count(), before + 1);

  /* The same body again: 200, unchanged version and updated_at. */
  char updated_at[64];
  snprintf(updated_at, sizeof updated_at, "%s", jstr(r.json, "updated_at"));
  http(&r, "PUT", "/v1/customers/external/erp-77", ROLE_INTEGRATION,
       "{\"name\": \"Synced Co\", \"phone\": \"555\", \"collector\": \"c1@example.com\"}", NULL);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "id"), id);
  assert_int_equal(jint(r.json, "version"), 1);
  assert_string_equal(jstr(r.json, "updated_at"), updated_at);
  assert_string_equal(r.etag, "\"1\"");
  assert_int_equal(customer_count(), before + 1);

  /* Days in another order are the same set: still unchanged. */
  http(&r, "PUT", "/v1/customers/external/erp-77", ROLE_INTEGRATION,
       "{\"name\": \"Synced Co\", \"preferred_contact_days\": [\"wed\", \"mon\"]}", NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), 2);
  http(&r, "PUT", "/v1/customers/external/erp-77", ROLE_INTEGRATION,
       "{\"name\": \"Synced Co\", \"preferred_contact_days\": [\"mon\", \"wed\"]}", NULL);
  assert_int_equal(jint(r.json, "version"), 2);

  /* A change: 200, version + 1; fields the body leaves out are kept. */
  http(&r, "PUT", "/v1/customers/external/erp-77", ROLE_ADMIN,
       "{\"name\": \"Synced Company\", \"external_id\": \"erp-77\"}", NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), 3);
  assert_string_equal(jstr(r.json, "name"), "Synced Company");
  assert_string_equal(jstr(r.json, "phone"), "555");
  assert_string_equal(jstr(r.json, "collector"), "c1@example.com");
  /* ...and null clears. */
  http(&r, "PUT", "/v1/customers/external/erp-77", ROLE_ADMIN, "{\"name\": \"Synced Company\", \"phone\": null}",
       NULL);
  assert_status(&r, 200);
  assert_true(json_is_null(json_object_get(r.json, "phone")));
  assert_int_equal(jint(r.json, "version"), 4);

  /* If-Match on an upsert of an existing customer. */
  const char *const stale[] = {"If-Match: \"1\"", NULL};
  http(&r, "PUT", "/v1/customers/external/erp-77", ROLE_ADMIN, "{\"name\": \"Stale\"}", stale);
  assert_problem(&r, 412, "precondition-failed", NULL);
  const char *const fresh[] = {"If-Match: \"4\"", NULL};
  http(&r, "PUT", "/v1/customers/external/erp-77", ROLE_ADMIN, "{\"name\": \"Fresh\"}", fresh);
  assert_status(&r, 200);
  /* ...and of one that does not exist: nothing to match, nothing created. */
  http(&r, "PUT", "/v1/customers/external/erp-none", ROLE_ADMIN, "{\"name\": \"Ghost\"}", stale);
  assert_problem(&r, 412, "precondition-failed", NULL);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE external_id = 'erp-none'"), 0);

  /* The upserted customer is the one POST and GET see. */
  http(&r, "GET", "/v1/customers?external_id=erp-77", ROLE_VIEWER, NULL, NULL);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "name"), "Fresh");
  http(&r, "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"Clash\", \"external_id\": \"erp-77\"}", NULL);
  assert_problem(&r, 409, "duplicate", "external_id");

  /* External ids with spaces, punctuation and non-ASCII travel
   * percent-encoded.  (A "/" cannot: the server decodes %2F before routing.) */
  http(&r, "PUT", "/v1/customers/external/acct:42%20%C3%A9t%C3%A9%3F%23", ROLE_ADMIN, "{\"name\": \"Encoded\"}",
       NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "external_id"), "acct:42 \xc3\xa9t\xc3\xa9?#");
  http(&r, "PUT", "/v1/customers/external/O'Brien%22%3B%20DROP%20TABLE%20customers%3B--", ROLE_ADMIN,
       "{\"name\": \"Quoted\"}", NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "external_id"), "O'Brien\"; DROP TABLE customers;--");
  http_resp_clear(&r);
}

/* Concurrent writers: one upsert creates, the rest update; of PATCHes
 * holding the same ETag exactly one wins and the others get 412. */
static void concurrent_writers(void **state)
{
  (void)state;
  enum { N = 8 };
  struct racer rc[N];
  for (int i = 0; i < N; i++) {
    rc[i] = (struct racer){.method = "PUT", .who = ROLE_ADMIN,
                           .body = "{\"name\": \"Racer\", \"collector\": \"race@example.com\"}"};
    snprintf(rc[i].url, sizeof rc[i].url, "%s/v1/customers/external/race-1", harness_base());
  }
  run_racers(rc, N);
  int created = 0;
  for (int i = 0; i < N; i++) {
    if (rc[i].status == 201)
      created++;
    else
      assert_int_equal(rc[i].status, 200);
  }
  assert_int_equal(created, 1);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE external_id = 'race-1'"), 1);
  assert_int_equal(harness_sql_int("SELECT version FROM customers WHERE external_id = 'race-1'"), 1);

  char id[32];
  create_into(id, "{\"name\": \"Contended\"}");
  for (int i = 0; i < N; i++) {
    rc[i] = (struct racer){.method = "PATCH", .who = ROLE_ADMIN, .header = "If-Match: \"1\""};
    snprintf(rc[i].url, sizeof rc[i].url, "%s/v1/customers/%s", harness_base(), id);
    snprintf(rc[i].body, sizeof rc[i].body, "{\"notes\": \"writer %d\"}", i);
  }
  run_racers(rc, N);
  int won = 0;
  for (int i = 0; i < N; i++) {
    if (rc[i].status == 200)
      won++;
    else
      assert_int_equal(rc[i].status, 412);
  }
  assert_int_equal(won, 1);
  assert_int_equal(harness_sql_int("SELECT version FROM customers WHERE id = %s", id), 2);
}

static void upsert_refusals(void **state)
{
  (void)state;
  struct http_resp r = {0};
  json_t *c = create_ok("/v1/customers", "{\"name\": \"Refused Upsert\", \"external_id\": \"ref-1\"}");
  json_decref(c);
  long long before = customer_count();
  long long versions = harness_sql_int("SELECT sum(version) FROM customers");
  char long_ext[400];
  strcpy(long_ext, "/v1/customers/external/");
  memset(long_ext + strlen(long_ext), 'e', 201);
  long_ext[23 + 201] = '\0';
  const struct step steps[] = {
      {"name is required", "PUT", "/v1/customers/external/ref-new", ROLE_ADMIN, "{\"phone\": \"1\"}", 422,
       "validation", "name"},
      {"name is required on update too", "PUT", "/v1/customers/external/ref-1", ROLE_ADMIN, "{}", 422,
       "validation", "name"},
      {"body external_id differs", "PUT", "/v1/customers/external/ref-1", ROLE_ADMIN,
       "{\"name\": \"x\", \"external_id\": \"ref-2\"}", 422, "validation", "external_id"},
      {"body external_id null", "PUT", "/v1/customers/external/ref-1", ROLE_ADMIN,
       "{\"name\": \"x\", \"external_id\": null}", 422, "validation", "external_id"},
      {"external_id too long", "PUT", long_ext, ROLE_ADMIN, "{\"name\": \"x\"}", 422, "validation", "external_id"},
      {"external_id blank", "PUT", "/v1/customers/external/%20%20", ROLE_ADMIN, "{\"name\": \"x\"}", 422,
       "validation", "external_id"},
      {"external_id not UTF-8", "PUT", "/v1/customers/external/%C3%28", ROLE_ADMIN, "{\"name\": \"x\"}", 404,
       "not-found", NULL},
      {"unknown field", "PUT", "/v1/customers/external/ref-1", ROLE_ADMIN, "{\"name\": \"x\", \"color\": 1}", 422,
       "validation", "color"},
      {"bad time zone", "PUT", "/v1/customers/external/ref-new", ROLE_ADMIN,
       "{\"name\": \"x\", \"timezone\": \"Moon/Tranquility\"}", 422, "validation", "timezone"},
      {"malformed JSON", "PUT", "/v1/customers/external/ref-1", ROLE_ADMIN, "{\"name\": ", 400, "malformed-json",
       NULL},
      {"viewer", "PUT", "/v1/customers/external/ref-1", ROLE_VIEWER, "{\"name\": \"x\"}", 403, "forbidden", NULL},
      {"collector", "PUT", "/v1/customers/external/ref-1", ROLE_COLLECTOR, "{\"name\": \"x\"}", 403, "forbidden",
       NULL},
      {"no key", "PUT", "/v1/customers/external/ref-1", NO_KEY, "{\"name\": \"x\"}", 401, "unauthorized", NULL},
      {"no external_id", "PUT", "/v1/customers/external/", ROLE_ADMIN, "{\"name\": \"x\"}", 404, "not-found", NULL},
  };
  run_steps(steps, sizeof steps / sizeof steps[0]);
  static const char bad_utf8[] = "{\"name\": \"\xff\xfe\"}";
  http_raw(&r, "PUT", "/v1/customers/external/ref-1", ROLE_ADMIN, bad_utf8, sizeof bad_utf8 - 1,
           "application/json", NULL);
  assert_problem(&r, 400, "malformed-json", NULL);
  http_raw(&r, "PUT", "/v1/customers/external/ref-1", ROLE_ADMIN, "name=x", 6, "text/plain", NULL);
  assert_problem(&r, 415, "unsupported-media-type", NULL);
  assert_int_equal(customer_count(), before);
  assert_int_equal(harness_sql_int("SELECT sum(version) FROM customers"), versions);
  http_resp_clear(&r);
}

#define LONG201 \
  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define LONG41 "12345678901234567890123456789012345678901"

/* Each bad field alone, on POST: 422 naming it. */
static const struct step bad_fields[] = {
    {"name missing", "POST", "/v1/customers", ROLE_ADMIN, "{}", 422, "validation", "name"},
    {"name null", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": null}", 422, "validation", "name"},
    {"name empty", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"\"}", 422, "validation", "name"},
    {"name blank", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"  \\t \"}", 422, "validation", "name"},
    {"name number", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": 42}", 422, "validation", "name"},
    {"name object", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": {\"first\": \"a\"}}", 422, "validation", "name"},
    {"name too long", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"" LONG201 "\"}", 422, "validation", "name"},
    {"kind unknown", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"kind\": \"retail\"}", 422,
     "validation", "kind"},
    {"kind case", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"kind\": \"Consumer\"}", 422,
     "validation", "kind"},
    {"kind null", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"kind\": null}", 422, "validation",
     "kind"},
    {"email malformed", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"email\": \"not-an-email\"}", 422,
     "validation", "email"},
    {"email with space", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"email\": \"a b@c.example\"}",
     422, "validation", "email"},
    {"email number", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"email\": 1}", 422, "validation",
     "email"},
    {"phone too long", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"phone\": \"" LONG41 "\"}", 422,
     "validation", "phone"},
    {"phone number", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"phone\": 5551234}", 422,
     "validation", "phone"},
    {"timezone unknown", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"timezone\": \"Mars/Olympus\"}",
     422, "validation", "timezone"},
    {"timezone wrong case", "POST", "/v1/customers", ROLE_ADMIN,
     "{\"name\": \"x\", \"timezone\": \"america/new_york\"}", 422, "validation", "timezone"},
    {"timezone offset", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"timezone\": \"+05:00\"}", 422,
     "validation", "timezone"},
    {"timezone number", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"timezone\": 5}", 422,
     "validation", "timezone"},
    {"timezone null", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"timezone\": null}", 422,
     "validation", "timezone"},
    {"days not an array", "POST", "/v1/customers", ROLE_ADMIN,
     "{\"name\": \"x\", \"preferred_contact_days\": \"mon\"}", 422, "validation", "preferred_contact_days"},
    {"days empty", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"preferred_contact_days\": []}", 422,
     "validation", "preferred_contact_days"},
    {"days unknown", "POST", "/v1/customers", ROLE_ADMIN,
     "{\"name\": \"x\", \"preferred_contact_days\": [\"mon\", \"monday\"]}", 422, "validation",
     "preferred_contact_days[1]"},
    {"days twice", "POST", "/v1/customers", ROLE_ADMIN,
     "{\"name\": \"x\", \"preferred_contact_days\": [\"fri\", \"fri\"]}", 422, "validation",
     "preferred_contact_days[1]"},
    {"days numbers", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"preferred_contact_days\": [1]}", 422,
     "validation", "preferred_contact_days[0]"},
    {"cadence 0", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"cadence_days\": 0}", 422, "validation",
     "cadence_days"},
    {"cadence 366", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"cadence_days\": 366}", 422,
     "validation", "cadence_days"},
    {"cadence negative", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"cadence_days\": -3}", 422,
     "validation", "cadence_days"},
    {"cadence float", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"cadence_days\": 3.0}", 422,
     "validation", "cadence_days"},
    {"cadence exponent", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"cadence_days\": 1e2}", 422,
     "validation", "cadence_days"},
    {"cadence string", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"cadence_days\": \"3\"}", 422,
     "validation", "cadence_days"},
    {"cadence past 2^53", "POST", "/v1/customers", ROLE_ADMIN,
     "{\"name\": \"x\", \"cadence_days\": 9007199254740993}", 422, "validation", "cadence_days"},
    {"cadence wraps 32 bits", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"cadence_days\": 4294967299}",
     422, "validation", "cadence_days"},
    {"cadence past 2^63", "POST", "/v1/customers", ROLE_ADMIN,
     "{\"name\": \"x\", \"cadence_days\": 99999999999999999999}", 400, "malformed-json", NULL},
    {"check-in 3651", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"check_in_days\": 3651}", 422,
     "validation", "check_in_days"},
    {"check-in 0", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"check_in_days\": 0}", 422,
     "validation", "check_in_days"},
    {"check-in bool", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"check_in_days\": true}", 422,
     "validation", "check_in_days"},
    {"collector too long", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"collector\": \"" LONG201 "\"}",
     422, "validation", "collector"},
    {"collector empty", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"collector\": \"\"}", 422,
     "validation", "collector"},
    {"salesperson too long", "POST", "/v1/customers", ROLE_ADMIN,
     "{\"name\": \"x\", \"salesperson\": \"" LONG201 "\"}", 422, "validation", "salesperson"},
    {"salesperson array", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"salesperson\": [\"a\"]}", 422,
     "validation", "salesperson"},
    {"cease string", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"cease_communication\": \"yes\"}",
     422, "validation", "cease_communication"},
    {"cease number", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"cease_communication\": 1}", 422,
     "validation", "cease_communication"},
    {"notes number", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"notes\": 12}", 422, "validation",
     "notes"},
    {"external_id too long", "POST", "/v1/customers", ROLE_ADMIN,
     "{\"name\": \"x\", \"external_id\": \"" LONG201 "\"}", 422, "validation", "external_id"},
    {"external_id empty", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"external_id\": \"\"}", 422,
     "validation", "external_id"},
    {"external_id number", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"external_id\": 17}", 422,
     "validation", "external_id"},
    {"unknown field", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"nickname\": \"y\"}", 422,
     "validation", "nickname"},
    {"read-only balance", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"balance_open\": {\"USD\": 1}}",
     422, "validation", "balance_open"},
    {"read-only days overdue", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"days_overdue\": 0}", 422,
     "validation", "days_overdue"},
    {"body is an array", "POST", "/v1/customers", ROLE_ADMIN, "[{\"name\": \"x\"}]", 422, "validation", "(body)"},
    {"body is a string", "POST", "/v1/customers", ROLE_ADMIN, "\"x\"", 400, "malformed-json", NULL},
    {"malformed JSON", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\",}", 400, "malformed-json", NULL},
    {"single quotes", "POST", "/v1/customers", ROLE_ADMIN, "{'name': 'x'}", 400, "malformed-json", NULL},
    {"duplicate key", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"name\": \"y\"}", 400,
     "malformed-json", NULL},
    {"NUL escape", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"a\\u0000b\"}", 400, "malformed-json", NULL},
    {"lone surrogate", "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"\\ud800\"}", 400, "malformed-json", NULL},
};

static void each_bad_field_is_named(void **state)
{
  (void)state;
  long long before = customer_count();
  run_steps(bad_fields, sizeof bad_fields / sizeof bad_fields[0]);
  assert_int_equal(customer_count(), before);

  /* Many at once: every one is named. */
  struct http_resp r = {0};
  http(&r, "POST", "/v1/customers", ROLE_ADMIN,
       "{\"name\": \"\", \"kind\": \"retail\", \"email\": \"x\", \"phone\": 5, \"timezone\": \"Mars/Base\", "
       "\"preferred_contact_days\": [\"mon\", \"mon\"], \"cadence_days\": 0, \"check_in_days\": 1.5, "
       "\"collector\": \"\", \"salesperson\": 7, \"cease_communication\": \"yes\", \"notes\": 3, "
       "\"external_id\": \"\", \"extra\": 1}",
       NULL);
  static const char *const named[] = {"name",          "kind",      "email",       "phone",
                                      "timezone",      "preferred_contact_days[1]", "cadence_days",
                                      "check_in_days", "collector", "salesperson", "cease_communication",
                                      "notes",         "external_id", "extra"};
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
    assert_problem(&r, 422, "validation", named[i]);
  assert_int_equal(json_array_size(json_object_get(r.json, "errors")), sizeof named / sizeof named[0]);
  assert_int_equal(customer_count(), before);

  /* The limits themselves are allowed. */
  http(&r, "POST", "/v1/customers", ROLE_ADMIN,
       "{\"name\": \"x\", \"cadence_days\": 365, \"check_in_days\": 3650, \"phone\": \"1234567890123456789012345678901234567890\", "
       "\"preferred_contact_days\": [\"sun\", \"sat\", \"fri\", \"thu\", \"wed\", \"tue\", \"mon\"], "
       "\"timezone\": \"Etc/GMT+5\", \"notes\": \"\"}",
       NULL);
  assert_status(&r, 201);
  assert_days(r.json, "[\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]");
  assert_string_equal(jstr(r.json, "notes"), "");
  http(&r, "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"x\", \"cadence_days\": 1, \"check_in_days\": 1}", NULL);
  assert_status(&r, 201);
  http_resp_clear(&r);
}

static void notes_limit(void **state)
{
  (void)state;
  struct http_resp r = {0};
  long long before = customer_count();
  size_t n = 10001;
  char *body = malloc(n + 64);
  int len = snprintf(body, 64, "{\"name\": \"Noted\", \"notes\": \"");
  memset(body + len, 'n', n);
  strcpy(body + len + n, "\"}");
  http(&r, "POST", "/v1/customers", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 422, "validation", "notes");
  assert_int_equal(customer_count(), before);
  /* 10000 characters, each two bytes in UTF-8, are allowed. */
  len = snprintf(body, 64, "{\"name\": \"Noted\", \"notes\": \"");
  char *big = malloc(2 * 10000 + 64);
  memcpy(big, body, (size_t)len);
  for (int i = 0; i < 10000; i++)
    memcpy(big + len + 2 * i, "\xc3\xa9", 2);
  strcpy(big + len + 20000, "\"}");
  http(&r, "POST", "/v1/customers", ROLE_ADMIN, big, NULL);
  assert_status(&r, 201);
  assert_int_equal(harness_sql_int("SELECT char_length(notes) FROM customers WHERE id = %s", jstr(r.json, "id")),
                   10000);
  free(big);
  free(body);
  http_resp_clear(&r);
}

static void bodies_refused_change_nothing(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char id[32], path[64];
  create_into(id, "{\"name\": \"Untouchable\"}");
  snprintf(path, sizeof path, "/v1/customers/%s", id);
  long long before = customer_count();
  long long versions = harness_sql_int("SELECT sum(version) FROM customers");

  static const char bad_utf8[] = "{\"name\": \"caf\xc3\"}";
  static const char overlong[] = "{\"name\": \"\xc0\xaf\"}";
  const char *methods[] = {"POST", "PATCH"};
  const char *paths[] = {"/v1/customers", path};
  for (int m = 0; m < 2; m++) {
    http_raw(&r, methods[m], paths[m], ROLE_ADMIN, bad_utf8, sizeof bad_utf8 - 1, "application/json", NULL);
    assert_problem(&r, 400, "malformed-json", NULL);
    http_raw(&r, methods[m], paths[m], ROLE_ADMIN, overlong, sizeof overlong - 1, "application/json", NULL);
    assert_problem(&r, 400, "malformed-json", NULL);
    http_raw(&r, methods[m], paths[m], ROLE_ADMIN, "{\"name\": \"x\"}", 13, "text/plain", NULL);
    assert_problem(&r, 415, "unsupported-media-type", NULL);
    http_raw(&r, methods[m], paths[m], ROLE_ADMIN, "{\"name\": \"x\"}", 13, NULL, NULL);
    assert_problem(&r, 415, "unsupported-media-type", NULL);
    http(&r, methods[m], paths[m], ROLE_ADMIN, "{\"name\": \"x\"", NULL);
    assert_problem(&r, 400, "malformed-json", NULL);
  }
  /* Over 1 MiB: 413 before the body is read, on every write route. */
  size_t n = (1u << 20) + 100;
  char *big = malloc(n + 1);
  memset(big, 'a', n);
  memcpy(big, "{\"name\": \"x\", \"notes\": \"", 24);
  memcpy(big + n - 2, "\"}", 2);
  big[n] = '\0';
  const char *big_methods[] = {"POST", "PATCH", "PUT"};
  const char *big_paths[] = {"/v1/customers", path, "/v1/customers/external/big-one"};
  for (int m = 0; m < 3; m++) {
    http_raw(&r, big_methods[m], big_paths[m], ROLE_ADMIN, big, n, "application/json", NULL);
    assert_problem(&r, 413, "payload-too-large", NULL);
  }
  free(big);
  assert_int_equal(customer_count(), before);
  assert_int_equal(harness_sql_int("SELECT sum(version) FROM customers"), versions);
  http_resp_clear(&r);
}

static void metacharacters_and_unicode_stored_verbatim(void **state)
{
  (void)state;
  struct http_resp r = {0};
  http(&r, "POST", "/v1/customers", ROLE_ADMIN,
       "{\"name\": \"O'Brien\\\"; DROP TABLE customers;--\", \"notes\": \"100% \\\\ _under_ $1 $$ \\n\\ttab\", "
       "\"collector\": \"' OR '1'='1\", \"email\": \"o'brien@example.com\"}",
       NULL);
  assert_status(&r, 201);
  char id[32];
  snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
  httpf(&r, "GET", ROLE_ADMIN, NULL, "/v1/customers/%s", id);
  assert_string_equal(jstr(r.json, "name"), "O'Brien\"; DROP TABLE customers;--");
  assert_string_equal(jstr(r.json, "notes"), "100% \\ _under_ $1 $$ \n\ttab");
  assert_string_equal(jstr(r.json, "collector"), "' or '1'='1"); /* a handle: in lower case */
  assert_string_equal(jstr(r.json, "email"), "o'brien@example.com");
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE name = 'O''Brien\"; DROP TABLE customers;--'"),
                   1);
  /* The filter is a value, not SQL. */
  http(&r, "GET", "/v1/customers?collector=%27%20OR%20%271%27%3D%271", ROLE_ADMIN, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);

  /* Unicode: accents, CJK, emoji (4-byte UTF-8), right-to-left. */
  http(&r, "POST", "/v1/customers", ROLE_ADMIN,
       "{\"name\": \"Zo\\u00eb \xc3\x98stby \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d\"}",
       NULL);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "name"),
                      "Zo\xc3\xab \xc3\x98stby \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d");
  /* 200 characters is the limit, counted in characters, not bytes. */
  char body[1024];
  int len = snprintf(body, sizeof body, "{\"name\": \"");
  for (int i = 0; i < 200; i++)
    len += snprintf(body + len, sizeof body - (size_t)len, "\xe6\x97\xa5");
  snprintf(body + len, sizeof body - (size_t)len, "\"}");
  http(&r, "POST", "/v1/customers", ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  assert_int_equal(harness_sql_int("SELECT char_length(name) FROM customers WHERE id = %s", jstr(r.json, "id")), 200);
  snprintf(body + len, sizeof body - (size_t)len, "\xf0\x9f\x9a\x80\"}");
  http(&r, "POST", "/v1/customers", ROLE_ADMIN, body, NULL);
  assert_problem(&r, 422, "validation", "name");
  http_resp_clear(&r);
}

static void roles_and_methods(void **state)
{
  (void)state;
  char id[32], item[64];
  create_into(id, "{\"name\": \"Guarded\"}");
  snprintf(item, sizeof item, "/v1/customers/%s", id);
  long long before = customer_count();
  const struct step steps[] = {
      {"list without key", "GET", "/v1/customers", NO_KEY, NULL, 401, "unauthorized", NULL},
      {"get without key", "GET", item, NO_KEY, NULL, 401, "unauthorized", NULL},
      {"create without key", "POST", "/v1/customers", NO_KEY, "{\"name\": \"x\"}", 401, "unauthorized", NULL},
      {"patch without key", "PATCH", item, NO_KEY, "{\"name\": \"x\"}", 401, "unauthorized", NULL},
      {"viewer may not create", "POST", "/v1/customers", ROLE_VIEWER, "{\"name\": \"x\"}", 403, "forbidden", NULL},
      {"collector may not create", "POST", "/v1/customers", ROLE_COLLECTOR, "{\"name\": \"x\"}", 403, "forbidden",
       NULL},
      {"viewer may not patch", "PATCH", item, ROLE_VIEWER, "{\"name\": \"x\"}", 403, "forbidden", NULL},
      {"collector may not patch", "PATCH", item, ROLE_COLLECTOR, "{\"name\": \"x\"}", 403, "forbidden", NULL},
      {"viewer reads the list", "GET", "/v1/customers", ROLE_VIEWER, NULL, 200, NULL, NULL},
      {"collector reads one", "GET", item, ROLE_COLLECTOR, NULL, 200, NULL, NULL},
      {"integration reads", "GET", item, ROLE_INTEGRATION, NULL, 200, NULL, NULL},
      {"unknown id", "GET", "/v1/customers/999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"zero id", "GET", "/v1/customers/0", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"negative id", "GET", "/v1/customers/-1", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"word id", "GET", "/v1/customers/abc", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"injected id", "GET", "/v1/customers/1%20OR%201=1", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"id past bigint", "GET", "/v1/customers/99999999999999999999", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"leading zero", "GET", "/v1/customers/01", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"delete collection", "DELETE", "/v1/customers", ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
      {"put collection", "PUT", "/v1/customers", ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
      {"delete item", "DELETE", item, ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
      {"put item", "PUT", item, ROLE_ADMIN, "{\"name\": \"x\"}", 405, "method-not-allowed", NULL},
      {"post item", "POST", item, ROLE_ADMIN, "{\"name\": \"x\"}", 405, "method-not-allowed", NULL},
      {"get by external path", "GET", "/v1/customers/external/abc", ROLE_ADMIN, NULL, 405, "method-not-allowed",
       NULL},
      {"patch by external path", "PATCH", "/v1/customers/external/abc", ROLE_ADMIN, "{}", 405,
       "method-not-allowed", NULL},
  };
  run_steps(steps, sizeof steps / sizeof steps[0]);
  assert_int_equal(customer_count(), before);
  assert_int_equal(harness_sql_int("SELECT version FROM customers WHERE id = %s", id), 1);

  struct http_resp r = {0};
  http(&r, "DELETE", item, ROLE_ADMIN, NULL, NULL);
  assert_non_null(strstr(r.allow, "GET"));
  assert_non_null(strstr(r.allow, "PATCH"));
  http_resp_clear(&r);
}

static long long page_ids(const json_t *page, char ids[][32], size_t *n)
{
  json_t *data = json_object_get(page, "data");
  size_t i;
  json_t *d;
  json_array_foreach(data, i, d) snprintf(ids[(*n)++], 32, "%s", jstr(d, "id"));
  return (long long)json_array_size(data);
}

static void list_pages_with_a_cursor(void **state)
{
  (void)state;
  char made[5][32];
  for (int i = 0; i < 5; i++) {
    char body[128];
    snprintf(body, sizeof body, "{\"name\": \"Paged %d\", \"collector\": \"pager@example.com\"}", i);
    create_into(made[i], body);
  }
  struct http_resp r = {0};
  char seen[8][32];
  size_t n = 0;
  char path[256];
  snprintf(path, sizeof path, "/v1/customers?collector=pager%%40example.com&limit=2");
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(page_ids(r.json, seen, &n), 2);
  assert_string_equal(jstr(r.json, "next_cursor"), made[1]);
  snprintf(path, sizeof path, "/v1/customers?collector=pager%%40example.com&limit=2&cursor=%s",
           jstr(r.json, "next_cursor"));
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(page_ids(r.json, seen, &n), 2);
  snprintf(path, sizeof path, "/v1/customers?collector=pager%%40example.com&limit=2&cursor=%s",
           jstr(r.json, "next_cursor"));
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(page_ids(r.json, seen, &n), 1);
  assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
  assert_int_equal(n, 5);
  for (int i = 0; i < 5; i++)
    assert_string_equal(seen[i], made[i]);
  /* Exactly a page: no next page is promised. */
  http(&r, "GET", "/v1/customers?collector=pager%40example.com&limit=5", ROLE_VIEWER, NULL, NULL);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 5);
  assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
  /* Default and maximum limits. */
  http(&r, "GET", "/v1/customers?limit=200", ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  http(&r, "GET", "/v1/customers", ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  assert_true(json_array_size(json_object_get(r.json, "data")) <= 50);
  http_resp_clear(&r);
}

static void list_filters(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char a[32], b[32], c[32], d[32];
  create_into(a, "{\"name\": \"Filter Acme 50%_off\", \"kind\": \"consumer\", \"collector\": \"flt@example.com\", "
                 "\"salesperson\": \"sally@example.com\", \"external_id\": \"flt-a\"}");
  create_into(b, "{\"name\": \"filter acme 50xxoff\", \"collector\": \"flt@example.com\", "
                 "\"salesperson\": \"bob@example.com\"}");
  create_into(c, "{\"name\": \"Filter \xc3\x89lise\", \"collector\": \"flt@example.com\"}");
  create_into(d, "{\"name\": \"Back\\\\slash\", \"collector\": \"flt2@example.com\"}");

#define EXPECT_IDS(query, ...)                                                                     \
  do {                                                                                             \
    const char *want[] = {__VA_ARGS__};                                                            \
    http(&r, "GET", "/v1/customers?" query, ROLE_VIEWER, NULL, NULL);                              \
    assert_status(&r, 200);                                                                        \
    json_t *data_ = json_object_get(r.json, "data");                                               \
    size_t nw_ = sizeof want / sizeof want[0];                                                     \
    if (want[0] == NULL)                                                                           \
      nw_ = 0;                                                                                     \
    if (json_array_size(data_) != nw_)                                                             \
      fail_msg("%s: expected %zu rows, got %s", query, nw_, r.body);                               \
    for (size_t i_ = 0; i_ < nw_; i_++)                                                            \
      assert_string_equal(jstr(json_array_get(data_, i_), "id"), want[i_]);                        \
  } while (0)

  EXPECT_IDS("collector=flt%40example.com", a, b, c);
  EXPECT_IDS("collector=flt%40example.com&kind=consumer", a);
  EXPECT_IDS("collector=flt%40example.com&kind=commercial", b, c);
  EXPECT_IDS("salesperson=sally%40example.com", a);
  EXPECT_IDS("salesperson=bob%40example.com&collector=flt%40example.com", b);
  EXPECT_IDS("external_id=flt-a", a);
  EXPECT_IDS("external_id=FLT-A", NULL);
  /* q: case-insensitive substring; LIKE wildcards are literal. */
  EXPECT_IDS("collector=flt%40example.com&q=ACME", a, b);
  EXPECT_IDS("collector=flt%40example.com&q=50%25_off", a);
  EXPECT_IDS("collector=flt%40example.com&q=50%25", a);
  EXPECT_IDS("collector=flt%40example.com&q=_", a);
  EXPECT_IDS("collector=flt%40example.com&q=%C3%89lise", c);
  EXPECT_IDS("collector=flt2%40example.com&q=k%5C%5Cs", NULL);
  EXPECT_IDS("collector=flt2%40example.com&q=k%5Cs", d);
  EXPECT_IDS("collector=flt%40example.com&q=%27%3B%20DROP%20TABLE%20customers%3B--", NULL);

  /* overdue_as_of: an open invoice due before that date. */
  harness_sql("INSERT INTO invoices (customer_id, number, currency, original_amount, amount, balance, issued_on, due_on) "
              "VALUES (%s, 'FLT-1', 'USD', 1000, 1000, 1000, current_date - 40, current_date - 10), "
              "(%s, 'FLT-2', 'USD', 1000, 1000, 0, current_date - 40, current_date - 20)",
              b, c);
  char *ten_ago = harness_sql("SELECT (current_date - 10)::text");
  char *nine_ago = harness_sql("SELECT (current_date - 9)::text");
  char query[160];
  snprintf(query, sizeof query, "/v1/customers?collector=flt%%40example.com&overdue_as_of=%s", nine_ago);
  http(&r, "GET", query, ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  /* c's invoice is paid: it does not count. */
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), b);
  snprintf(query, sizeof query, "/v1/customers?collector=flt%%40example.com&overdue_as_of=%s", ten_ago);
  http(&r, "GET", query, ROLE_VIEWER, NULL, NULL);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
  free(ten_ago);
  free(nine_ago);

  /* updated_since: a's later change puts it after the others. */
  httpf(&r, "PATCH", ROLE_ADMIN, "{\"notes\": \"touched\"}", "/v1/customers/%s", a);
  assert_status(&r, 200);
  char since[64];
  snprintf(since, sizeof since, "%s", jstr(r.json, "updated_at"));
  snprintf(query, sizeof query, "/v1/customers?collector=flt%%40example.com&updated_since=%s", since);
  http(&r, "GET", query, ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
  assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), a);
  EXPECT_IDS("collector=flt%40example.com&updated_since=2000-01-01T00:00:00Z", a, b, c);
  EXPECT_IDS("collector=flt%40example.com&updated_since=2999-01-01T00:00:00%2B02:00", NULL);

  const struct step bad[] = {
      {"unknown parameter", "GET", "/v1/customers?name=x", ROLE_VIEWER, NULL, 422, "validation", "name"},
      {"bad kind", "GET", "/v1/customers?kind=retail", ROLE_VIEWER, NULL, 422, "validation", "kind"},
      {"bad date", "GET", "/v1/customers?overdue_as_of=2024-02-30", ROLE_VIEWER, NULL, 422, "validation",
       "overdue_as_of"},
      {"bad instant", "GET", "/v1/customers?updated_since=yesterday", ROLE_VIEWER, NULL, 422, "validation",
       "updated_since"},
      {"instant without zone", "GET", "/v1/customers?updated_since=2024-01-01T00:00:00", ROLE_VIEWER, NULL, 422,
       "validation", "updated_since"},
      {"empty q", "GET", "/v1/customers?q=", ROLE_VIEWER, NULL, 422, "validation", "q"},
      {"q not UTF-8", "GET", "/v1/customers?q=%C3%28", ROLE_VIEWER, NULL, 400, "bad-request", NULL},
      {"collector not UTF-8", "GET", "/v1/customers?collector=%FF", ROLE_VIEWER, NULL, 400, "bad-request", NULL},
      {"external_id too long", "GET",
       "/v1/customers?external_id=" LONG201, ROLE_VIEWER, NULL, 422, "validation", "external_id"},
      {"limit 0", "GET", "/v1/customers?limit=0", ROLE_VIEWER, NULL, 422, "validation", "limit"},
      {"limit 201", "GET", "/v1/customers?limit=201", ROLE_VIEWER, NULL, 422, "validation", "limit"},
      {"limit float", "GET", "/v1/customers?limit=2.5", ROLE_VIEWER, NULL, 422, "validation", "limit"},
      {"cursor word", "GET", "/v1/customers?cursor=abc", ROLE_VIEWER, NULL, 422, "validation", "cursor"},
      {"cursor injection", "GET", "/v1/customers?cursor=1%3BDROP", ROLE_VIEWER, NULL, 422, "validation", "cursor"},
  };
  run_steps(bad, sizeof bad / sizeof bad[0]);
  /* Every bad argument at once is named. */
  http(&r, "GET", "/v1/customers?kind=x&limit=0&cursor=z&overdue_as_of=x&updated_since=x&q=&zzz=1", ROLE_VIEWER,
       NULL, NULL);
  static const char *const named[] = {"kind", "limit", "cursor", "overdue_as_of", "updated_since", "q", "zzz"};
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
    assert_problem(&r, 422, "validation", named[i]);
  http_resp_clear(&r);
#undef EXPECT_IDS
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(create_with_every_field),
      cmocka_unit_test(defaults_for_a_minimal_body),
      cmocka_unit_test(balances_from_the_ledger),
      cmocka_unit_test(patch_changes_only_what_is_given),
      cmocka_unit_test(patch_with_if_match),
      cmocka_unit_test(external_id_is_unique),
      cmocka_unit_test(upsert_by_external_id),
      cmocka_unit_test(concurrent_writers),
      cmocka_unit_test(upsert_refusals),
      cmocka_unit_test(each_bad_field_is_named),
      cmocka_unit_test(notes_limit),
      cmocka_unit_test(bodies_refused_change_nothing),
      cmocka_unit_test(metacharacters_and_unicode_stored_verbatim),
      cmocka_unit_test(roles_and_methods),
      cmocka_unit_test(list_pages_with_a_cursor),
      cmocka_unit_test(list_filters),
  };
  return cmocka_run_group_tests(tests, setup, harness_teardown);
}
