/* Browser front ends on other origins (ARC_CORS_ORIGINS): a preflight from
 * an allowed origin is answered for every route without a key (methods,
 * headers, max age); every answer to an allowed origin says so and exposes
 * the headers a client reads (ETag, Location, X-Request-Id, Retry-After,
 * Idempotent-Replayed); other origins get nothing of it.  Then the real
 * thing: headless Chromium (Debian's chromium) loads a page from an allowed
 * origin that creates a customer and reads it back with fetch(), and a page
 * from another origin whose fetch the browser refuses. */
#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned page_port;
static char page_origin[64];

static void header_is(const struct http_resp *r, const char *name, const char *want)
{
  char got[512];
  if (!resp_header(r, name, got, sizeof got))
    fail_msg("no %s header (status %ld)", name, r->status);
  if (strcmp(got, want) != 0)
    fail_msg("%s: expected \"%s\", got \"%s\"", name, want, got);
}

static void header_has(const struct http_resp *r, const char *name, const char *part)
{
  char got[512];
  if (!resp_header(r, name, got, sizeof got) || !strstr(got, part))
    fail_msg("%s: expected it to list %s, got \"%s\"", name, part, got);
}

static void no_header(const struct http_resp *r, const char *name)
{
  char got[512];
  if (resp_header(r, name, got, sizeof got))
    fail_msg("%s: expected none, got \"%s\"", name, got);
}

static void preflight(struct http_resp *r, const char *path, const char *origin, const char *method)
{
  char o[128], m[96];
  snprintf(o, sizeof o, "Origin: %s", origin);
  snprintf(m, sizeof m, "Access-Control-Request-Method: %s", method);
  const char *const h[] = {o, m, "Access-Control-Request-Headers: authorization, content-type, if-match", NULL};
  http_raw(r, "OPTIONS", path, NO_KEY, NULL, 0, NULL, h);
}

static void preflights(void **state)
{
  (void)state;
  struct http_resp r = {0};
  preflight(&r, "/v1/invoices", "https://app.example.com", "POST");
  assert_int_equal(r.status, 204);
  header_is(&r, "Access-Control-Allow-Origin", "https://app.example.com");
  header_has(&r, "Access-Control-Allow-Methods", "POST");
  header_has(&r, "Access-Control-Allow-Methods", "GET");
  header_has(&r, "Access-Control-Allow-Headers", "Authorization");
  header_has(&r, "Access-Control-Allow-Headers", "If-Match");
  header_has(&r, "Access-Control-Allow-Headers", "Idempotency-Key");
  header_has(&r, "Access-Control-Allow-Headers", "Content-Type");
  header_is(&r, "Access-Control-Max-Age", "600");
  header_is(&r, "Vary", "Origin");
  /* Every route: an item's PATCH, a path with parameters. */
  preflight(&r, "/v1/invoices/1", "https://app.example.com", "PATCH");
  assert_int_equal(r.status, 204);
  header_has(&r, "Access-Control-Allow-Methods", "PATCH");
  preflight(&r, "/v1/customers/7/call-sheet", page_origin, "GET");
  assert_int_equal(r.status, 204);
  header_is(&r, "Access-Control-Allow-Origin", page_origin);
  /* No such route: 404, readable by the page. */
  preflight(&r, "/v1/nothing-here", "https://app.example.com", "GET");
  assert_int_equal(r.status, 404);
  header_is(&r, "Access-Control-Allow-Origin", "https://app.example.com");
  /* Another origin, or one that differs in any part: no CORS at all (the
   * OPTIONS method is not the API's: 405). */
  static const char *const others[] = {"https://evil.example.com", "http://app.example.com",
                                       "https://app.example.com:8443", "null"};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    preflight(&r, "/v1/invoices", others[i], "POST");
    assert_int_equal(r.status, 405);
    no_header(&r, "Access-Control-Allow-Origin");
    no_header(&r, "Access-Control-Allow-Methods");
  }
  http_resp_clear(&r);
}

static void answers(void **state)
{
  (void)state;
  struct http_resp r = {0};
  const char *const allowed[] = {"Origin: https://app.example.com", NULL};
  const char *const other[] = {"Origin: https://evil.example.com", NULL};
  /* A read, a create, an error: each tells the allowed origin. */
  http_raw(&r, "GET", "/v1/meta", ROLE_VIEWER, NULL, 0, NULL, allowed);
  assert_int_equal(r.status, 200);
  header_is(&r, "Access-Control-Allow-Origin", "https://app.example.com");
  static const char *const exposed[] = {"ETag", "Location", "X-Request-Id", "Retry-After", "Idempotent-Replayed"};
  for (size_t i = 0; i < sizeof exposed / sizeof exposed[0]; i++)
    header_has(&r, "Access-Control-Expose-Headers", exposed[i]);
  header_is(&r, "Vary", "Origin");
  const char *body = "{\"name\": \"Cors Ltd\"}";
  http_raw(&r, "POST", "/v1/customers", ROLE_ADMIN, body, strlen(body), "application/json", allowed);
  assert_int_equal(r.status, 201);
  header_is(&r, "Access-Control-Allow-Origin", "https://app.example.com");
  http_raw(&r, "GET", "/v1/meta", NO_KEY, NULL, 0, NULL, allowed);
  assert_int_equal(r.status, 401);
  header_is(&r, "Access-Control-Allow-Origin", "https://app.example.com");
  /* Another origin: the answer, without CORS headers (the browser keeps it
   * from the page); caches still know it depends on the origin. */
  http_raw(&r, "GET", "/v1/meta", ROLE_VIEWER, NULL, 0, NULL, other);
  assert_int_equal(r.status, 200);
  no_header(&r, "Access-Control-Allow-Origin");
  no_header(&r, "Access-Control-Expose-Headers");
  header_is(&r, "Vary", "Origin");
  http_resp_clear(&r);
}

/* ---- the browser ---- */

static char page_dir[64];
static pid_t page_server;

/* A page that creates NAME and reads it back, writing what it saw (or the
 * error fetch() threw) into <pre id="out"> as JSON. */
static void write_page(const char *file, const char *name)
{
  char path[128];
  snprintf(path, sizeof path, "%s/%s", page_dir, file);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f,
          "<!doctype html><html><body><pre id=\"out\">pending</pre><script>\n"
          "const api = \"%s\", auth = {\"Authorization\": \"Bearer %s\"};\n"
          "(async () => {\n"
          "  const out = {};\n"
          "  try {\n"
          "    const r = await fetch(api + \"/v1/customers\", {method: \"POST\", body: JSON.stringify({name: \"%s\"}),\n"
          "      headers: {...auth, \"Content-Type\": \"application/json\", \"Idempotency-Key\": \"page-%s\"}});\n"
          "    out.status = r.status; out.location = r.headers.get(\"Location\"); out.etag = r.headers.get(\"ETag\");\n"
          "    out.request_id = r.headers.get(\"X-Request-Id\"); out.name = (await r.json()).name;\n"
          "    const g = await fetch(api + out.location, {headers: auth});\n"
          "    out.get = g.status; out.get_etag = g.headers.get(\"ETag\");\n"
          "  } catch (e) { out.error = String(e); }\n"
          "  document.getElementById(\"out\").textContent = JSON.stringify(out);\n"
          "})();\n"
          "</script></body></html>\n",
          harness_base(), tok(ROLE_ADMIN), name, file);
  fclose(f);
}

/* Loads URL in headless Chromium and returns what its page wrote (JSON). */
static json_t *browse(const char *url)
{
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "chromium --headless=new --no-sandbox --disable-gpu --no-first-run --user-data-dir=%s/profile "
           "--virtual-time-budget=15000 --dump-dom '%s' 2>/dev/null",
           page_dir, url);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  char dom[65536];
  size_t n = fread(dom, 1, sizeof dom - 1, p);
  dom[n] = '\0';
  pclose(p);
  char *start = strstr(dom, "<pre id=\"out\">");
  if (!start)
    fail_msg("chromium showed no page (is Debian's chromium installed? deploy/dev.sh installs it): %.300s", dom);
  start += strlen("<pre id=\"out\">");
  char *end = strstr(start, "</pre>");
  assert_non_null(end);
  *end = '\0';
  /* The DOM escapes what the page wrote: &quot; never appears in
   * textContent's serialisation of JSON, but & < > would. */
  json_t *j = json_loads(start, 0, NULL);
  if (!j)
    fail_msg("the page wrote %s", start);
  return j;
}

static void in_a_browser(void **state)
{
  (void)state;
  snprintf(page_dir, sizeof page_dir, "/tmp/arc-cors-XXXXXX");
  assert_non_null(mkdtemp(page_dir));
  write_page("allowed.html", "Browser Ltd");
  write_page("refused.html", "Blocked Ltd");
  char port[16];
  snprintf(port, sizeof port, "%u", page_port);
  page_server = fork();
  assert_true(page_server >= 0);
  if (page_server == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execlp("python3", "python3", "-m", "http.server", port, "--bind", "127.0.0.1", "--directory", page_dir,
           (char *)NULL);
    _exit(127);
  }
  char url[128];
  snprintf(url, sizeof url, "%s/allowed.html", page_origin);
  for (int i = 0; i < 100 && harness_get_status(url) != 200; i++)
    sleep_ms(50);

  /* From the allowed origin: created, its headers readable, read back. */
  json_t *got = browse(url);
  if (json_object_get(got, "error"))
    fail_msg("the page's fetch failed: %s", jstr(got, "error"));
  assert_int_equal(jint(got, "status"), 201);
  assert_string_equal(jstr(got, "name"), "Browser Ltd");
  const char *loc = jstr(got, "location");
  assert_int_equal(strncmp(loc, "/v1/customers/", 14), 0);
  assert_true(strlen(jstr(got, "etag")) > 2);
  assert_true(strlen(jstr(got, "request_id")) > 0);
  assert_int_equal(jint(got, "get"), 200);
  assert_string_equal(jstr(got, "get_etag"), jstr(got, "etag"));
  json_decref(got);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE name = 'Browser Ltd'"), 1);

  /* The same page server, named localhost: another origin.  The preflight
   * fails, so the browser never sends the POST. */
  snprintf(url, sizeof url, "http://localhost:%u/refused.html", page_port);
  got = browse(url);
  assert_non_null(json_object_get(got, "error"));
  assert_non_null(strstr(jstr(got, "error"), "Failed to fetch"));
  json_decref(got);
  assert_int_equal(harness_sql_int("SELECT count(*) FROM customers WHERE name = 'Blocked Ltd'"), 0);
}

static int teardown(void **state)
{
  if (page_server > 0) {
    kill(page_server, SIGTERM);
    waitpid(page_server, NULL, 0);
    page_server = 0;
  }
  if (page_dir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", page_dir);
    if (system(cmd) != 0)
      fprintf(stderr, "test_cors: could not remove %s\n", page_dir);
  }
  return harness_teardown(state);
}

int main(void)
{
  page_port = free_port();
  snprintf(page_origin, sizeof page_origin, "http://127.0.0.1:%u", page_port);
  char origins[160];
  snprintf(origins, sizeof origins, "https://app.example.com, %s", page_origin);
  setenv("ARC_CORS_ORIGINS", origins, 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(preflights),
      cmocka_unit_test(answers),
      cmocka_unit_test(in_a_browser),
  };
  return cmocka_run_group_tests(tests, harness_setup, teardown);
}
