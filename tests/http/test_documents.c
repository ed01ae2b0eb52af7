/* Documents as the contract documents them: for every resource, the keys of
 * its document come in the order of its schema's properties in the served
 * /openapi.json (id first), and so do those of nested objects that have
 * properties (allocations, installments, history entries, the call sheet's
 * parts, aging buckets current → 91+); a list item is byte for byte the
 * document GET of the item answers, and so is the reply of the POST or
 * PATCH that made it, and the text SQL renders (row_to_json) where the
 * server renders the document from its fields (src/http/row_json.c).
 *
 * Not checked here: an event's `data` is the document as stored (jsonb),
 * in jsonb's key order. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/config.h"
#include "arc/imports.h"

static struct config g_cfg;
static struct import_worker *g_worker;
static json_t *g_schemas; /* components.schemas of GET /openapi.json */

static int setup(void **state)
{
  setenv("ARC_IMPORT_POLL_S", "1", 1);
  if (harness_setup(state) != 0 || config_load(&g_cfg) != 0)
    return -1;
  g_worker = import_worker_start(&g_cfg);
  if (!g_worker)
    return -1;
  struct http_resp r = {0};
  http(&r, "GET", "/openapi.json", NO_KEY, NULL, NULL);
  if (r.status != 200 || !r.json)
    return -1;
  g_schemas = json_incref(json_object_get(json_object_get(r.json, "components"), "schemas"));
  http_resp_clear(&r);
  return g_schemas ? 0 : -1;
}

static int teardown(void **state)
{
  json_decref(g_schemas);
  import_worker_stop(g_worker);
  config_free(&g_cfg);
  return harness_teardown(state);
}

/* ------------------------------------------------------------------ */
/* The contract's schemas. */

static json_t *schema_named(const char *name)
{
  json_t *s = json_object_get(g_schemas, name);
  if (!s)
    fail_msg("openapi has no schema %s", name);
  return s;
}

/* S with its $ref followed ("#/components/schemas/X"). */
static json_t *deref(json_t *s)
{
  for (int i = 0; s && i < 16; i++) {
    const char *ref = json_string_value(json_object_get(s, "$ref"));
    if (!ref)
      return s;
    const char *prefix = "#/components/schemas/";
    if (strncmp(ref, prefix, strlen(prefix)) != 0)
      fail_msg("unexpected $ref %s", ref);
    s = schema_named(ref + strlen(prefix));
  }
  return s;
}

/* Of oneOf / anyOf (a nullable object), the branch that is not null. */
static json_t *object_branch(json_t *s)
{
  s = deref(s);
  json_t *alts = json_object_get(s, "oneOf");
  if (!alts)
    alts = json_object_get(s, "anyOf");
  if (!alts)
    return s;
  size_t i;
  json_t *a;
  json_array_foreach(alts, i, a) {
    json_t *d = deref(a);
    if (json_object_get(d, "properties") || json_object_get(d, "allOf") || json_object_get(d, "items"))
      return d;
  }
  return s;
}

/* The property names of S in the contract's order (allOf parts first, in
 * order, then its own), appended to NAMES. */
static void property_names(json_t *s, json_t *names)
{
  s = deref(s);
  size_t i;
  json_t *part;
  json_array_foreach(json_object_get(s, "allOf"), i, part) property_names(part, names);
  const char *key;
  json_t *v;
  json_object_foreach(json_object_get(s, "properties"), key, v) json_array_append_new(names, json_string(key));
}

/* The schema of property KEY of S, or NULL. */
static json_t *property_schema(json_t *s, const char *key)
{
  s = deref(s);
  json_t *p = json_object_get(json_object_get(s, "properties"), key);
  if (p)
    return p;
  size_t i;
  json_t *part;
  json_array_foreach(json_object_get(s, "allOf"), i, part) {
    p = property_schema(part, key);
    if (p)
      return p;
  }
  return NULL;
}

static long name_index(const json_t *names, const char *key)
{
  for (size_t i = 0; i < json_array_size(names); i++)
    if (strcmp(json_string_value(json_array_get(names, i)), key) == 0)
      return (long)i;
  return -1;
}


/* DOC's keys come in the order of SCHEMA's properties, id first when the
 * schema has one; the same for every nested object and array item whose
 * schema has properties.  WHERE names the place in messages. */
static void check_order(const char *where, json_t *doc, json_t *schema)
{
  if (!schema)
    return;
  /* A union discriminated by a member (Event by its type): the variant the
   * member names.  An event's data is stored as it was, in the database's
   * order (EventCommon says so): its keys are not checked. */
  json_t *disc = json_object_get(deref(schema), "discriminator");
  int stored_data = 0;
  if (disc && json_is_object(doc)) {
    const char *prop = json_string_value(json_object_get(disc, "propertyName"));
    const char *ref = json_string_value(
        json_object_get(json_object_get(disc, "mapping"), json_string_value(json_object_get(doc, prop))));
    if (!ref)
      fail_msg("%s: %s %s is not in the contract's mapping", where, prop,
               json_string_value(json_object_get(doc, prop)));
    json_t *r = json_pack("{s:s}", "$ref", ref);
    schema = deref(r);
    json_decref(r);
    stored_data = 1;
  }
  schema = object_branch(schema);
  if (json_is_array(doc)) {
    json_t *items = json_object_get(schema, "items");
    size_t i;
    json_t *e;
    json_array_foreach(doc, i, e) {
      char w[256];
      snprintf(w, sizeof w, "%s[%zu]", where, i);
      check_order(w, e, items);
    }
    return;
  }
  if (!json_is_object(doc))
    return;
  json_t *names = json_array();
  property_names(schema, names);
  if (json_array_size(names) == 0) { /* a map: CurrencyAmounts, ReasonCounts, event data */
    json_decref(names);
    return;
  }
  long last = -1;
  const char *last_key = "";
  int first = 1;
  const char *key;
  json_t *v;
  json_object_foreach(doc, key, v) {
    if (first && name_index(names, "id") >= 0 && strcmp(key, "id") != 0)
      fail_msg("%s: the first key is %s, not id", where, key);
    first = 0;
    long at = name_index(names, key);
    if (at < 0)
      fail_msg("%s: key %s is not among the schema's properties", where, key);
    if (at < last)
      fail_msg("%s: key %s comes after %s; the contract lists it before", where, key, last_key);
    last = at;
    last_key = key;
    char w[256];
    snprintf(w, sizeof w, "%s.%s", where, key);
    if (!(stored_data && strcmp(key, "data") == 0))
      check_order(w, v, property_schema(schema, key));
  }
  json_decref(names);
}

/* ------------------------------------------------------------------ */
/* Requests. */

/* GET PATH as admin; 200; the reply (clear it). */
static void get_ok(struct http_resp *r, const char *path)
{
  http(r, "GET", path, ROLE_ADMIN, NULL, NULL);
  if (r->status != 200)
    fail_msg("GET %s: %ld %s", path, r->status, r->body ? r->body : "");
  assert_non_null(r->json);
}

/* METHOD PATH with BODY as admin, expecting STATUS; the raw reply body
 * (malloc'd) and, when ID is not NULL, the document's id. */
static char *send_ok(const char *method, const char *path, const char *body, long status, char id[32])
{
  struct http_resp r = {0};
  http(&r, method, path, ROLE_ADMIN, body, NULL);
  if (r.status != status)
    fail_msg("%s %s: %ld, not %ld: %s", method, path, r.status, status, r.body ? r.body : "");
  if (id)
    snprintf(id, 32, "%s", jstr(r.json, "id"));
  char *text = strdup(r.body);
  http_resp_clear(&r);
  return text;
}

/* A follow-up's customer_local_time is the time of reading: the same
 * document read a second later differs there only.  Masked in TEXT (every
 * occurrence) before two readings are compared byte for byte. */
static void mask_local_time(char *text)
{
  static const char key[] = "\"customer_local_time\":\"";
  for (char *p = text; (p = strstr(p, key)) != NULL;) {
    p += sizeof key - 1;
    for (; *p && *p != '"'; p++)
      *p = 'X';
  }
}

/* The document at ITEM is in SCHEMA's order; the page at LIST (when not
 * NULL) is in the order of SCHEMA's page and holds ITEM's bytes exactly;
 * REPLY (when not NULL), the reply of the write that made it, is the same
 * bytes, or starts with them less the closing brace when PREFIX_ONLY (a
 * reply with members of its own after the document's: a webhook's secret,
 * a call log's promise and dispute). */
static void check_resource(const char *schema, const char *item, const char *list, const char *page_schema,
                           char *reply, int prefix_only)
{
  struct http_resp r = {0};
  get_ok(&r, item);
  check_order(item, r.json, schema_named(schema));
  mask_local_time(r.body);
  if (reply) {
    mask_local_time(reply);
    size_t n = strlen(r.body);
    int same = prefix_only ? strncmp(reply, r.body, n - 1) == 0 && reply[n - 1] == ',' : strcmp(reply, r.body) == 0;
    if (!same)
      fail_msg("the write's reply differs from GET %s:\n write: %s\n get:   %s", item, reply, r.body);
    free(reply);
  }
  if (list) {
    struct http_resp l = {0};
    get_ok(&l, list);
    check_order(list, l.json, schema_named(page_schema));
    mask_local_time(l.body);
    if (!strstr(l.body, r.body))
      fail_msg("GET %s does not hold GET %s byte for byte:\n item: %s\n list: %s", list, item, r.body, l.body);
    http_resp_clear(&l);
  }
  http_resp_clear(&r);
}

/* GET ITEM answers the bytes the query SQL renders. */
static void same_as_sql(const char *item, const char *sql)
{
  struct http_resp r = {0};
  get_ok(&r, item);
  char *want = harness_sql("%s", sql);
  assert_non_null(want);
  if (strcmp(want, r.body) != 0)
    fail_msg("GET %s differs from the document SQL renders:\n get: %s\n sql: %s", item, r.body, want);
  free(want);
  http_resp_clear(&r);
}

/* Every item of the page at LIST is in SCHEMA's order (resources without
 * an item route). */
static void check_list(const char *list, const char *page_schema)
{
  struct http_resp l = {0};
  get_ok(&l, list);
  /* The event feed shows nothing younger than the oldest transaction
   * running on the cluster (another test's): wait for it a little. */
  for (int tries = 0; tries < 100 && json_array_size(json_object_get(l.json, "data")) == 0; tries++) {
    sleep_ms(50);
    http_resp_clear(&l);
    get_ok(&l, list);
  }
  if (json_array_size(json_object_get(l.json, "data")) == 0)
    fail_msg("GET %s: nothing to check", list);
  check_order(list, l.json, schema_named(page_schema));
  http_resp_clear(&l);
}

/* ------------------------------------------------------------------ */

/* One of each resource, through the API, then every document checked. */
static void every_document(void **state)
{
  (void)state;
  char cus[32], contact[32], inv[32], inv2[32], inv3[32], adj[32], pay[32], call[32], prom[32], disp[32], plan[32],
      esc[32], run[32], hook[32], imp[32];
  char path[256], list[256], body[2048], today[16], past[16];
  day(today, 0);
  day(past, -45);

  /* Customer, PATCHed; its contact. */
  char *reply = send_ok("POST", "/v1/customers",
                        "{\"name\": \"Ordered Goods Ltd\", \"email\": \"ap@ordered.example\", \"timezone\": "
                        "\"America/Chicago\", \"external_id\": \"ERP-DOC-1\"}",
                        201, cus);
  snprintf(path, sizeof path, "/v1/customers/%s", cus);
  check_resource("Customer", path, "/v1/customers?limit=200", "CustomerPage", reply, 0);
  reply = send_ok("PATCH", path, "{\"notes\": \"prefers e-mail\", \"cadence_days\": 5}", 200, NULL);
  check_resource("Customer", path, NULL, NULL, reply, 0);

  snprintf(path, sizeof path, "/v1/customers/%s/contacts", cus);
  reply = send_ok("POST", path, "{\"name\": \"Dana\", \"role\": \"billing\", \"is_primary\": true}", 201, contact);
  snprintf(list, sizeof list, "%s", path);
  snprintf(path, sizeof path, "/v1/customers/%s/contacts/%s", cus, contact);
  check_resource("Contact", path, list, "ContactPage", reply, 0);

  /* Invoices: one overdue, PATCHed; an adjustment of it. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"DOC-1\", \"currency\": \"USD\", \"amount\": 50000, "
           "\"issued_on\": \"%s\", \"due_on\": \"%s\", \"po_number\": \"PO-1\"}",
           cus, past, past);
  reply = send_ok("POST", "/v1/invoices", body, 201, inv);
  snprintf(path, sizeof path, "/v1/invoices/%s", inv);
  check_resource("Invoice", path, "/v1/invoices?limit=200", "InvoicePage", reply, 0);
  /* The reply is rendered by SQL (row_to_json), GET by the server from the
   * fields (row_json.c): the same bytes, escapes included. */
  reply = send_ok("PATCH", path,
                  "{\"description\": \"widgets \\\"A\\\" \\\\ B\\t\\n\\r\\b\\f\\u0001 caf\\u00e9 \\u2713 </x>\"}",
                  200, NULL);
  check_resource("Invoice", path, "/v1/invoices?limit=200", "InvoicePage", reply, 0);
  snprintf(body, sizeof body, "SELECT arc_invoice_json(i)::text FROM invoices i WHERE i.id = %s", inv);
  same_as_sql(path, body);
  new_invoice(inv2, .customer = cus, .amount = 30000, .from = today, .issued_in = -10, .due_in = 20);
  new_invoice(inv3, .customer = cus, .currency = "EUR", .amount = 9000, .from = today, .issued_in = -120,
              .due_in = -100);

  snprintf(path, sizeof path, "/v1/invoices/%s/adjustments", inv);
  reply = send_ok("POST", path, "{\"kind\": \"credit\", \"amount\": -1000, \"reason\": \"damaged\"}", 201, adj);
  snprintf(list, sizeof list, "%s", path);
  snprintf(path, sizeof path, "/v1/invoices/%s/adjustments/%s", inv, adj);
  check_resource("Adjustment", path, list, "AdjustmentPage", reply, 0);

  /* A payment with an allocation and money left over, PATCHed. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 25000, \"currency\": \"USD\", \"received_on\": \"%s\", "
           "\"method\": \"check\", \"reference\": \"Check 1\", "
           "\"allocations\": [{\"invoice_id\": \"%s\", \"amount\": 20000}]}",
           cus, today, inv);
  reply = send_ok("POST", "/v1/payments", body, 201, pay);
  snprintf(path, sizeof path, "/v1/payments/%s", pay);
  check_resource("Payment", path, "/v1/payments?limit=200", "PaymentPage", reply, 0);
  reply = send_ok("PATCH", path, "{\"reference\": \"Check 1001\"}", 200, NULL);
  check_resource("Payment", path, NULL, NULL, reply, 0);

  /* A call log with a promise; a dispute of its own. */
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", \"outcome\": "
           "\"reached\", \"contact_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"notes\": \"will pay\", "
           "\"promise\": {\"amount\": 10000, \"promised_on\": \"%s\"}}",
           cus, contact, inv, today);
  reply = send_ok("POST", "/v1/call-logs", body, 201, call);
  {
    json_t *created = json_loads(reply, 0, NULL);
    assert_non_null(created);
    check_order("POST /v1/call-logs", created, schema_named("CallLogCreated"));
    snprintf(prom, sizeof prom, "%s", jstr(json_object_get(created, "promise"), "id"));
    json_decref(created);
  }
  snprintf(path, sizeof path, "/v1/call-logs/%s", call);
  check_resource("CallLog", path, "/v1/call-logs?limit=200", "CallLogPage", reply, 1);
  snprintf(path, sizeof path, "/v1/promises/%s", prom);
  check_resource("Promise", path, "/v1/promises?limit=200", "PromisePage", NULL, 0);

  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 5000}", inv2);
  reply = send_ok("POST", "/v1/disputes", body, 201, disp);
  snprintf(path, sizeof path, "/v1/disputes/%s", disp);
  check_resource("Dispute", path, "/v1/disputes?limit=200", "DisputePage", reply, 0);

  /* A payment plan over the EUR invoice; an escalation. */
  char due1[16], due2[16];
  day(due1, 7);
  day(due2, 37);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"installments\": [{\"due_on\": \"%s\", "
           "\"amount\": 4000}, {\"due_on\": \"%s\", \"amount\": 5000}]}",
           cus, inv3, due1, due2);
  reply = send_ok("POST", "/v1/payment-plans", body, 201, plan);
  snprintf(path, sizeof path, "/v1/payment-plans/%s", plan);
  check_resource("PaymentPlan", path, "/v1/payment-plans?limit=200", "PaymentPlanPage", reply, 0);

  snprintf(body, sizeof body, "{\"customer_id\": \"%s\", \"level\": \"sales\", \"reason\": \"Slow payer\"}", cus);
  reply = send_ok("POST", "/v1/escalations", body, 201, esc);
  snprintf(path, sizeof path, "/v1/escalations/%s", esc);
  check_resource("Escalation", path, "/v1/escalations?limit=200", "EscalationPage", reply, 0);
  reply = send_ok("PATCH", path, "{\"level\": \"management\"}", 200, NULL);
  check_resource("Escalation", path, NULL, NULL, reply, 0);

  /* A sweep. */
  reply = send_ok("POST", "/v1/scheduler/runs", "{}", 201, run);
  snprintf(path, sizeof path, "/v1/scheduler/runs/%s", run);
  check_resource("SchedulerRun", path, "/v1/scheduler/runs?limit=200", "SchedulerRunPage", reply, 0);

  /* The sweep made follow-ups: a commercial customer's and a consumer's
   * (whose call status is its own), on the worklist and alone, and the
   * reply of a PATCH. */
  char fu[32], consumer[32], consumer_inv[32];
  create_id(consumer, "/v1/customers", "{\"name\": \"Documents Consumer\", \"kind\": \"consumer\"}");
  new_invoice(consumer_inv, .customer = consumer, .issued_in = -40, .due_in = -10);
  free(send_ok("POST", "/v1/scheduler/runs", "{}", 201, NULL));
  char *ids = harness_sql("SELECT string_agg(id::text, ' ' ORDER BY id) FROM follow_ups WHERE status = 'open'");
  assert_non_null(ids);
  int checked = 0;
  for (char *id = strtok(ids, " "); id; id = strtok(NULL, " "), checked++) {
    snprintf(path, sizeof path, "/v1/follow-ups/%s", id);
    check_resource("FollowUp", path, NULL, NULL, NULL, 0);
    snprintf(body, sizeof body, "SELECT arc_follow_up_json(f, current_date)::text FROM follow_ups f WHERE f.id = %s",
             id);
    same_as_sql(path, body);
    snprintf(fu, sizeof fu, "%s", id);
  }
  free(ids);
  assert_true(checked >= 2);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM follow_ups f JOIN customers c ON c.id = f.customer_id "
                                   "WHERE c.kind = 'consumer' AND f.status = 'open'"),
                   1);
  check_list("/v1/follow-ups?limit=200", "FollowUpPage");
  /* Events carry the same content as the API's documents, in the jsonb
   * form the sweep writes in bulk. */
  assert_true(harness_sql_int("SELECT count(*) FROM escalations") > 0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM escalations e "
                                   "WHERE arc_escalation_doc(e) <> arc_escalation_json(e)::jsonb"),
                   0);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM follow_ups f JOIN events e ON e.resource_type = 'follow_up' "
                                   "AND e.resource_id = f.id::text AND e.type = 'follow_up.created' "
                                   "WHERE f.version = 1 AND e.data - 'customer_local_time' <> "
                                   "arc_follow_up_json(f, current_date)::jsonb - 'customer_local_time'"),
                   0);
  assert_true(harness_sql_int("SELECT count(*) FROM events WHERE type = 'follow_up.created'") >= 2);
  snprintf(path, sizeof path, "/v1/follow-ups/%s", fu);
  struct http_resp got = {0};
  get_ok(&got, path);
  char if_match[96], snooze[128], later[16];
  snprintf(if_match, sizeof if_match, "If-Match: %s", got.etag);
  http_resp_clear(&got);
  const char *const hdr[] = {if_match, NULL};
  day(later, 3);
  snprintf(snooze, sizeof snooze, "{\"status\": \"snoozed\", \"snoozed_until\": \"%s\"}", later);
  struct http_resp patched = {0};
  http(&patched, "PATCH", path, ROLE_ADMIN, snooze, hdr);
  assert_status(&patched, 200);
  check_resource("FollowUp", path, NULL, NULL, strdup(patched.body), 0);
  http_resp_clear(&patched);

  /* An API key (its key follows the document in the POST's reply). */
  char api_key[32];
  reply = send_ok("POST", "/v1/api-keys", "{\"role\": \"viewer\", \"name\": \"documents\"}", 201, api_key);
  snprintf(path, sizeof path, "/v1/api-keys/%s", api_key);
  check_resource("ApiKey", path, "/v1/api-keys?limit=200", "ApiKeyPage", reply, 1);
  reply = send_ok("DELETE", path, NULL, 200, NULL);
  check_resource("ApiKey", path, NULL, NULL, reply, 0);

  /* A webhook (its secret follows the document in the POST's reply) and
   * one delivery of an event to it, with an attempt (there is no route
   * that makes one: SQL, as the delivery worker would). */
  reply = send_ok("POST", "/v1/webhooks",
                  "{\"url\": \"https://crm.example.com/hooks/arcollect\", \"event_types\": [\"invoice.*\"], "
                  "\"description\": \"CRM\"}",
                  201, hook);
  snprintf(path, sizeof path, "/v1/webhooks/%s", hook);
  check_resource("Webhook", path, "/v1/webhooks?limit=200", "WebhookPage", reply, 1);
  free(harness_sql("WITH d AS (INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, status, "
                   "next_attempt_at) SELECT %s, e.id, e.type, 'pending', now() FROM events e "
                   "ORDER BY e.id LIMIT 1 ON CONFLICT DO NOTHING RETURNING id) "
                   "INSERT INTO webhook_attempts (delivery_id, attempted_at, duration_ms, status_code, error, "
                   "response_body, succeeded) SELECT d.id, now(), 12, 503, 'HTTP 503', 'busy', false FROM d "
                   "RETURNING 1",
                   hook));
  snprintf(list, sizeof list, "/v1/webhooks/%s/deliveries", hook);
  check_list(list, "WebhookDeliveryPage");

  /* An import with an error. */
  {
    struct http_resp r = {0};
    const char *csv = "external_id,name,email\nERP-DOC-2,Second Ltd,ap@second.example\nERP-DOC-3,,x\n";
    http_raw(&r, "POST", "/v1/imports?kind=customers&mode=valid_rows", ROLE_ADMIN, csv, strlen(csv), "text/csv",
             NULL);
    assert_status(&r, 202);
    snprintf(imp, sizeof imp, "%s", jstr(r.json, "id"));
    check_order("POST /v1/imports", r.json, schema_named("Import"));
    http_resp_clear(&r);
    json_decref(import_wait(imp));
  }
  snprintf(path, sizeof path, "/v1/imports/%s", imp);
  check_resource("Import", path, "/v1/imports?limit=200", "ImportPage", NULL, 0);
  snprintf(list, sizeof list, "/v1/imports/%s/errors", imp);
  check_list(list, "ImportErrorPage");

  /* The feed; the call sheet; the reports. */
  check_list("/v1/events?limit=200", "EventPage");
  snprintf(path, sizeof path, "/v1/customers/%s/call-sheet", cus);
  check_resource("CallSheet", path, NULL, NULL, NULL, 0);
  check_resource("AgingReport", "/v1/reports/aging", NULL, NULL, NULL, 0);
  check_resource("AgingReport", "/v1/reports/aging?group_by=customer", NULL, NULL, NULL, 0);
  check_resource("AgingReport", "/v1/reports/aging?group_by=collector", NULL, NULL, NULL, 0);
  snprintf(path, sizeof path, "/v1/reports/kpis?from=%s&to=%s&group_by=collector", past, today);
  check_resource("KpiReport", path, NULL, NULL, NULL, 0);
}

/* The call sheet's aging: every bucket, in the contract's order. */
static void aging_buckets_in_order(void **state)
{
  (void)state;
  char cus[32], inv[32], path[128];
  snprintf(cus, sizeof cus, "%s", make_customer("Buckets Inc"));
  const int due[] = {10, -5, -40, -70, -200};
  for (size_t i = 0; i < 5; i++)
    new_invoice(inv, .customer = cus, .amount = 1000 + (long long)i, .issued_in = due[i] - 30, .due_in = due[i]);
  struct http_resp r = {0};
  snprintf(path, sizeof path, "/v1/customers/%s/call-sheet", cus);
  get_ok(&r, path);
  const char *want = "\"aging\":{\"current\":{\"USD\":1000},\"1-30\":{\"USD\":1001},\"31-60\":{\"USD\":1002},"
                     "\"61-90\":{\"USD\":1003},\"91+\":{\"USD\":1004}}";
  if (!strstr(r.body, want))
    fail_msg("the sheet's aging is not %s:\n%s", want, r.body);
  http_resp_clear(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_document),
      cmocka_unit_test(aging_buckets_in_order),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
