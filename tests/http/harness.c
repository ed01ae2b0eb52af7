/* HTTP test harness (see harness.h). */
#include "harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "arc/api_keys.h"
#include "arc/config.h"
#include "arc/db.h"
#include "arc/log.h"
#include "arc/router.h"
#include "arc/server.h"

static struct {
  struct config cfg;
  struct server *srv;
  char base[64];
  char db_name[64];
  char *admin_conninfo;
  char *conninfo;
  PGconn *sql;
  CURL *curl;
  char tokens[5][160];
} H;

static int role_index(enum role r)
{
  for (int i = 0; i < 5; i++)
    if (r == (enum role)(1 << i))
      return i;
  return -1;
}

const char *tok(enum role r)
{
  int i = role_index(r);
  return i < 0 ? NULL : H.tokens[i];
}

const char *harness_base(void) { return H.base; }
uint16_t harness_port(void) { return server_port(H.srv); }

/* The admin conninfo with dbname replaced by DB. */
static char *conninfo_for(const char *admin, const char *db)
{
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse(admin, &err);
  if (!opts) {
    fprintf(stderr, "harness: bad ARC_TEST_DATABASE_URL: %s\n", err ? err : "?");
    PQfreemem(err);
    return NULL;
  }
  size_t cap = 1024, used = 0;
  char *out = calloc(1, cap);
  for (PQconninfoOption *o = opts; o->keyword; o++) {
    const char *v = strcmp(o->keyword, "dbname") == 0 ? db : o->val;
    if (!v)
      continue;
    while (used + strlen(o->keyword) + 2 * strlen(v) + 8 > cap)
      out = realloc(out, cap *= 2);
    used += (size_t)sprintf(out + used, "%s%s='", used ? " " : "", o->keyword);
    for (const char *p = v; *p; p++) {
      if (*p == '\'' || *p == '\\')
        out[used++] = '\\';
      out[used++] = *p;
    }
    out[used++] = '\'';
    out[used] = '\0';
  }
  PQconninfoFree(opts);
  return out;
}

static int admin_exec(const char *sql)
{
  PGconn *c = PQconnectdb(H.admin_conninfo);
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "harness: cannot connect to ARC_TEST_DATABASE_URL: %s", PQerrorMessage(c));
    PQfinish(c);
    return -1;
  }
  PGresult *r = PQexec(c, sql);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok)
    fprintf(stderr, "harness: %s: %s", sql, PQresultErrorMessage(r));
  PQclear(r);
  PQfinish(c);
  return ok ? 0 : -1;
}

int harness_setup(void **state)
{
  (void)state;
  const char *admin = getenv("ARC_TEST_DATABASE_URL");
  if (!admin || !*admin) {
    fprintf(stderr, "harness: ARC_TEST_DATABASE_URL is not set; run the tests with deploy/dev.sh test\n");
    return -1;
  }
  if (!getenv("ARC_TEST_VERBOSE"))
    log_set_quiet(1);
  H.admin_conninfo = strdup(admin);
  const char *prog = strrchr(program_invocation_name, '/');
  prog = prog ? prog + 1 : program_invocation_name;
  snprintf(H.db_name, sizeof H.db_name, "arct_%.40s_%d", prog, (int)getpid());
  char sql[256];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", H.db_name);
  if (admin_exec(sql) != 0)
    return -1;
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", H.db_name);
  if (admin_exec(sql) != 0)
    return -1;
  H.conninfo = conninfo_for(admin, H.db_name);
  if (!H.conninfo)
    return -1;

  setenv("DATABASE_URL", H.conninfo, 1);
  if (config_load(&H.cfg) != 0)
    return -1;
  free(H.cfg.bind);
  H.cfg.bind = strdup("127.0.0.1");
  H.cfg.port = 0;
  if (!getenv("ARC_THREADS"))
    H.cfg.threads = 4;

  PGconn *mc = db_connect_raw(H.conninfo);
  if (!mc || db_migrate(mc, H.cfg.migrations_dir, 0) != 0) {
    PQfinish(mc);
    return -1;
  }
  PQfinish(mc);
  if (db_pool_init(&H.cfg) != 0)
    return -1;
  struct db *db = db_thread();
  if (!db_ready(db)) {
    fprintf(stderr, "harness: the pool cannot connect or prepare its statements\n");
    return -1;
  }
  static const char *const actors[] = {"admin@example.com", "manager@example.com", "collector@example.com",
                                       "viewer@example.com", "integration:crm"};
  for (int i = 0; i < 5; i++) {
    struct api_key_material key;
    PGresult *r = api_keys_insert(db, (enum role)(1 << i), "test key", actors[i], "harness", &key);
    if (!r) {
      fprintf(stderr, "harness: cannot create API keys\n");
      return -1;
    }
    PQclear(r);
    snprintf(H.tokens[i], sizeof H.tokens[i], "%s", key.token);
  }
  db_pool_shutdown();

  H.srv = server_start(&H.cfg, arc_routes, arc_routes_count);
  if (!H.srv)
    return -1;
  snprintf(H.base, sizeof H.base, "http://127.0.0.1:%u", (unsigned)server_port(H.srv));
  H.sql = PQconnectdb(H.conninfo);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  H.curl = curl_easy_init();
  return 0;
}

int harness_teardown(void **state)
{
  (void)state;
  if (H.curl)
    curl_easy_cleanup(H.curl);
  curl_global_cleanup();
  if (H.srv)
    server_stop(H.srv, 5000);
  H.srv = NULL;
  db_pool_shutdown();
  if (H.sql)
    PQfinish(H.sql);
  if (H.admin_conninfo && H.db_name[0] && !getenv("ARC_TEST_KEEP_DB")) {
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", H.db_name);
    admin_exec(sql);
  }
  free(H.admin_conninfo);
  free(H.conninfo);
  config_free(&H.cfg);
  memset(&H, 0, sizeof H);
  return 0;
}

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
  struct http_resp *r = ud;
  size_t len = size * n;
  r->body = realloc(r->body, r->body_len + len + 1);
  memcpy(r->body + r->body_len, ptr, len);
  r->body_len += len;
  r->body[r->body_len] = '\0';
  return len;
}

static void header_copy(char *dst, size_t size, const char *v, size_t len)
{
  while (len && (v[len - 1] == '\r' || v[len - 1] == '\n'))
    len--;
  while (len && *v == ' ') {
    v++;
    len--;
  }
  if (len >= size)
    len = size - 1;
  memcpy(dst, v, len);
  dst[len] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
  struct http_resp *r = ud;
  size_t len = size * n;
  static const struct {
    const char *name;
    size_t off, size;
  } want[] = {
      {"content-type:", offsetof(struct http_resp, content_type), sizeof(((struct http_resp *)0)->content_type)},
      {"location:", offsetof(struct http_resp, location), sizeof(((struct http_resp *)0)->location)},
      {"etag:", offsetof(struct http_resp, etag), sizeof(((struct http_resp *)0)->etag)},
      {"allow:", offsetof(struct http_resp, allow), sizeof(((struct http_resp *)0)->allow)},
      {"retry-after:", offsetof(struct http_resp, retry_after), sizeof(((struct http_resp *)0)->retry_after)},
      {"x-request-id:", offsetof(struct http_resp, request_id), sizeof(((struct http_resp *)0)->request_id)},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    size_t nl = strlen(want[i].name);
    if (len > nl && strncasecmp(buf, want[i].name, nl) == 0)
      header_copy((char *)r + want[i].off, want[i].size, buf + nl, len - nl);
  }
  return len;
}

void http_resp_clear(struct http_resp *r)
{
  json_decref(r->json);
  free(r->body);
  memset(r, 0, sizeof *r);
}

long http_raw(struct http_resp *out, const char *method, const char *path, enum role who, const char *body,
              size_t len, const char *content_type, const char *const *headers)
{
  http_resp_clear(out);
  CURL *c = H.curl;
  curl_easy_reset(c);
  char url[2048];
  snprintf(url, sizeof url, "%s%s", H.base, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  struct curl_slist *hl = NULL;
  char line[512];
  if (tok(who)) {
    snprintf(line, sizeof line, "Authorization: Bearer %s", tok(who));
    hl = curl_slist_append(hl, line);
  }
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (content_type) {
      snprintf(line, sizeof line, "Content-Type: %s", content_type);
      hl = curl_slist_append(hl, line);
    } else {
      hl = curl_slist_append(hl, "Content-Type:");
    }
  }
  hl = curl_slist_append(hl, "Expect:");
  for (const char *const *h = headers; h && *h; h++)
    hl = curl_slist_append(hl, *h);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(hl);
  if (rc != CURLE_OK) {
    out->status = -1;
    return -1;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
  if (out->body && strstr(out->content_type, "json"))
    out->json = json_loadb(out->body, out->body_len, 0, NULL);
  return out->status;
}

long http(struct http_resp *out, const char *method, const char *path, enum role who, const char *body,
          const char *const *headers)
{
  return http_raw(out, method, path, who, body, body ? strlen(body) : 0, "application/json", headers);
}

long httpf(struct http_resp *out, const char *method, enum role who, const char *body, const char *fmt, ...)
{
  char path[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof path, fmt, ap);
  va_end(ap);
  return http(out, method, path, who, body, NULL);
}

static PGresult *sql_v(const char *fmt, va_list ap)
{
  char sql[8192];
  vsnprintf(sql, sizeof sql, fmt, ap);
  PGresult *r = PQexec(H.sql, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
    fprintf(stderr, "harness_sql: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    fail_msg("SQL failed");
  }
  return r;
}

char *harness_sql(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  PGresult *r = sql_v(fmt, ap);
  va_end(ap);
  char *v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
  PQclear(r);
  return v;
}

long long harness_sql_int(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  PGresult *r = sql_v(fmt, ap);
  va_end(ap);
  long long v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? atoll(PQgetvalue(r, 0, 0)) : -1;
  PQclear(r);
  return v;
}

void assert_status(const struct http_resp *r, long status)
{
  if (r->status != status)
    fail_msg("expected HTTP %ld, got %ld: %s", status, r->status, r->body ? r->body : "(no body)");
}

void assert_problem(const struct http_resp *r, long status, const char *slug, const char *field)
{
  assert_status(r, status);
  if (strncmp(r->content_type, "application/problem+json", 24) != 0)
    fail_msg("expected application/problem+json, got '%s'", r->content_type);
  if (!r->json)
    fail_msg("problem body is not JSON: %s", r->body ? r->body : "");
  char type[128];
  snprintf(type, sizeof type, "urn:arcollect:problem:%s", slug);
  const char *got = json_string_value(json_object_get(r->json, "type"));
  if (!got || strcmp(got, type) != 0)
    fail_msg("expected problem type %s, got %s (%s)", type, got ? got : "none", r->body);
  if (json_integer_value(json_object_get(r->json, "status")) != status)
    fail_msg("problem status member is not %ld", status);
  if (!json_is_string(json_object_get(r->json, "title")))
    fail_msg("problem has no title");
  if (field) {
    json_t *errs = json_object_get(r->json, "errors");
    size_t i;
    json_t *e;
    json_array_foreach(errs, i, e) {
      const char *f = json_string_value(json_object_get(e, "field"));
      if (f && strcmp(f, field) == 0 && json_is_string(json_object_get(e, "message")))
        return;
    }
    fail_msg("errors[] does not name field '%s': %s", field, r->body);
  }
}

json_t *create_ok(const char *path, const char *body)
{
  struct http_resp r = {0};
  http(&r, "POST", path, ROLE_ADMIN, body, NULL);
  if (r.status != 201)
    fail_msg("POST %s: expected 201, got %ld: %s", path, r.status, r.body ? r.body : "");
  json_t *j = json_incref(r.json);
  http_resp_clear(&r);
  return j;
}

const char *tz(void)
{
  const char *t = getenv("ARC_TIMEZONE");
  return t && *t ? t : "UTC";
}

void day(char out[16], int days)
{
  char *d = harness_sql("SELECT to_char((now() AT TIME ZONE '%s')::date + %d, 'YYYY-MM-DD')", tz(), days);
  snprintf(out, 16, "%s", d);
  free(d);
}

void sql_customer(char out[32], const char *name)
{
  char *id = harness_sql("INSERT INTO customers (name) VALUES ('%s') RETURNING id", name);
  assert_non_null(id);
  snprintf(out, 32, "%s", id);
  free(id);
}

size_t data_size(const struct http_resp *r)
{
  return json_array_size(json_object_get(r->json, "data"));
}

const char *data_id(const struct http_resp *r, size_t i)
{
  return jstr(json_array_get(json_object_get(r->json, "data"), i), "id");
}

int is_null(const json_t *o, const char *key)
{
  return json_is_null(json_object_get(o, key));
}

const char *jstr(const json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

long long jint(const json_t *o, const char *key)
{
  return json_integer_value(json_object_get(o, key));
}

const char *make_customer(const char *name)
{
  static char id[32];
  char body[512];
  snprintf(body, sizeof body, "{\"name\": \"%s\"}", name);
  json_t *c = create_ok("/v1/customers", body);
  snprintf(id, sizeof id, "%s", jstr(c, "id"));
  json_decref(c);
  return id;
}

const char *make_invoice(const char *customer_id, const char *number, long long amount,
                         const char *issued_on, const char *due_on)
{
  static char id[32];
  char body[512];
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"%s\", \"currency\": \"USD\", \"amount\": %lld, "
           "\"issued_on\": \"%s\", \"due_on\": \"%s\"}",
           customer_id, number, amount, issued_on, due_on);
  json_t *c = create_ok("/v1/invoices", body);
  snprintf(id, sizeof id, "%s", jstr(c, "id"));
  json_decref(c);
  return id;
}

void run_steps(const struct step *steps, size_t n)
{
  struct http_resp r = {0};
  for (size_t i = 0; i < n; i++) {
    const struct step *s = &steps[i];
    http(&r, s->method, s->path, s->who, s->body, NULL);
    if (r.status != s->status) {
      fail_msg("[%s] %s %s: expected %ld, got %ld: %s", s->label, s->method, s->path, s->status, r.status,
               r.body ? r.body : "");
    }
    if (s->problem)
      assert_problem(&r, s->status, s->problem, s->field);
  }
  http_resp_clear(&r);
}
