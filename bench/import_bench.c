/* import_bench: rows per second of POST /v1/imports, from the upload to the
 * job's end.  Into an empty database (DATABASE_URL) it applies the
 * migrations, starts the server (port 0) and the import worker in-process,
 * then imports 100k customers and 100k invoices (one each) and the
 * customers file once more (100k unchanged upserts), printing for each the
 * upload time, the job's time and rows/s.  See bench/README.md. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "arc/api_keys.h"
#include "arc/config.h"
#include "arc/db.h"
#include "arc/imports.h"
#include "arc/log.h"
#include "arc/router.h"
#include "arc/server.h"

#define ROWS 100000

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct buf {
  char *p;
  size_t len, cap;
};

static void add(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct buf *b, const char *fmt, ...)
{
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if ((size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    b->cap = b->cap ? b->cap * 2 : 1 << 20;
    b->p = realloc(b->p, b->cap);
  }
}

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
  add(ud, "%.*s", (int)(size * n), ptr);
  return size * n;
}

/* GET or POST; returns the parsed body (caller decrefs). */
static json_t *call(const char *base, const char *token, const char *path, const struct buf *csv, long *status)
{
  CURL *c = curl_easy_init();
  char url[256], auth[256];
  snprintf(url, sizeof url, "%s%s", base, path);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
  struct curl_slist *h = curl_slist_append(NULL, auth);
  if (csv) {
    h = curl_slist_append(h, "Content-Type: text/csv");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, csv->p);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)csv->len);
  }
  struct buf out = {0};
  add(&out, "%s", "");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
  curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  json_t *j = json_loads(out.p, 0, NULL);
  free(out.p);
  return j;
}

static void bench(const char *base, const char *token, const char *label, const char *kind, const struct buf *csv)
{
  double t0 = now_s();
  long status = 0;
  char path[64];
  snprintf(path, sizeof path, "/v1/imports?kind=%s", kind);
  json_t *job = call(base, token, path, csv, &status);
  double t1 = now_s();
  if (status != 202) {
    fprintf(stderr, "import_bench: %s: HTTP %ld\n", label, status);
    exit(1);
  }
  snprintf(path, sizeof path, "/v1/imports/%s", json_string_value(json_object_get(job, "id")));
  json_decref(job);
  for (;;) {
    job = call(base, token, path, NULL, &status);
    const char *st = json_string_value(json_object_get(job, "status"));
    if (st && strcmp(st, "queued") != 0 && strcmp(st, "running") != 0) {
      double t2 = now_s();
      printf("%-28s %-9s upload %5.2f s  job %5.2f s  total %5.2f s  %7.0f rows/s  (%lld applied)\n", label, st,
             t1 - t0, t2 - t1, t2 - t0, ROWS / (t2 - t0),
             (long long)json_integer_value(json_object_get(job, "rows_applied")));
      json_decref(job);
      return;
    }
    json_decref(job);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

int main(void)
{
  json_object_seed(0);
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct config cfg;
  if (config_load(&cfg) != 0)
    return 2;
  log_set_quiet(1);
  free(cfg.bind);
  cfg.bind = strdup("127.0.0.1");
  cfg.port = 0;
  PGconn *mc = db_connect_raw(cfg.database_url);
  if (!mc || db_migrate(mc, cfg.migrations_dir, cfg.code_dir, 0) != 0)
    return 1;
  PQfinish(mc);
  if (db_pool_init(&cfg) != 0 || !db_ready(db_thread()))
    return 1;
  struct api_key_material key;
  PGresult *r = api_keys_insert(db_thread(), ROLE_ADMIN, "import_bench", "bench", "bench", &key);
  if (!r)
    return 1;
  PQclear(r);
  db_pool_shutdown();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  struct server *srv = server_start(&cfg, arc_routes, arc_routes_count);
  struct import_worker *w = import_worker_start(&cfg);
  if (!srv || !w)
    return 1;
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)server_port(srv));

  struct buf customers = {0}, invoices = {0};
  add(&customers, "external_id,name,kind,email,phone,timezone,preferred_contact_days,notes\n");
  add(&invoices, "external_id,customer_external_id,number,currency,amount,issued_on,due_on,po_number,description\n");
  for (int i = 0; i < ROWS; i++) {
    add(&customers, "bc-%d,\"Bench %d, Ltd\",%s,ap%d@bench.example,+1 555 %07d,America/New_York,\"mon,thu\",\n", i,
        i, i % 4 ? "commercial" : "consumer", i, i);
    add(&invoices, "bi-%d,bc-%d,BI-%07d,USD,%d,2026-01-%02d,2026-02-%02d,PO-%d,\"Goods, lot %d\"\n", i, i, i,
        1000 + i % 90000, 1 + i % 28, 1 + i % 28, i, i);
  }
  printf("import_bench: %d rows per file (%.1f MB customers, %.1f MB invoices)\n", ROWS,
         (double)customers.len / 1e6, (double)invoices.len / 1e6);
  bench(base, key.token, "customers (new)", "customers", &customers);
  bench(base, key.token, "invoices (new)", "invoices", &invoices);
  bench(base, key.token, "customers (again, unchanged)", "customers", &customers);
  free(customers.p);
  free(invoices.p);
  import_worker_stop(w);
  server_stop(srv, 5000);
  curl_global_cleanup();
  config_free(&cfg);
  return 0;
}
