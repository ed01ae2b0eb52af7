/* Who may do the collection work: every route of call logs, promises,
 * disputes, receipt confirmation, the call sheet and the event feed, for
 * every role and without a key, with real resources and valid bodies, so
 * an allowed caller really succeeds (2xx) and a refused one gets 403 / 401
 * and leaves nothing behind.  The expectations are spelled out row by row,
 * independently of the macros in routes.c. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/router.h"

struct row {
  const char *route; /* the pattern, as in routes.c */
  const char *method;
  enum role who;
  long expected;
};

#define A ROLE_ADMIN
#define M ROLE_MANAGER
#define C ROLE_COLLECTOR
#define V ROLE_VIEWER
#define I ROLE_INTEGRATION
#define N NO_KEY

static const struct row rows[] = {
    /* Everyone with a key reads everything. */
    {"/v1/call-logs", "GET", A, 200},
    {"/v1/call-logs", "GET", M, 200},
    {"/v1/call-logs", "GET", C, 200},
    {"/v1/call-logs", "GET", V, 200},
    {"/v1/call-logs", "GET", I, 200},
    {"/v1/call-logs", "GET", N, 401},
    /* Collectors log their calls; CRMs (integration) log their users'. */
    {"/v1/call-logs", "POST", A, 201},
    {"/v1/call-logs", "POST", M, 201},
    {"/v1/call-logs", "POST", C, 201},
    {"/v1/call-logs", "POST", V, 403},
    {"/v1/call-logs", "POST", I, 201},
    {"/v1/call-logs", "POST", N, 401},
    {"/v1/call-logs/{id}", "GET", A, 200},
    {"/v1/call-logs/{id}", "GET", M, 200},
    {"/v1/call-logs/{id}", "GET", C, 200},
    {"/v1/call-logs/{id}", "GET", V, 200},
    {"/v1/call-logs/{id}", "GET", I, 200},
    {"/v1/call-logs/{id}", "GET", N, 401},

    {"/v1/promises", "GET", A, 200},
    {"/v1/promises", "GET", M, 200},
    {"/v1/promises", "GET", C, 200},
    {"/v1/promises", "GET", V, 200},
    {"/v1/promises", "GET", I, 200},
    {"/v1/promises", "GET", N, 401},
    /* Promises are the collectors' work, not an integration's. */
    {"/v1/promises", "POST", A, 201},
    {"/v1/promises", "POST", M, 201},
    {"/v1/promises", "POST", C, 201},
    {"/v1/promises", "POST", V, 403},
    {"/v1/promises", "POST", I, 403},
    {"/v1/promises", "POST", N, 401},
    {"/v1/promises/{id}", "GET", A, 200},
    {"/v1/promises/{id}", "GET", M, 200},
    {"/v1/promises/{id}", "GET", C, 200},
    {"/v1/promises/{id}", "GET", V, 200},
    {"/v1/promises/{id}", "GET", I, 200},
    {"/v1/promises/{id}", "GET", N, 401},
    /* Cancelling a promise is a manager's decision. */
    {"/v1/promises/{id}", "PATCH", A, 200},
    {"/v1/promises/{id}", "PATCH", M, 200},
    {"/v1/promises/{id}", "PATCH", C, 403},
    {"/v1/promises/{id}", "PATCH", V, 403},
    {"/v1/promises/{id}", "PATCH", I, 403},
    {"/v1/promises/{id}", "PATCH", N, 401},

    {"/v1/disputes", "GET", A, 200},
    {"/v1/disputes", "GET", M, 200},
    {"/v1/disputes", "GET", C, 200},
    {"/v1/disputes", "GET", V, 200},
    {"/v1/disputes", "GET", I, 200},
    {"/v1/disputes", "GET", N, 401},
    {"/v1/disputes", "POST", A, 201},
    {"/v1/disputes", "POST", M, 201},
    {"/v1/disputes", "POST", C, 201},
    {"/v1/disputes", "POST", V, 403},
    {"/v1/disputes", "POST", I, 403},
    {"/v1/disputes", "POST", N, 401},
    {"/v1/disputes/{id}", "GET", A, 200},
    {"/v1/disputes/{id}", "GET", M, 200},
    {"/v1/disputes/{id}", "GET", C, 200},
    {"/v1/disputes/{id}", "GET", V, 200},
    {"/v1/disputes/{id}", "GET", I, 200},
    {"/v1/disputes/{id}", "GET", N, 401},
    /* Resolving or rejecting a dispute is a manager's decision. */
    {"/v1/disputes/{id}", "PATCH", A, 200},
    {"/v1/disputes/{id}", "PATCH", M, 200},
    {"/v1/disputes/{id}", "PATCH", C, 403},
    {"/v1/disputes/{id}", "PATCH", V, 403},
    {"/v1/disputes/{id}", "PATCH", I, 403},
    {"/v1/disputes/{id}", "PATCH", N, 401},

    {"/v1/invoices/{id}/receipt-confirmation", "POST", A, 200},
    {"/v1/invoices/{id}/receipt-confirmation", "POST", M, 200},
    {"/v1/invoices/{id}/receipt-confirmation", "POST", C, 200},
    {"/v1/invoices/{id}/receipt-confirmation", "POST", V, 403},
    {"/v1/invoices/{id}/receipt-confirmation", "POST", I, 403},
    {"/v1/invoices/{id}/receipt-confirmation", "POST", N, 401},

    {"/v1/customers/{id}/call-sheet", "GET", A, 200},
    {"/v1/customers/{id}/call-sheet", "GET", M, 200},
    {"/v1/customers/{id}/call-sheet", "GET", C, 200},
    {"/v1/customers/{id}/call-sheet", "GET", V, 200},
    {"/v1/customers/{id}/call-sheet", "GET", I, 200},
    {"/v1/customers/{id}/call-sheet", "GET", N, 401},

    {"/v1/events", "GET", A, 200},
    {"/v1/events", "GET", M, 200},
    {"/v1/events", "GET", C, 200},
    {"/v1/events", "GET", V, 200},
    {"/v1/events", "GET", I, 200},
    {"/v1/events", "GET", N, 401},
};

#undef A
#undef M
#undef C
#undef V
#undef I
#undef N

static const size_t n_rows = sizeof rows / sizeof rows[0];

static const char *who_name(enum role r) { return r == NO_KEY ? "no key" : role_name(r); }

/* The resources the rows act on, made once as admin. */
static struct {
  char customer[32], invoice[32], call_log[32], promise[32], dispute[32];
  char promised_on[16];
} S;

static void fresh_invoice(char out[32])
{
  static int n;
  char body[512], number[32];
  snprintf(number, sizeof number, "WR-%d", ++n);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"%s\", \"currency\": \"USD\", \"amount\": 1000000, "
           "\"issued_on\": \"2026-01-01\", \"due_on\": \"2026-01-31\"}",
           S.customer, number);
  create_id(out, "/v1/invoices", body);
}

static void fresh_promise(char out[32])
{
  char body[256];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"amount\": 1000, \"currency\": \"USD\", \"promised_on\": \"%s\"}", S.customer,
           S.promised_on);
  create_id(out, "/v1/promises", body);
}

static void fresh_dispute(char out[32])
{
  char inv[32], body[256];
  fresh_invoice(inv);
  snprintf(body, sizeof body, "{\"invoice_id\": \"%s\", \"reason\": \"pricing\", \"amount\": 500}", inv);
  create_id(out, "/v1/disputes", body);
}

static void make_world(void)
{
  char *d = harness_sql("SELECT to_char(current_date + 7, 'YYYY-MM-DD')");
  snprintf(S.promised_on, sizeof S.promised_on, "%s", d);
  free(d);
  create_id(S.customer, "/v1/customers", "{\"name\": \"Roles & Rights\"}");
  fresh_invoice(S.invoice);
  char body[512];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"channel\": \"phone\", \"direction\": \"outbound\", \"outcome\": \"reached\", "
           "\"contact_name\": \"Pat Payer\"}",
           S.customer);
  create_id(S.call_log, "/v1/call-logs", body);
  fresh_promise(S.promise);
  fresh_dispute(S.dispute);
}

/* The path and body for ROW.  Writes that change a state once (cancel a
 * promise, close a dispute, open the one dispute of an invoice) get a
 * fresh resource each, so every allowed caller can really succeed. */
static void prepare(const struct row *rw, char *path, size_t psize, char *body, size_t bsize)
{
  const char *route = rw->route;
  int get = strcmp(rw->method, "GET") == 0;
  body[0] = '\0';
  char fresh[32];
  if (strcmp(route, "/v1/call-logs") == 0) {
    snprintf(path, psize, "/v1/call-logs%s%s", get ? "?customer_id=" : "", get ? S.customer : "");
    snprintf(body, bsize,
             "{\"customer_id\": \"%s\", \"invoice_ids\": [\"%s\"], \"channel\": \"email\", "
             "\"direction\": \"outbound\", \"outcome\": \"sent\", \"contact_name\": \"Pat Payer\", "
             "\"notes\": \"by %s\"}",
             S.customer, S.invoice, who_name(rw->who));
  } else if (strcmp(route, "/v1/call-logs/{id}") == 0) {
    snprintf(path, psize, "/v1/call-logs/%s", S.call_log);
  } else if (strcmp(route, "/v1/promises") == 0) {
    snprintf(path, psize, "/v1/promises%s%s", get ? "?customer_id=" : "", get ? S.customer : "");
    snprintf(body, bsize,
             "{\"customer_id\": \"%s\", \"amount\": 2500, \"promised_on\": \"%s\", \"invoice_ids\": [\"%s\"], "
             "\"method\": \"check\"}",
             S.customer, S.promised_on, S.invoice);
  } else if (strcmp(route, "/v1/promises/{id}") == 0) {
    if (get) {
      snprintf(path, psize, "/v1/promises/%s", S.promise);
    } else {
      fresh_promise(fresh);
      snprintf(path, psize, "/v1/promises/%s", fresh);
      snprintf(body, bsize, "{\"status\": \"cancelled\", \"cancel_reason\": \"by %s\"}", who_name(rw->who));
    }
  } else if (strcmp(route, "/v1/disputes") == 0) {
    snprintf(path, psize, "/v1/disputes%s%s", get ? "?customer_id=" : "", get ? S.customer : "");
    if (!get) {
      fresh_invoice(fresh);
      snprintf(body, bsize,
               "{\"invoice_id\": \"%s\", \"reason\": \"missing_po\", \"amount\": 1000, \"notes\": \"by %s\"}",
               fresh, who_name(rw->who));
    }
  } else if (strcmp(route, "/v1/disputes/{id}") == 0) {
    if (get) {
      snprintf(path, psize, "/v1/disputes/%s", S.dispute);
    } else {
      fresh_dispute(fresh);
      snprintf(path, psize, "/v1/disputes/%s", fresh);
      snprintf(body, bsize, "{\"status\": \"rejected\", \"resolution_notes\": \"by %s\"}", who_name(rw->who));
    }
  } else if (strcmp(route, "/v1/invoices/{id}/receipt-confirmation") == 0) {
    snprintf(path, psize, "/v1/invoices/%s/receipt-confirmation", S.invoice);
    snprintf(body, bsize, "{\"confirmed_by\": \"Pat for %s\", \"via\": \"email\"}", who_name(rw->who));
  } else if (strcmp(route, "/v1/customers/{id}/call-sheet") == 0) {
    snprintf(path, psize, "/v1/customers/%s/call-sheet", S.customer);
  } else if (strcmp(route, "/v1/events") == 0) {
    snprintf(path, psize, "/v1/events?limit=5&customer_id=%s", S.customer);
  } else {
    fail_msg("no preparation for %s %s", rw->method, route);
  }
}

/* Everything the work routes can write: any change to any row of these
 * tables, or any new event, shows in their fingerprint. */
static const char *const watched[] = {"call_logs", "promises", "disputes", "invoices", "invoice_adjustments", "events", NULL};

/* What a success must show: the write happened, the read read. */
static void check_success(const struct row *rw, const struct http_resp *r, const char *body)
{
  const char *route = rw->route;
  assert_non_null(r->json);
  if (strcmp(rw->method, "POST") == 0 && r->status == 201) {
    assert_true(r->location[0] != '\0');
    assert_non_null(jstr(r->json, "id"));
  }
  if (strcmp(route, "/v1/promises/{id}") == 0 && strcmp(rw->method, "PATCH") == 0)
    assert_string_equal(jstr(r->json, "status"), "cancelled");
  if (strcmp(route, "/v1/disputes/{id}") == 0 && strcmp(rw->method, "PATCH") == 0)
    assert_string_equal(jstr(r->json, "status"), "rejected");
  if (strstr(route, "receipt-confirmation")) {
    json_t *sent = json_loads(body, 0, NULL);
    assert_string_equal(jstr(r->json, "receipt_confirmed_by"), jstr(sent, "confirmed_by"));
    json_decref(sent);
  }
  if (strcmp(rw->method, "GET") == 0 && strstr(route, "{id}") == NULL)
    assert_true(json_is_array(json_object_get(r->json, "data")));
  if (strcmp(route, "/v1/customers/{id}/call-sheet") == 0)
    assert_string_equal(jstr(json_object_get(r->json, "customer"), "id"), S.customer);
}

static void every_work_route_every_role(void **state)
{
  (void)state;
  make_world();
  struct http_resp r = {0};
  char path[256], body[1024];
  for (size_t i = 0; i < n_rows; i++) {
    const struct row *rw = &rows[i];
    prepare(rw, path, sizeof path, body, sizeof body);
    int write = strcmp(rw->method, "GET") != 0;
    char *before = tables_fingerprint(watched);
    http(&r, rw->method, path, rw->who, write ? body : NULL, NULL);
    if (r.status != rw->expected)
      fail_msg("%s %s as %s: expected %ld, got %ld: %s", rw->method, path, who_name(rw->who), rw->expected,
               r.status, r.body ? r.body : "");
    char *after = tables_fingerprint(watched);
    if (rw->expected == 401 || rw->expected == 403) {
      assert_problem(&r, rw->expected, rw->expected == 401 ? "unauthorized" : "forbidden", NULL);
      if (strcmp(before, after) != 0)
        fail_msg("refused %s %s as %s changed the database", rw->method, path, who_name(rw->who));
    } else {
      check_success(rw, &r, body);
      /* A read changes nothing; an allowed write does change something. */
      if (write != (strcmp(before, after) != 0))
        fail_msg("%s %s as %s: %s", rw->method, path, who_name(rw->who),
                 write ? "the write changed nothing" : "the read changed the database");
    }
    free(before);
    free(after);
  }
  http_resp_clear(&r);
}

/* The table covers every route of this work for every caller, exactly
 * once, and names no route the server does not have. */
static int is_work_route(const char *pattern)
{
  return strncmp(pattern, "/v1/call-logs", 13) == 0 || strncmp(pattern, "/v1/promises", 12) == 0 ||
         strncmp(pattern, "/v1/disputes", 12) == 0 || strcmp(pattern, "/v1/events") == 0 ||
         strstr(pattern, "/receipt-confirmation") || strstr(pattern, "/call-sheet");
}

static void table_is_complete(void **state)
{
  (void)state;
  static const enum role who_all[] = {ROLE_ADMIN, ROLE_MANAGER, ROLE_COLLECTOR, ROLE_VIEWER, ROLE_INTEGRATION,
                                      NO_KEY};
  size_t work_routes = 0;
  for (size_t k = 0; k < arc_routes_count; k++) {
    const struct route *rt = &arc_routes[k];
    if (!is_work_route(rt->pattern))
      continue;
    work_routes++;
    for (size_t w = 0; w < sizeof who_all / sizeof who_all[0]; w++) {
      int found = 0;
      for (size_t i = 0; i < n_rows; i++)
        if (strcmp(rows[i].route, rt->pattern) == 0 && strcmp(rows[i].method, http_method_name(rt->method)) == 0 &&
            rows[i].who == who_all[w])
          found++;
      if (found != 1)
        fail_msg("%s %s as %s: %d rows", http_method_name(rt->method), rt->pattern, who_name(who_all[w]), found);
    }
  }
  assert_int_equal(work_routes, 14);
  assert_int_equal(n_rows, work_routes * 6);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(table_is_complete),
      cmocka_unit_test(every_work_route_every_role),
  };
  return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
