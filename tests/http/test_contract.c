/* The contract (GET /openapi.json) against THE route table (routes.c):
 * every route documented with its method and operationId = its handler's
 * name, every documented operation routed, roles and security as the table
 * says, and creating POSTs documented as 201 + Location. The handlers'
 * names come from this program's own ELF symbol table, so a new route needs
 * no list here. In contract mode (ARC_TEST_PRISM) it also checks that Prism
 * is really in the path. */
#include "harness.h"

#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arc/router.h"

static json_t *doc; /* the served contract */

/* ------------------------------------------------ handler names from ELF */

struct sym {
  uintptr_t addr;
  const char *name;
};

static struct {
  char *image;
  struct sym *syms;
  size_t n;
} S;

static char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 1 << 20, used = 0;
  char *buf = malloc(cap);
  size_t got;
  while ((got = fread(buf + used, 1, cap - used, f)) > 0) {
    used += got;
    if (used == cap)
      buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  *len = used;
  return buf;
}

/* Every function symbol of this executable, at its run-time address (the
 * load offset of a position-independent executable is found from one known
 * function, harness_setup). */
static int load_symbols(void)
{
  size_t len = 0;
  S.image = slurp("/proc/self/exe", &len);
  if (!S.image || len < sizeof(Elf64_Ehdr))
    return -1;
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)S.image;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > len)
    return -1;
  const Elf64_Shdr *sh = (const Elf64_Shdr *)(S.image + eh->e_shoff);
  uintptr_t base = 0;
  int have_base = 0;
  for (size_t i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
      continue;
    const Elf64_Sym *sy = (const Elf64_Sym *)(S.image + sh[i].sh_offset);
    const char *names = S.image + sh[sh[i].sh_link].sh_offset;
    size_t count = sh[i].sh_size / sizeof(Elf64_Sym);
    S.syms = calloc(count, sizeof *S.syms);
    for (size_t k = 0; k < count; k++) {
      if (ELF64_ST_TYPE(sy[k].st_info) != STT_FUNC || sy[k].st_value == 0)
        continue;
      S.syms[S.n].addr = (uintptr_t)sy[k].st_value;
      S.syms[S.n].name = names + sy[k].st_name;
      if (strcmp(S.syms[S.n].name, "harness_setup") == 0) {
        base = (uintptr_t)harness_setup - (uintptr_t)sy[k].st_value;
        have_base = 1;
      }
      S.n++;
    }
  }
  if (!have_base)
    return -1;
  for (size_t i = 0; i < S.n; i++)
    S.syms[i].addr += base;
  return 0;
}

/* Whether NAME is a name of the function at H (identical functions may be
 * folded into one address by an optimising build). */
static int handler_named(handler_fn h, const char *name)
{
  for (size_t i = 0; i < S.n; i++)
    if (S.syms[i].addr == (uintptr_t)h && name && strcmp(S.syms[i].name, name) == 0)
      return 1;
  return 0;
}

static const char *handler_name(handler_fn h)
{
  for (size_t i = 0; i < S.n; i++)
    if (S.syms[i].addr == (uintptr_t)h)
      return S.syms[i].name;
  return "?";
}

/* ------------------------------------------------------ the document */

/* "/v1/customers/{id}/contacts/{contact_id}" -> "/v1/customers/{}/contacts/{}" */
static void normalise(const char *pattern, char *out, size_t size)
{
  size_t o = 0;
  for (const char *p = pattern; *p && o + 3 < size; p++) {
    out[o++] = *p;
    if (*p == '{') {
      out[o++] = '}';
      p = strchr(p, '}');
      if (!p)
        break;
    }
  }
  out[o] = '\0';
}

static json_t *doc_path(const char *pattern)
{
  char want[256], have[256];
  normalise(pattern, want, sizeof want);
  const char *k;
  json_t *item;
  json_object_foreach(json_object_get(doc, "paths"), k, item) {
    normalise(k, have, sizeof have);
    if (strcmp(want, have) == 0)
      return item;
  }
  return NULL;
}

static void lower(const char *s, char *out, size_t size)
{
  size_t i = 0;
  for (; s[i] && i + 1 < size; i++)
    out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
  out[i] = '\0';
}

static json_t *doc_operation(const struct route *rt)
{
  char m[16];
  lower(http_method_name(rt->method), m, sizeof m);
  return json_object_get(doc_path(rt->pattern), m);
}

/* Follows a local $ref ("#/components/responses/X"). */
static json_t *deref(json_t *j)
{
  for (int hops = 0; hops < 8; hops++) {
    const char *ref = jstr(j, "$ref");
    if (!ref || strncmp(ref, "#/", 2) != 0)
      return j;
    json_t *at = doc;
    char seg[128];
    for (const char *p = ref + 2; *p && at;) {
      size_t n = strcspn(p, "/");
      snprintf(seg, sizeof seg, "%.*s", (int)n, p);
      at = json_object_get(at, seg);
      p += n + (p[n] == '/');
    }
    j = at;
  }
  return j;
}

/* Collects problems, one per line, and fails with all of them at once. */
struct report {
  char text[16384];
  size_t used;
  int count;
};

static void note(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct report *r, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  if (r->used < sizeof r->text - 2) {
    int n = vsnprintf(r->text + r->used, sizeof r->text - r->used - 1, fmt, ap);
    r->used += n > 0 ? (size_t)n : 0;
    if (r->used > sizeof r->text - 2)
      r->used = sizeof r->text - 2;
    r->text[r->used++] = '\n';
    r->text[r->used] = '\0';
  }
  va_end(ap);
  r->count++;
}

static void report_check(const struct report *r, const char *what)
{
  if (r->count)
    fail_msg("%d %s:\n%s", r->count, what, r->text);
}

/* ------------------------------------------------------------- tests */

static int setup(void **state)
{
  if (harness_setup(state) != 0)
    return -1;
  if (load_symbols() != 0) {
    fprintf(stderr, "test_contract: cannot read this program's ELF symbol table\n");
    return -1;
  }
  struct http_resp r = {0};
  http(&r, "GET", "/openapi.json", NO_KEY, NULL, NULL);
  if (r.status != 200 || !json_is_object(r.json)) {
    fprintf(stderr, "test_contract: GET /openapi.json answered %ld\n", r.status);
    http_resp_clear(&r);
    return -1;
  }
  doc = json_incref(r.json);
  http_resp_clear(&r);
  return 0;
}

static int teardown(void **state)
{
  json_decref(doc);
  free(S.syms);
  free(S.image);
  return harness_teardown(state);
}

static void routes_are_documented(void **state)
{
  (void)state;
  struct report missing = {0}, named = {0};
  for (size_t i = 0; i < arc_routes_count; i++) {
    const struct route *rt = &arc_routes[i];
    json_t *op = doc_operation(rt);
    if (!op) {
      note(&missing, "  %s %s (%s)", http_method_name(rt->method), rt->pattern, handler_name(rt->handler));
      continue;
    }
    const char *id = jstr(op, "operationId");
    if (!handler_named(rt->handler, id))
      note(&named, "  %s %s: operationId %s, handler %s", http_method_name(rt->method), rt->pattern, id ? id : "(none)",
           handler_name(rt->handler));
  }
  if (missing.count && named.count)
    fail_msg("%d routes of routes.c are missing from openapi.yaml:\n%s"
             "%d documented routes have an operationId that is not their handler's name:\n%s",
             missing.count, missing.text, named.count, named.text);
  report_check(&missing, "routes of routes.c are missing from openapi.yaml");
  report_check(&named, "documented routes have an operationId that is not their handler's name");
}

static void documented_operations_are_routed(void **state)
{
  (void)state;
  static const char *const verbs[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
  struct report extra = {0};
  const char *path;
  json_t *item;
  json_object_foreach(json_object_get(doc, "paths"), path, item) {
    for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++) {
      if (!json_object_get(item, verbs[v]))
        continue;
      char want[256], have[256], m[16];
      normalise(path, want, sizeof want);
      int found = 0;
      for (size_t i = 0; i < arc_routes_count && !found; i++) {
        normalise(arc_routes[i].pattern, have, sizeof have);
        lower(http_method_name(arc_routes[i].method), m, sizeof m);
        found = strcmp(want, have) == 0 && strcmp(m, verbs[v]) == 0;
      }
      if (!found)
        note(&extra, "  %s %s (%s)", verbs[v], path, jstr(json_object_get(item, verbs[v]), "operationId"));
    }
  }
  report_check(&extra, "documented operations have no route in routes.c");
}

static int security_has_bearer(json_t *sec)
{
  size_t i;
  json_t *req;
  json_array_foreach(sec, i, req) {
    if (json_object_get(req, "bearerAuth"))
      return 1;
  }
  return 0;
}

static void roles_and_security_as_the_table_says(void **state)
{
  (void)state;
  json_t *schemes = json_object_get(json_object_get(doc, "components"), "securitySchemes");
  json_t *scheme = json_object_get(schemes, "bearerAuth");
  assert_non_null(scheme);
  assert_string_equal(jstr(scheme, "type"), "http");
  assert_string_equal(jstr(scheme, "scheme"), "bearer");
  struct report bad = {0};
  for (size_t i = 0; i < arc_routes_count; i++) {
    const struct route *rt = &arc_routes[i];
    json_t *op = doc_operation(rt);
    if (!op)
      continue; /* reported by routes_are_documented */
    const char *m = http_method_name(rt->method);
    json_t *sec = json_object_get(op, "security");
    if (!sec)
      sec = json_object_get(doc, "security");
    json_t *responses = json_object_get(op, "responses");
    int v1 = strncmp(rt->pattern, "/v1/", 4) == 0;
    if (v1 && rt->roles == 0)
      note(&bad, "  %s %s: under /v1 but public in routes.c", m, rt->pattern);
    if (rt->roles == 0 && json_array_size(sec) != 0)
      note(&bad, "  %s %s: public, but the contract asks for a key", m, rt->pattern);
    if (v1 && !security_has_bearer(sec))
      note(&bad, "  %s %s: no bearerAuth security", m, rt->pattern);
    if (v1 && (!json_object_get(responses, "401") || !json_object_get(responses, "403")))
      note(&bad, "  %s %s: 401 or 403 not documented", m, rt->pattern);
    /* x-roles lists exactly the roles routes.c lets in. */
    unsigned documented = 0;
    int is_public = 0;
    size_t k;
    json_t *name;
    json_array_foreach(json_object_get(op, "x-roles"), k, name) {
      if (strcmp(json_string_value(name) ? json_string_value(name) : "", "public") == 0)
        is_public = 1;
      else if (role_parse(json_string_value(name) ? json_string_value(name) : "") == ROLE_NONE)
        note(&bad, "  %s %s: x-roles names an unknown role '%s'", m, rt->pattern, json_string_value(name));
      else
        documented |= (unsigned)role_parse(json_string_value(name));
    }
    if (rt->roles == 0 ? !is_public || documented : is_public || documented != rt->roles)
      note(&bad, "  %s %s: x-roles does not list the roles routes.c allows (mask %#x, documented %#x%s)", m,
           rt->pattern, rt->roles, documented, is_public ? " + public" : "");
  }
  report_check(&bad, "operations disagree with the route table on roles or security");
}

/* A POST to a collection whose items are routed (P and P/{x}) creates a
 * resource; so does an upsert PUT. Both document 201 with Location (or,
 * for a job that runs after the answer, such as an import, 202). */
static int creates(const struct route *rt)
{
  if (rt->method == HTTP_PUT)
    return 1;
  if (rt->method != HTTP_POST)
    return 0;
  size_t n = strlen(rt->pattern);
  for (size_t i = 0; i < arc_routes_count; i++) {
    const char *p = arc_routes[i].pattern;
    if (arc_routes[i].method == HTTP_GET && strncmp(p, rt->pattern, n) == 0 && p[n] == '/' && p[n + 1] == '{' &&
        strchr(p + n + 1, '}') && strchr(p + n + 1, '}')[1] == '\0')
      return 1;
  }
  return 0;
}

static void creating_writes_answer_201_with_location(void **state)
{
  (void)state;
  struct report bad = {0};
  int seen = 0;
  for (size_t i = 0; i < arc_routes_count; i++) {
    const struct route *rt = &arc_routes[i];
    json_t *op = doc_operation(rt);
    if (!op || !creates(rt))
      continue;
    seen++;
    json_t *created = deref(json_object_get(json_object_get(op, "responses"), "201"));
    if (!created)
      created = deref(json_object_get(json_object_get(op, "responses"), "202"));
    json_t *location = deref(json_object_get(json_object_get(created, "headers"), "Location"));
    if (!created)
      note(&bad, "  %s %s: no 201 (or 202) response", http_method_name(rt->method), rt->pattern);
    else if (!location)
      note(&bad, "  %s %s: its 201/202 has no Location header", http_method_name(rt->method), rt->pattern);
    else if (!json_object_get(json_object_get(created, "content"), "application/json"))
      note(&bad, "  %s %s: its 201/202 has no JSON body", http_method_name(rt->method), rt->pattern);
  }
  assert_true(seen >= 10); /* the rule above found the creating routes */
  report_check(&bad, "creating operations are not documented as 201 + Location");
}

/* Example-driven tools (Dredd, Schemathesis's examples phase) need an
 * example for every required path parameter and for every request body of
 * every media type; an example Idempotency-Key or If-Match value would be
 * replayed by such tools into a conflict, so there is none.  And the path
 * parameters' examples name what the demo has (deploy/demo.sh: ids from 1). */
static void examples_for_example_driven_tools(void **state)
{
  (void)state;
  struct report bad = {0};
  int params = 0, bodies = 0;
  const char *path;
  json_t *item;
  json_object_foreach(json_object_get(doc, "paths"), path, item) {
    const char *method;
    json_t *op;
    json_object_foreach(item, method, op) {
      json_t *lists[2] = {json_object_get(item, "parameters"), json_object_get(op, "parameters")};
      for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *p;
        json_array_foreach(lists[l], i, p) {
          p = deref(p);
          const char *in = jstr(p, "in"), *name = jstr(p, "name");
          if (!in || !name)
            continue;
          int has = json_object_get(p, "example") || json_object_get(p, "examples");
          if (strcmp(in, "path") == 0) {
            params++;
            if (!has)
              note(&bad, "  %s %s: path parameter %s has no example", method, path, name);
          }
          if (strcmp(in, "header") == 0 && has &&
              (strcasecmp(name, "Idempotency-Key") == 0 || strcasecmp(name, "If-Match") == 0))
            note(&bad, "  %s %s: a fixed %s example", method, path, name);
        }
      }
      if (!json_is_object(op))
        continue;
      const char *mt;
      json_t *media;
      json_object_foreach(json_object_get(json_object_get(op, "requestBody"), "content"), mt, media) {
        bodies++;
        if (strcmp(mt, "text/csv") != 0 && !json_object_get(media, "example") && !json_object_get(media, "examples"))
          note(&bad, "  %s %s: its %s body has no example", method, path, mt);
      }
    }
  }
  assert_true(params > 20);
  assert_true(bodies > 20);
  report_check(&bad, "places without the examples example-driven tools need");
}

/* Contract mode only: Prism stands between http() and the server, and the
 * harness tells its refusals from the server's answers. */
static void prism_is_in_the_path(void **state)
{
  (void)state;
  if (!harness_prism_base())
    skip();
  struct http_resp r = {0};
  unsigned long checked0, refused0, direct0, checked, refused, direct;
  harness_prism_counts(&checked0, &refused0, &direct0);
  /* limit=0 is below the documented minimum: Prism refuses it itself, the
   * harness re-sends it, and the test sees the server's own 422. */
  http(&r, "GET", "/v1/customers?limit=0", ROLE_VIEWER, NULL, NULL);
  assert_problem(&r, 422, "validation", "limit");
  harness_prism_counts(&checked, &refused, &direct);
  assert_int_equal(refused, refused0 + 1);
  assert_int_equal(checked, checked0);
  http(&r, "GET", "/v1/customers?limit=1", ROLE_VIEWER, NULL, NULL);
  assert_status(&r, 200);
  harness_prism_counts(&checked, &refused, &direct);
  assert_int_equal(checked, checked0 + 1);
  /* The test sees the server's bytes, not Prism's re-serialisation of them. */
  const char *id = make_customer("Bytes & Co");
  char path[64];
  snprintf(path, sizeof path, "/v1/customers/%s", id);
  struct http_resp straight = {0};
  http(&r, "GET", path, ROLE_VIEWER, NULL, NULL);
  http_raw(&straight, "GET", path, ROLE_VIEWER, NULL, 0, NULL, NULL);
  assert_status(&r, 200);
  assert_status(&straight, 200);
  assert_int_equal(r.body_len, straight.body_len);
  assert_memory_equal(r.body, straight.body, r.body_len);
  http_resp_clear(&straight);
  harness_prism_counts(&checked0, &refused0, &direct0);
  /* Bytes Prism would rewrite (a float, here) go straight to the server. */
  http(&r, "POST", "/v1/customers", ROLE_ADMIN, "{\"name\": \"Float\", \"cadence_days\": 3.0}", NULL);
  assert_problem(&r, 422, "validation", "cadence_days");
  harness_prism_counts(&checked, &refused, &direct);
  assert_int_equal(direct, direct0 + 1);
  http_resp_clear(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(routes_are_documented),
      cmocka_unit_test(documented_operations_are_routed),
      cmocka_unit_test(roles_and_security_as_the_table_says),
      cmocka_unit_test(creating_writes_answer_201_with_location),
      cmocka_unit_test(examples_for_example_driven_tools),
      cmocka_unit_test(prism_is_in_the_path),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
