/* /v1/customers/{id}/contacts: create, read, list, PATCH with If-Match,
 * the one-primary rule, contacts of other customers, roles, bad input. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long long contact_count(void)
{
  return harness_sql_int("SELECT count(*) FROM contacts");
}

/* A new customer's id, copied into ID. */
static void new_customer(char id[32], const char *name)
{
  snprintf(id, 32, "%s", make_customer(name));
}

/* POSTs BODY as a contact of CUSTOMER (as a collector, who may), asserts
 * 201 and copies the new id into ID. */
static void new_contact(char id[32], const char *customer, const char *body)
{
  struct http_resp r = {0};
  httpf(&r, "POST", ROLE_COLLECTOR, body, "/v1/customers/%s/contacts", customer);
  assert_status(&r, 201);
  snprintf(id, 32, "%s", jstr(r.json, "id"));
  http_resp_clear(&r);
}

static int is_primary(const char *customer, const char *contact)
{
  struct http_resp r = {0};
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s/contacts/%s", customer, contact);
  assert_status(&r, 200);
  int v = json_is_true(json_object_get(r.json, "is_primary"));
  http_resp_clear(&r);
  return v;
}

static void create_get_and_defaults(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char cus[32];
  new_customer(cus, "Contacts Inc");
  httpf(&r, "POST", ROLE_ADMIN,
        "{\"name\": \"Ann Payable\", \"role\": \"accounts_payable\", \"email\": \"ann@contacts.example\", "
        "\"phone\": \"+44 20 7946 0000\", \"is_primary\": true}",
        "/v1/customers/%s/contacts", cus);
  assert_status(&r, 201);
  const char *id = jstr(r.json, "id");
  char loc[96];
  snprintf(loc, sizeof loc, "/v1/customers/%s/contacts/%s", cus, id);
  assert_string_equal(r.location, loc);
  assert_string_equal(r.etag, "\"1\"");
  assert_string_equal(jstr(r.json, "customer_id"), cus);
  assert_string_equal(jstr(r.json, "name"), "Ann Payable");
  assert_string_equal(jstr(r.json, "role"), "accounts_payable");
  assert_string_equal(jstr(r.json, "email"), "ann@contacts.example");
  assert_string_equal(jstr(r.json, "phone"), "+44 20 7946 0000");
  assert_true(json_is_true(json_object_get(r.json, "is_primary")));
  assert_int_equal(jint(r.json, "version"), 1);
  assert_non_null(jstr(r.json, "created_at"));
  assert_non_null(jstr(r.json, "updated_at"));
  json_t *created = json_incref(r.json);
  http(&r, "GET", loc, ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"1\"");
  assert_true(json_equal(created, r.json));
  json_decref(created);

  /* Defaults: role other, not primary, no email or phone. */
  httpf(&r, "POST", ROLE_MANAGER, "{\"name\": \"Bo\"}", "/v1/customers/%s/contacts", cus);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "role"), "other");
  assert_false(json_is_true(json_object_get(r.json, "is_primary")));
  assert_true(json_is_null(json_object_get(r.json, "email")));
  assert_true(json_is_null(json_object_get(r.json, "phone")));
  static const char *const roles[] = {"billing", "owner", "purchasing", "other"};
  for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
    char body[96];
    snprintf(body, sizeof body, "{\"name\": \"R%zu\", \"role\": \"%s\"}", i, roles[i]);
    httpf(&r, "POST", ROLE_INTEGRATION, body, "/v1/customers/%s/contacts", cus);
    assert_status(&r, 201);
    assert_string_equal(jstr(r.json, "role"), roles[i]);
  }
  http_resp_clear(&r);
}

static void one_primary_per_customer(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char cus[32], other_cus[32], a[32], b[32], c[32], x[32];
  new_customer(cus, "Primary Co");
  new_customer(other_cus, "Other Primary Co");
  new_contact(x, other_cus, "{\"name\": \"Xavier\", \"is_primary\": true}");
  new_contact(a, cus, "{\"name\": \"Alice\", \"is_primary\": true}");
  assert_true(is_primary(cus, a));

  /* A new primary takes the flag; the old one's doc changed, so did its version. */
  new_contact(b, cus, "{\"name\": \"Bob\", \"is_primary\": true}");
  assert_true(is_primary(cus, b));
  assert_false(is_primary(cus, a));
  assert_int_equal(harness_sql_int("SELECT version FROM contacts WHERE id = %s", a), 2);

  /* A non-primary newcomer changes nothing. */
  new_contact(c, cus, "{\"name\": \"Carol\", \"is_primary\": false}");
  assert_true(is_primary(cus, b));

  /* PATCH moves it back. */
  httpf(&r, "PATCH", ROLE_COLLECTOR, "{\"is_primary\": true}", "/v1/customers/%s/contacts/%s", cus, a);
  assert_status(&r, 200);
  assert_true(json_is_true(json_object_get(r.json, "is_primary")));
  assert_false(is_primary(cus, b));
  long long a_version = jint(r.json, "version");
  long long b_version = harness_sql_int("SELECT version FROM contacts WHERE id = %s", b);
  /* Already primary: nothing changes anywhere. */
  httpf(&r, "PATCH", ROLE_COLLECTOR, "{\"is_primary\": true}", "/v1/customers/%s/contacts/%s", cus, a);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), a_version);
  assert_int_equal(harness_sql_int("SELECT version FROM contacts WHERE id = %s", b), b_version);
  /* Unsetting leaves the customer with none. */
  httpf(&r, "PATCH", ROLE_COLLECTOR, "{\"is_primary\": false}", "/v1/customers/%s/contacts/%s", cus, a);
  assert_status(&r, 200);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM contacts WHERE customer_id = %s AND is_primary", cus), 0);
  httpf(&r, "PATCH", ROLE_COLLECTOR, "{\"is_primary\": true}", "/v1/customers/%s/contacts/%s", cus, c);
  assert_status(&r, 200);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM contacts WHERE customer_id = %s AND is_primary", cus), 1);
  /* The other customer's primary was never touched. */
  assert_true(is_primary(other_cus, x));
  assert_int_equal(harness_sql_int("SELECT version FROM contacts WHERE id = %s", x), 1);
  http_resp_clear(&r);
}

/* Many contacts made primary at once: every request succeeds and exactly
 * one contact ends up primary (the customer's row lock serialises them). */
static void concurrent_primary_switches(void **state)
{
  (void)state;
  enum { N = 8 };
  char cus[32], ids[N][32];
  struct racer rc[N];
  new_customer(cus, "Racing Primaries");
  for (int i = 0; i < N; i++) {
    new_contact(ids[i], cus, "{\"name\": \"Racer\"}");
    rc[i] = (struct racer){.method = "PATCH", .who = ROLE_ADMIN, .body = "{\"is_primary\": true}"};
    snprintf(rc[i].url, sizeof rc[i].url, "%s/v1/customers/%s/contacts/%s", harness_base(), cus, ids[i]);
  }
  run_racers(rc, N);
  for (int i = 0; i < N; i++)
    assert_int_equal(rc[i].status, 200);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM contacts WHERE customer_id = %s AND is_primary", cus), 1);

  /* And new primary contacts created at once. */
  for (int i = 0; i < N; i++) {
    rc[i] = (struct racer){.method = "POST", .who = ROLE_ADMIN,
                           .body = "{\"name\": \"Newcomer\", \"is_primary\": true}"};
    snprintf(rc[i].url, sizeof rc[i].url, "%s/v1/customers/%s/contacts", harness_base(), cus);
  }
  run_racers(rc, N);
  for (int i = 0; i < N; i++)
    assert_int_equal(rc[i].status, 201);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM contacts WHERE customer_id = %s", cus), 2 * N);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM contacts WHERE customer_id = %s AND is_primary", cus), 1);
}

static void patch_and_if_match(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char cus[32], id[32], path[96];
  new_customer(cus, "Patch Contacts");
  new_contact(id, cus, "{\"name\": \"Dee\", \"email\": \"dee@example.com\", \"phone\": \"1\", \"role\": \"owner\"}");
  snprintf(path, sizeof path, "/v1/customers/%s/contacts/%s", cus, id);

  http(&r, "PATCH", path, ROLE_COLLECTOR, "{\"name\": \"Dee Dee\"}", NULL);
  assert_status(&r, 200);
  assert_string_equal(jstr(r.json, "name"), "Dee Dee");
  assert_string_equal(jstr(r.json, "role"), "owner");
  assert_string_equal(jstr(r.json, "email"), "dee@example.com");
  assert_string_equal(r.etag, "\"2\"");
  /* null clears email and phone. */
  http(&r, "PATCH", path, ROLE_COLLECTOR, "{\"email\": null, \"phone\": null, \"role\": \"billing\"}", NULL);
  assert_status(&r, 200);
  assert_true(json_is_null(json_object_get(r.json, "email")));
  assert_true(json_is_null(json_object_get(r.json, "phone")));
  assert_string_equal(jstr(r.json, "role"), "billing");
  assert_int_equal(jint(r.json, "version"), 3);
  /* Unchanged: same version; empty body too. */
  http(&r, "PATCH", path, ROLE_COLLECTOR, "{\"name\": \"Dee Dee\", \"role\": \"billing\"}", NULL);
  assert_int_equal(jint(r.json, "version"), 3);
  http(&r, "PATCH", path, ROLE_COLLECTOR, NULL, NULL);
  assert_status(&r, 200);
  assert_int_equal(jint(r.json, "version"), 3);

  const char *const stale[] = {"If-Match: \"2\"", NULL};
  http(&r, "PATCH", path, ROLE_COLLECTOR, "{\"name\": \"Lost\"}", stale);
  assert_problem(&r, 412, "precondition-failed", NULL);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM contacts WHERE id = %s AND name = 'Dee Dee' AND version = 3", id),
                   1);
  const char *const current[] = {"If-Match: \"3\"", NULL};
  http(&r, "PATCH", path, ROLE_COLLECTOR, "{\"name\": \"Dee 3\"}", current);
  assert_status(&r, 200);
  const char *const any[] = {"If-Match: *", NULL};
  http(&r, "PATCH", path, ROLE_COLLECTOR, "{\"name\": \"Dee 4\"}", any);
  assert_status(&r, 200);
  assert_string_equal(r.etag, "\"5\"");

  /* Not nullable: name, role, is_primary. */
  http(&r, "PATCH", path, ROLE_COLLECTOR, "{\"name\": null, \"role\": null, \"is_primary\": null}", NULL);
  assert_problem(&r, 422, "validation", "name");
  assert_problem(&r, 422, "validation", "role");
  assert_problem(&r, 422, "validation", "is_primary");
  /* Ids and the owner are not fields. */
  http(&r, "PATCH", path, ROLE_COLLECTOR, "{\"customer_id\": \"1\", \"id\": \"2\"}", NULL);
  assert_problem(&r, 422, "validation", "customer_id");
  assert_problem(&r, 422, "validation", "id");
  assert_int_equal(harness_sql_int("SELECT version FROM contacts WHERE id = %s", id), 5);
  http_resp_clear(&r);
}

static void other_customers_and_unknown_ids(void **state)
{
  (void)state;
  char mine[32], theirs[32], contact[32];
  new_customer(mine, "Mine Ltd");
  new_customer(theirs, "Theirs Ltd");
  new_contact(contact, theirs, "{\"name\": \"Theo\"}");
  char wrong_owner[96], right[96], post_unknown[64], list_unknown[64];
  snprintf(wrong_owner, sizeof wrong_owner, "/v1/customers/%s/contacts/%s", mine, contact);
  snprintf(right, sizeof right, "/v1/customers/%s/contacts/%s", theirs, contact);
  snprintf(post_unknown, sizeof post_unknown, "/v1/customers/999999999/contacts");
  snprintf(list_unknown, sizeof list_unknown, "/v1/customers/999999999/contacts");
  long long before = contact_count();
  const struct step steps[] = {
      {"get through another customer", "GET", wrong_owner, ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"patch through another customer", "PATCH", wrong_owner, ROLE_ADMIN, "{\"name\": \"Hijack\"}", 404,
       "not-found", NULL},
      {"create for unknown customer", "POST", post_unknown, ROLE_ADMIN, "{\"name\": \"x\"}", 404, "not-found", NULL},
      {"list of unknown customer", "GET", list_unknown, ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"get of unknown customer", "GET", "/v1/customers/999999999/contacts/1", ROLE_ADMIN, NULL, 404, "not-found",
       NULL},
      {"patch of unknown customer", "PATCH", "/v1/customers/999999999/contacts/1", ROLE_ADMIN, "{\"name\": \"x\"}",
       404, "not-found", NULL},
      {"malformed customer id", "GET", "/v1/customers/abc/contacts", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"malformed customer id on create", "POST", "/v1/customers/0/contacts", ROLE_ADMIN, "{\"name\": \"x\"}", 404,
       "not-found", NULL},
      {"malformed contact id", "GET", "/v1/customers/1/contacts/x'--", ROLE_ADMIN, NULL, 404, "not-found", NULL},
      {"malformed contact id on patch", "PATCH", "/v1/customers/1/contacts/-5", ROLE_ADMIN, "{\"name\": \"x\"}", 404,
       "not-found", NULL},
      {"contact id past bigint", "GET", "/v1/customers/1/contacts/99999999999999999999", ROLE_ADMIN, NULL, 404,
       "not-found", NULL},
      {"right owner", "GET", right, ROLE_VIEWER, NULL, 200, NULL, NULL},
  };
  run_steps(steps, sizeof steps / sizeof steps[0]);
  assert_int_equal(contact_count(), before);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM contacts WHERE id = %s AND name = 'Theo' AND version = 1",
                                   contact),
                   1);
}

static void roles_and_methods(void **state)
{
  (void)state;
  char cus[32], contact[32], list[64], item[96];
  new_customer(cus, "Roles Contacts");
  new_contact(contact, cus, "{\"name\": \"Rolf\"}");
  snprintf(list, sizeof list, "/v1/customers/%s/contacts", cus);
  snprintf(item, sizeof item, "/v1/customers/%s/contacts/%s", cus, contact);
  long long before = contact_count();
  const struct step steps[] = {
      {"list without key", "GET", list, NO_KEY, NULL, 401, "unauthorized", NULL},
      {"create without key", "POST", list, NO_KEY, "{\"name\": \"x\"}", 401, "unauthorized", NULL},
      {"get without key", "GET", item, NO_KEY, NULL, 401, "unauthorized", NULL},
      {"patch without key", "PATCH", item, NO_KEY, "{\"name\": \"x\"}", 401, "unauthorized", NULL},
      {"viewer may not create", "POST", list, ROLE_VIEWER, "{\"name\": \"x\"}", 403, "forbidden", NULL},
      {"viewer may not patch", "PATCH", item, ROLE_VIEWER, "{\"name\": \"x\"}", 403, "forbidden", NULL},
      {"viewer lists", "GET", list, ROLE_VIEWER, NULL, 200, NULL, NULL},
      {"viewer gets", "GET", item, ROLE_VIEWER, NULL, 200, NULL, NULL},
      {"delete item", "DELETE", item, ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
      {"put item", "PUT", item, ROLE_ADMIN, "{\"name\": \"x\"}", 405, "method-not-allowed", NULL},
      {"post item", "POST", item, ROLE_ADMIN, "{\"name\": \"x\"}", 405, "method-not-allowed", NULL},
      {"delete list", "DELETE", list, ROLE_ADMIN, NULL, 405, "method-not-allowed", NULL},
      {"patch list", "PATCH", list, ROLE_ADMIN, "{}", 405, "method-not-allowed", NULL},
  };
  run_steps(steps, sizeof steps / sizeof steps[0]);
  assert_int_equal(contact_count(), before);
  assert_int_equal(harness_sql_int("SELECT version FROM contacts WHERE id = %s", contact), 1);
}

#define LONG201 \
  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static void bad_input_is_named_and_changes_nothing(void **state)
{
  (void)state;
  char cus[32], contact[32], list[64], item[96];
  new_customer(cus, "Bad Input Contacts");
  new_contact(contact, cus, "{\"name\": \"Steady\", \"is_primary\": true}");
  snprintf(list, sizeof list, "/v1/customers/%s/contacts", cus);
  snprintf(item, sizeof item, "/v1/customers/%s/contacts/%s", cus, contact);
  long long before = contact_count();
  const struct step steps[] = {
      {"name missing", "POST", list, ROLE_ADMIN, "{\"role\": \"owner\"}", 422, "validation", "name"},
      {"empty body", "POST", list, ROLE_ADMIN, NULL, 422, "validation", "name"},
      {"name null", "POST", list, ROLE_ADMIN, "{\"name\": null}", 422, "validation", "name"},
      {"name blank", "POST", list, ROLE_ADMIN, "{\"name\": \" \"}", 422, "validation", "name"},
      {"name number", "POST", list, ROLE_ADMIN, "{\"name\": 7}", 422, "validation", "name"},
      {"name too long", "POST", list, ROLE_ADMIN, "{\"name\": \"" LONG201 "\"}", 422, "validation", "name"},
      {"role unknown", "POST", list, ROLE_ADMIN, "{\"name\": \"x\", \"role\": \"cfo\"}", 422, "validation", "role"},
      {"role array", "POST", list, ROLE_ADMIN, "{\"name\": \"x\", \"role\": [\"owner\"]}", 422, "validation", "role"},
      {"email malformed", "POST", list, ROLE_ADMIN, "{\"name\": \"x\", \"email\": \"x@\"}", 422, "validation",
       "email"},
      {"email number", "POST", list, ROLE_ADMIN, "{\"name\": \"x\", \"email\": 3}", 422, "validation", "email"},
      {"phone too long", "POST", list, ROLE_ADMIN,
       "{\"name\": \"x\", \"phone\": \"12345678901234567890123456789012345678901\"}", 422, "validation", "phone"},
      {"phone number", "POST", list, ROLE_ADMIN, "{\"name\": \"x\", \"phone\": 5551234}", 422, "validation", "phone"},
      {"is_primary string", "POST", list, ROLE_ADMIN, "{\"name\": \"x\", \"is_primary\": \"true\"}", 422,
       "validation", "is_primary"},
      {"is_primary number", "POST", list, ROLE_ADMIN, "{\"name\": \"x\", \"is_primary\": 1}", 422, "validation",
       "is_primary"},
      {"is_primary float", "POST", list, ROLE_ADMIN, "{\"name\": \"x\", \"is_primary\": 1.0}", 422, "validation",
       "is_primary"},
      {"unknown field", "POST", list, ROLE_ADMIN, "{\"name\": \"x\", \"title\": \"CFO\"}", 422, "validation",
       "title"},
      {"customer_id in body", "POST", list, ROLE_ADMIN, "{\"name\": \"x\", \"customer_id\": \"1\"}", 422,
       "validation", "customer_id"},
      {"body array", "POST", list, ROLE_ADMIN, "[]", 422, "validation", "(body)"},
      {"malformed JSON", "POST", list, ROLE_ADMIN, "{\"name\": \"x\"", 400, "malformed-json", NULL},
      {"huge number", "POST", list, ROLE_ADMIN, "{\"name\": \"x\", \"phone\": 123456789012345678901234567890}", 400,
       "malformed-json", NULL},
      {"duplicate key", "POST", list, ROLE_ADMIN, "{\"name\": \"x\", \"name\": \"y\"}", 400, "malformed-json", NULL},
      {"patch: name too long", "PATCH", item, ROLE_ADMIN, "{\"name\": \"" LONG201 "\"}", 422, "validation", "name"},
      {"patch: role unknown", "PATCH", item, ROLE_ADMIN, "{\"role\": \"boss\"}", 422, "validation", "role"},
      {"patch: unknown field", "PATCH", item, ROLE_ADMIN, "{\"nickname\": \"x\"}", 422, "validation", "nickname"},
      {"patch: malformed", "PATCH", item, ROLE_ADMIN, "{,}", 400, "malformed-json", NULL},
  };
  run_steps(steps, sizeof steps / sizeof steps[0]);

  struct http_resp r = {0};
  /* Every bad field at once. */
  http(&r, "POST", list, ROLE_ADMIN,
       "{\"name\": \"\", \"role\": \"x\", \"email\": \"y\", \"phone\": 1, \"is_primary\": \"no\", \"zzz\": 0}", NULL);
  static const char *const named[] = {"name", "role", "email", "phone", "is_primary", "zzz"};
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
    assert_problem(&r, 422, "validation", named[i]);
  assert_int_equal(json_array_size(json_object_get(r.json, "errors")), 6);

  static const char bad_utf8[] = "{\"name\": \"\xed\xa0\x80\"}"; /* an encoded surrogate */
  const char *methods[] = {"POST", "PATCH"};
  const char *paths[] = {list, item};
  for (int m = 0; m < 2; m++) {
    http_raw(&r, methods[m], paths[m], ROLE_ADMIN, bad_utf8, sizeof bad_utf8 - 1, "application/json", NULL);
    assert_problem(&r, 400, "malformed-json", NULL);
    http_raw(&r, methods[m], paths[m], ROLE_ADMIN, "<contact/>", 10, "application/xml", NULL);
    assert_problem(&r, 415, "unsupported-media-type", NULL);
  }
  size_t n = (1u << 20) + 1;
  char *big = malloc(n + 1);
  memset(big, ' ', n);
  big[0] = '{';
  big[n - 1] = '}';
  big[n] = '\0';
  for (int m = 0; m < 2; m++) {
    http_raw(&r, methods[m], paths[m], ROLE_ADMIN, big, n, "application/json", NULL);
    assert_problem(&r, 413, "payload-too-large", NULL);
  }
  free(big);
  assert_int_equal(contact_count(), before);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM contacts WHERE id = %s AND name = 'Steady' AND version = 1 "
                                   "AND is_primary",
                                   contact),
                   1);
  http_resp_clear(&r);
}

static void metacharacters_and_unicode(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char cus[32];
  new_customer(cus, "Verbatim Contacts");
  httpf(&r, "POST", ROLE_COLLECTOR,
        "{\"name\": \"O'Brien\\\"; DROP TABLE contacts;--\", \"phone\": \"' OR 1=1 --\", "
        "\"email\": \"o'brien+ap@example.com\"}",
        "/v1/customers/%s/contacts", cus);
  assert_status(&r, 201);
  char id[32];
  snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s/contacts/%s", cus, id);
  assert_string_equal(jstr(r.json, "name"), "O'Brien\"; DROP TABLE contacts;--");
  assert_string_equal(jstr(r.json, "phone"), "' OR 1=1 --");
  assert_string_equal(jstr(r.json, "email"), "o'brien+ap@example.com");
  assert_int_equal(harness_sql_int("SELECT count(*) FROM contacts WHERE name = 'O''Brien\"; DROP TABLE contacts;--'"), 1);

  httpf(&r, "POST", ROLE_COLLECTOR, "{\"name\": \"Fran\\u00e7oise \xe5\xb1\xb1\xe7\x94\xb0 \xf0\x9f\x98\x80\"}",
        "/v1/customers/%s/contacts", cus);
  assert_status(&r, 201);
  assert_string_equal(jstr(r.json, "name"), "Fran\xc3\xa7oise \xe5\xb1\xb1\xe7\x94\xb0 \xf0\x9f\x98\x80");
  /* 200 four-byte characters fit; 201 do not. */
  char body[1024];
  int len = snprintf(body, sizeof body, "{\"name\": \"");
  for (int i = 0; i < 200; i++)
    len += snprintf(body + len, sizeof body - (size_t)len, "\xf0\x9f\x98\x80");
  snprintf(body + len, sizeof body - (size_t)len, "\"}");
  httpf(&r, "POST", ROLE_COLLECTOR, body, "/v1/customers/%s/contacts", cus);
  assert_status(&r, 201);
  snprintf(body + len, sizeof body - (size_t)len, "x\"}");
  httpf(&r, "POST", ROLE_COLLECTOR, body, "/v1/customers/%s/contacts", cus);
  assert_problem(&r, 422, "validation", "name");
  http_resp_clear(&r);
}

static void list_pages(void **state)
{
  (void)state;
  struct http_resp r = {0};
  char cus[32], empty[32], elsewhere[32], made[5][32], stray[32];
  new_customer(cus, "Listed Contacts");
  new_customer(empty, "No Contacts");
  new_customer(elsewhere, "Elsewhere");
  for (int i = 0; i < 5; i++) {
    char body[64];
    snprintf(body, sizeof body, "{\"name\": \"Person %d\"}", i);
    new_contact(made[i], cus, body);
    /* Interleaved contacts of another customer never show up. */
    new_contact(stray, elsewhere, "{\"name\": \"Stray\"}");
  }

  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s/contacts?limit=2", cus);
  assert_status(&r, 200);
  json_t *data = json_object_get(r.json, "data");
  assert_int_equal(json_array_size(data), 2);
  assert_string_equal(jstr(json_array_get(data, 0), "id"), made[0]);
  assert_string_equal(jstr(json_array_get(data, 1), "id"), made[1]);
  assert_string_equal(jstr(r.json, "next_cursor"), made[1]);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s/contacts?limit=2&cursor=%s", cus, made[1]);
  data = json_object_get(r.json, "data");
  assert_int_equal(json_array_size(data), 2);
  assert_string_equal(jstr(json_array_get(data, 0), "id"), made[2]);
  assert_string_equal(jstr(r.json, "next_cursor"), made[3]);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s/contacts?limit=2&cursor=%s", cus, made[3]);
  data = json_object_get(r.json, "data");
  assert_int_equal(json_array_size(data), 1);
  assert_string_equal(jstr(json_array_get(data, 0), "id"), made[4]);
  assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
  /* Past the end: an empty page, not a 404. */
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s/contacts?cursor=%s", cus, made[4]);
  assert_status(&r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s/contacts", cus);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 5);
  assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
  /* A customer with no contacts. */
  httpf(&r, "GET", ROLE_COLLECTOR, NULL, "/v1/customers/%s/contacts", empty);
  assert_status(&r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
  assert_true(json_is_null(json_object_get(r.json, "next_cursor")));

  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s/contacts?role=owner", cus);
  assert_problem(&r, 422, "validation", "role");
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s/contacts?limit=0&cursor=abc", cus);
  assert_problem(&r, 422, "validation", "limit");
  assert_problem(&r, 422, "validation", "cursor");
  httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/customers/%s/contacts?limit=201", cus);
  assert_problem(&r, 422, "validation", "limit");
  http_resp_clear(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(create_get_and_defaults),
      cmocka_unit_test(one_primary_per_customer),
      cmocka_unit_test(concurrent_primary_switches),
      cmocka_unit_test(patch_and_if_match),
      cmocka_unit_test(other_customers_and_unknown_ids),
      cmocka_unit_test(roles_and_methods),
      cmocka_unit_test(bad_input_is_named_and_changes_nothing),
      cmocka_unit_test(metacharacters_and_unicode),
      cmocka_unit_test(list_pages),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
