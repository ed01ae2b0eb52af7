/* HTTP test harness (see harness.h). */
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
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

/* Contract mode (ARC_TEST_PRISM=path to Prism's CLI): a Prism validation
 * proxy (`prism proxy --errors`) stands between http() and the server, so
 * every request and response is checked against the served OpenAPI
 * document. See prism_start() and prism_exchange(). */
static struct {
  pid_t pid;
  char base[64];
  char log_path[64];
  char *violations; /* the last response's sl-violations header */
  unsigned long checked, direct, refused, failures;
} P;

static int prism_start(const char *prism);
static void prism_stop(void);

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
const char *harness_prism_base(void) { return P.pid > 0 ? P.base : NULL; }

void harness_prism_counts(unsigned long *checked, unsigned long *refused, unsigned long *direct)
{
  *checked = P.checked;
  *refused = P.refused;
  *direct = P.direct;
}
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
  /* A test database: sweeps for another instant write (tests replay days). */
  setenv("ARC_TIME_TRAVEL", "1", 0);
  /* The tests' webhook receivers listen on 127.0.0.1. */
  setenv("ARC_WEBHOOK_ALLOW_PRIVATE", "1", 0);
  if (config_load(&H.cfg) != 0)
    return -1;
  free(H.cfg.bind);
  H.cfg.bind = strdup("127.0.0.1");
  H.cfg.port = 0;
  if (!getenv("ARC_THREADS"))
    H.cfg.threads = 4;

  PGconn *mc = db_connect_raw(H.conninfo);
  if (!mc || db_migrate(mc, H.cfg.migrations_dir, H.cfg.code_dir, 0) != 0) {
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
  const char *prism = getenv("ARC_TEST_PRISM");
  if (prism && *prism && prism_start(prism) != 0)
    return -1;
  return 0;
}

int harness_teardown(void **state)
{
  (void)state;
  prism_stop();
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
  size_t had = strlen(r->headers);
  if (had + len < sizeof r->headers) {
    memcpy(r->headers + had, buf, len);
    r->headers[had + len] = '\0';
  }
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
  static const char replayed[] = "idempotent-replayed:";
  if (len > sizeof replayed - 1 && strncasecmp(buf, replayed, sizeof replayed - 1) == 0) {
    char v[16];
    header_copy(v, sizeof v, buf + sizeof replayed - 1, len - (sizeof replayed - 1));
    r->replayed = strcmp(v, "true") == 0 ? 1 : -1;
  }
  /* Prism lists what it found wrong, warnings included, in this header. */
  static const char sl[] = "sl-violations:";
  if (P.pid > 0 && len > sizeof sl - 1 && strncasecmp(buf, sl, sizeof sl - 1) == 0) {
    free(P.violations);
    P.violations = malloc(len);
    header_copy(P.violations, len, buf + sizeof sl - 1, len - (sizeof sl - 1));
  }
  return len;
}

void http_capture(void *curl, struct http_resp *out)
{
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, out);
}

void http_resp_clear(struct http_resp *r)
{
  json_decref(r->json);
  free(r->body);
  memset(r, 0, sizeof *r);
}

/* One request to BASE (the server, or Prism in contract mode). */
static long perform(struct http_resp *out, const char *base, const char *method, const char *path, enum role who,
                    const char *body, size_t len, const char *content_type, const char *const *headers)
{
  http_resp_clear(out);
  free(P.violations);
  P.violations = NULL;
  CURL *c = H.curl;
  curl_easy_reset(c);
  char url[2048];
  snprintf(url, sizeof url, "%s%s", base, path);
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

/* ------------------------------------------------------------ contract mode
 * Prism forwards what it parsed, not the bytes it got: JSON bodies are
 * re-serialised (1.0 becomes 1, the last of two duplicate keys wins, numbers
 * past 2^53 are rounded, invalid UTF-8 becomes U+FFFD) and query strings are
 * decoded and re-encoded (a bad %-escape is escaped again, "a" becomes "a=",
 * empty pairs vanish, repeated keys are regrouped). A request whose meaning
 * would change on the way goes straight to the server instead: the test
 * still checks the server, only not the contract. HEAD goes straight too:
 * the contract documents it once, as GET's twin, not per path. */

static int hex_digit(int c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_value(int c)
{
  return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Percent-decodes S[0..N) into OUT ('+' is a space, for libmicrohttpd and
 * Prism alike); 0 when S holds a raw byte outside printable ASCII, an escape
 * is malformed or the result is not UTF-8 text without NUL. */
static int query_part_decode(const char *s, size_t n, char *out, size_t cap)
{
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (o + 1 >= cap || (unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
      return 0;
    if (s[i] == '%') {
      if (i + 2 >= n || !hex_digit(s[i + 1]) || !hex_digit(s[i + 2]))
        return 0;
      out[o++] = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out[o++] = s[i] == '+' ? ' ' : s[i];
    }
  }
  out[o] = '\0';
  if (memchr(out, '\0', o))
    return 0;
  json_t *utf8 = json_stringn(out, o); /* NULL unless valid UTF-8 */
  json_decref(utf8);
  return utf8 != NULL;
}

/* Keys of the form Prism's query parser turns into arrays or objects. */
static int query_key_plain(const char *k)
{
  return *k && !strpbrk(k, "[]");
}

static int query_survives(const char *q)
{
  char keys[32][128];
  size_t nkeys = 0;
  while (*q) {
    const char *amp = strchr(q, '&');
    size_t n = amp ? (size_t)(amp - q) : strlen(q);
    const char *eq = memchr(q, '=', n);
    char val[1024];
    if (n == 0 || !eq || nkeys == sizeof keys / sizeof keys[0])
      return 0;
    if (!query_part_decode(q, (size_t)(eq - q), keys[nkeys], sizeof keys[nkeys]) ||
        !query_part_decode(eq + 1, n - (size_t)(eq - q) - 1, val, sizeof val) || !query_key_plain(keys[nkeys]))
      return 0;
    for (size_t i = 0; i < nkeys; i++)
      if (strcmp(keys[i], keys[nkeys]) == 0)
        return 0;
    nkeys++;
    if (!amp)
      break;
    q = amp + 1;
    if (!*q)
      return 0; /* a trailing '&' is dropped */
  }
  return 1;
}

/* A key JavaScript would move to the front of its object. */
static int index_like(const char *k)
{
  size_t n = strlen(k);
  return n > 0 && n <= 10 && strspn(k, "0123456789") == n && (n == 1 || k[0] != '0');
}

/* Whether JSON.parse then JSON.stringify gives back the same document. */
static int json_portable(json_t *j)
{
  const char *k;
  json_t *v;
  size_t i;
  switch (json_typeof(j)) {
  case JSON_REAL:
    return 0;
  case JSON_INTEGER:
    return json_integer_value(j) <= 9007199254740991LL && json_integer_value(j) >= -9007199254740991LL;
  case JSON_OBJECT:
    json_object_foreach(j, k, v) {
      if (index_like(k) || !json_portable(v))
        return 0;
    }
    return 1;
  case JSON_ARRAY:
    json_array_foreach(j, i, v) {
      if (!json_portable(v))
        return 0;
    }
    return 1;
  default:
    return 1;
  }
}

static int header_named(const char *const *headers, const char *name)
{
  size_t n = strlen(name);
  for (const char *const *h = headers; h && *h; h++)
    if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':')
      return 1;
  return 0;
}

/* Headers Prism would merge (a repeated one), drop or replace (framing). */
static int headers_survive(enum role who, const char *const *headers)
{
  static const char *const framing[] = {"content-length", "transfer-encoding", "content-type", "expect",
                                        "connection", "host", "authorization", NULL};
  for (const char *const *h = headers; h && *h; h++) {
    size_t n = strcspn(*h, ":");
    if (!(*h)[n] || n == 0)
      return 0;
    for (const char *const *f = framing; *f; f++)
      if (strlen(*f) == n && strncasecmp(*h, *f, n) == 0 && (strcmp(*f, "authorization") != 0 || tok(who)))
        return 0;
    for (const char *const *o = headers; o != h; o++)
      if (strncasecmp(*o, *h, n) == 0 && (*o)[n] == ':')
        return 0;
  }
  return 1;
}

static int prism_carries(const char *method, const char *path, enum role who, const char *body, size_t len,
                         const char *const *headers)
{
  if (strcmp(method, "HEAD") == 0 || path[0] != '/' || strstr(path, "//") || !headers_survive(who, headers))
    return 0;
  /* Node's HTTP parser in front of Prism answers a method it does not know
   * (BREW) with a bare 400 of its own: such requests go to the server. */
  static const char *const known[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL};
  int standard = 0;
  for (size_t i = 0; known[i]; i++)
    standard |= strcmp(method, known[i]) == 0;
  if (!standard)
    return 0;
  const char *q = strchr(path, '?');
  size_t plen = q ? (size_t)(q - path) : strlen(path);
  char decoded[2048];
  if (plen >= sizeof decoded || !query_part_decode(path, plen, decoded, sizeof decoded))
    return 0; /* Prism exits on a path that is not UTF-8 (URIError) */
  if (q && !query_survives(q + 1))
    return 0;
  if (!body)
    return 1;
  if (len == 0 || len > 256 * 1024)
    return 0;
  json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
  int ok = doc && json_portable(doc);
  /* With an Idempotency-Key the server compares bodies byte for byte, and
   * Prism's re-serialisation would make {"a": 1} and {"a":1} one body: only
   * a body already in JSON.stringify's form (compact, nothing escaped) goes
   * through Prism then. */
  if (ok && header_named(headers, "idempotency-key")) {
    char *compact = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    ok = compact && strlen(compact) == len && memcmp(compact, body, len) == 0 && !memchr(body, '\\', len);
    free(compact);
  }
  json_decref(doc);
  return ok;
}

/* The tee: Prism's upstream is this relay, not the server itself. It
 * passes bytes both ways unchanged and keeps a copy of what the server
 * answered since the last tee_reset(), so that a test sees the server's own
 * bytes (Prism re-serialises JSON: 50.00 would reach the test as 50) while
 * Prism's verdict stands; and so that the harness knows whether Prism
 * forwarded a request at all. */
static struct {
  int listen_fd, wake[2];
  unsigned port;
  pthread_t thread;
  int running;
  pthread_mutex_t mu;
  char *cap;
  size_t cap_len;
} T = {.listen_fd = -1, .wake = {-1, -1}, .mu = PTHREAD_MUTEX_INITIALIZER};

static int send_all(int fd, const char *buf, size_t n)
{
  while (n > 0) {
    ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

static int connect_server(void)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                          .sin_port = htons(server_port(H.srv))};
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

static void *tee_main(void *arg)
{
  (void)arg;
  enum { MAX_PAIRS = 32 };
  int side[MAX_PAIRS][2]; /* [0] Prism's connection, [1] ours to the server */
  size_t npairs = 0;
  static char buf[65536];
  for (;;) {
    struct pollfd pf[2 + 2 * MAX_PAIRS];
    pf[0] = (struct pollfd){.fd = T.wake[0], .events = POLLIN};
    pf[1] = (struct pollfd){.fd = T.listen_fd, .events = npairs < MAX_PAIRS ? POLLIN : 0};
    for (size_t i = 0; i < npairs; i++) {
      pf[2 + 2 * i] = (struct pollfd){.fd = side[i][0], .events = POLLIN};
      pf[3 + 2 * i] = (struct pollfd){.fd = side[i][1], .events = POLLIN};
    }
    if (poll(pf, 2 + 2 * npairs, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (pf[0].revents)
      break;
    size_t n = npairs;
    for (size_t i = n; i-- > 0;) {
      for (int from = 0; from < 2; from++) {
        if (!pf[2 + 2 * i + (size_t)from].revents || side[i][0] < 0)
          continue;
        ssize_t got = recv(side[i][from], buf, sizeof buf, 0);
        if (got > 0 && from == 1) {
          pthread_mutex_lock(&T.mu);
          T.cap = realloc(T.cap, T.cap_len + (size_t)got + 1);
          memcpy(T.cap + T.cap_len, buf, (size_t)got);
          T.cap_len += (size_t)got;
          T.cap[T.cap_len] = '\0';
          pthread_mutex_unlock(&T.mu);
        }
        if (got <= 0 || send_all(side[i][!from], buf, (size_t)got) != 0) {
          close(side[i][0]);
          close(side[i][1]);
          side[i][0] = side[i][1] = -1;
        }
      }
    }
    size_t kept = 0; /* drop closed pairs, keep the order */
    for (size_t i = 0; i < npairs; i++)
      if (side[i][0] >= 0) {
        side[kept][0] = side[i][0];
        side[kept][1] = side[i][1];
        kept++;
      }
    npairs = kept;
    if (pf[1].revents & POLLIN) {
      int a = accept4(T.listen_fd, NULL, NULL, SOCK_CLOEXEC);
      int b = a >= 0 ? connect_server() : -1;
      if (a >= 0 && b >= 0) {
        side[npairs][0] = a;
        side[npairs][1] = b;
        npairs++;
      } else if (a >= 0) {
        close(a);
      }
    }
  }
  for (size_t i = 0; i < npairs; i++) {
    close(side[i][0]);
    close(side[i][1]);
  }
  return NULL;
}

static int tee_start(void)
{
  T.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  if (T.listen_fd < 0 || bind(T.listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(T.listen_fd, 16) != 0 ||
      getsockname(T.listen_fd, (struct sockaddr *)&a, &alen) != 0 || pipe2(T.wake, O_CLOEXEC) != 0) {
    fprintf(stderr, "harness: cannot set up the relay before Prism: %s\n", strerror(errno));
    return -1;
  }
  T.port = ntohs(a.sin_port);
  if (pthread_create(&T.thread, NULL, tee_main, NULL) != 0)
    return -1;
  T.running = 1;
  return 0;
}

static void tee_stop(void)
{
  if (T.running) {
    if (write(T.wake[1], "x", 1) != 1)
      fprintf(stderr, "harness: cannot wake the relay\n");
    pthread_join(T.thread, NULL);
  }
  for (int i = 0; i < 2; i++)
    if (T.wake[i] >= 0)
      close(T.wake[i]);
  if (T.listen_fd >= 0)
    close(T.listen_fd);
  free(T.cap);
  T.cap = NULL;
  T.cap_len = 0;
  T.running = 0;
  T.listen_fd = T.wake[0] = T.wake[1] = -1;
}

static void tee_reset(void)
{
  pthread_mutex_lock(&T.mu);
  T.cap_len = 0;
  pthread_mutex_unlock(&T.mu);
}

/* The server's one answer since tee_reset(): its status and its body, as
 * sent (malloc'd, NUL-terminated). 0 when nothing, or not exactly one
 * complete answer, came through. */
static int tee_answer(long *status, char **body, size_t *len)
{
  pthread_mutex_lock(&T.mu);
  int ok = 0;
  const char *end = T.cap_len ? strstr(T.cap, "\r\n\r\n") : NULL;
  if (end && sscanf(T.cap, "HTTP/1.%*d %ld", status) == 1) {
    size_t head = (size_t)(end + 4 - T.cap), clen = 0;
    int has_len = 0;
    for (const char *h = strstr(T.cap, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n"))
      if (strncasecmp(h + 2, "content-length:", 15) == 0)
        has_len = sscanf(h + 17, " %zu", &clen) == 1;
    if (has_len && head + clen == T.cap_len) {
      *body = malloc(clen + 1);
      memcpy(*body, T.cap + head, clen);
      (*body)[clen] = '\0';
      *len = clen;
      ok = 1;
    }
  }
  pthread_mutex_unlock(&T.mu);
  return ok;
}

/* Fails the test with MSG; OUT is cleared first (the test's own clear is
 * skipped by the failure) and Prism's log is kept for a look. */
static void prism_fail(struct http_resp *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void prism_fail(struct http_resp *out, const char *fmt, ...)
{
  static char msg[16384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  http_resp_clear(out);
  P.failures++;
  fail_msg("%s", msg);
}

/* Prism's problem: its validation list, or its title and detail. */
static void prism_reason(const struct http_resp *r, char *out, size_t size)
{
  json_t *list = json_object_get(r->json, "validation");
  char *dump = list ? json_dumps(list, JSON_COMPACT) : NULL;
  snprintf(out, size, "%s: %s", jstr(r->json, "title") ? jstr(r->json, "title") : "?",
           dump ? dump : (jstr(r->json, "detail") ? jstr(r->json, "detail") : "?"));
  free(dump);
}

/* A request through Prism. Prism answers a request the contract forbids
 * with its own problem (4xx) and does not forward it: the same request then
 * goes to the server, which must refuse it too. A response the contract does
 * not describe comes back as Prism's 500 VIOLATIONS, or forwarded with an
 * sl-violations header when Prism rates it a warning (an undocumented
 * status): both fail the test. */
static long prism_exchange(struct http_resp *out, const char *method, const char *path, enum role who,
                           const char *body, size_t len, const char *const *headers)
{
  static char why[4096];
  tee_reset();
  long st = perform(out, P.base, method, path, who, body, len, "application/json", headers);
  if (st < 0)
    prism_fail(out, "contract: %s %s: no answer from Prism (its log: %s)", method, path, P.log_path);
  long server_st = 0;
  char *server_body = NULL;
  size_t server_len = 0;
  int forwarded = tee_answer(&server_st, &server_body, &server_len);
  const char *type = out->json ? jstr(out->json, "type") : NULL;
  if (strncmp(out->content_type, "application/problem+json", 24) == 0 && type &&
      strncmp(type, "urn:arcollect:problem:", 22) != 0) {
    free(server_body);
    prism_reason(out, why, sizeof why);
    if (st < 400 || st >= 500 || strstr(type, "#VIOLATIONS"))
      prism_fail(out, "contract: %s %s: Prism answered %ld %s: %s", method, path, st, type, why);
    if (forwarded) /* it did its work already: sending it again would do it twice */
      prism_fail(out, "contract: %s %s: Prism refused the request (%s) after the server had answered it", method,
                 path, why);
    P.refused++;
    long direct = perform(out, H.base, method, path, who, body, len, body ? "application/json" : NULL, headers);
    if (direct < 400)
      prism_fail(out,
                 "contract: %s %s: openapi.yaml forbids this request (Prism: %s) but the server accepted it "
                 "with %ld: %.2000s",
                 method, path, why, direct, out->body ? out->body : "");
    return direct;
  }
  if (P.violations) {
    free(server_body);
    prism_fail(out, "contract: %s %s -> %ld: Prism reports: %s", method, path, st, P.violations);
  }
  /* The test gets the server's own bytes; Prism only vouched for them. */
  if (forwarded && server_st == st) {
    free(out->body);
    out->body = server_body;
    out->body_len = server_len;
    json_decref(out->json);
    out->json = strstr(out->content_type, "json") ? json_loadb(server_body, server_len, 0, NULL) : NULL;
  } else {
    free(server_body);
  }
  P.checked++;
  return st;
}

static void discard_init(CURL *c, const char *url)
{
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "GET");
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
}

double now_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void sleep_ms(long ms)
{
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* A loopback port free at this moment (Prism binds it a moment later; if
 * another process wins the race, prism_start tries another). */
static unsigned loopback_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  unsigned port = 0;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

/* Prism in a process group of its own, killed with this program even when
 * it dies without its teardown (PR_SET_PDEATHSIG). */
static pid_t prism_spawn(const char *prism, const char *spec, unsigned port, int log_fd)
{
  char port_s[16], upstream[64];
  snprintf(port_s, sizeof port_s, "%u", port);
  snprintf(upstream, sizeof upstream, "http://127.0.0.1:%u", T.port);
  char *argv[] = {(char *)prism, "proxy", (char *)spec, upstream, "--errors", "--cors=false", "-v", "warn",
                  "-h", "127.0.0.1", "-p", port_s, NULL};
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    close_range(3, ~0U, 0); /* not the server's sockets nor the database's */
    execv(prism, argv);
    _exit(127);
  }
  if (pid > 0)
    setpgid(pid, pid);
  return pid;
}

static void prism_kill(void)
{
  if (P.pid <= 0)
    return;
  kill(-P.pid, SIGTERM);
  double end = now_s() + 5;
  while (waitpid(P.pid, NULL, WNOHANG) == 0) {
    if (now_s() > end) {
      kill(-P.pid, SIGKILL);
      waitpid(P.pid, NULL, 0);
      break;
    }
    usleep(20000);
  }
  kill(-P.pid, SIGKILL); /* whatever it started */
  P.pid = 0;
}

/* 0 when Prism answers through to the server; -1 when it exited, -2 when it
 * did not answer in time. */
static int prism_wait(unsigned port, double timeout_s)
{
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/healthz", port);
  double end = now_s() + timeout_s;
  while (now_s() < end) {
    if (waitpid(P.pid, NULL, WNOHANG) == P.pid) {
      P.pid = 0;
      return -1;
    }
    discard_init(H.curl, url);
    long code = 0;
    if (curl_easy_perform(H.curl) == CURLE_OK && curl_easy_getinfo(H.curl, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
        code == 200)
      return 0;
    usleep(100000);
  }
  return -2;
}

/* Starts `prism proxy SPEC SERVER --errors` on a free port. SPEC is the
 * document the server itself serves (ARC_TEST_PRISM_SPEC overrides it). */
static int prism_start(const char *prism)
{
  const char *spec_env = getenv("ARC_TEST_PRISM_SPEC");
  char spec[512];
  snprintf(spec, sizeof spec, "%s%s", spec_env && *spec_env ? spec_env : H.base,
           spec_env && *spec_env ? "" : "/openapi.json");
  snprintf(P.log_path, sizeof P.log_path, "/tmp/arc-prism-XXXXXX");
  int fd = mkstemp(P.log_path);
  if (fd < 0) {
    fprintf(stderr, "harness: cannot create Prism's log: %s\n", strerror(errno));
    return -1;
  }
  if (tee_start() != 0) {
    close(fd);
    return -1;
  }
  double t0 = now_s();
  int rc = -1;
  for (int attempt = 0; attempt < 3 && rc == -1; attempt++) {
    unsigned port = loopback_port();
    P.pid = prism_spawn(prism, spec, port, fd);
    if (P.pid < 0)
      break;
    rc = prism_wait(port, 180);
    if (rc == 0)
      snprintf(P.base, sizeof P.base, "http://127.0.0.1:%u", port);
    else
      prism_kill();
  }
  close(fd);
  if (rc != 0) {
    fprintf(stderr, "harness: Prism (%s) did not start; its output:\n", prism);
    FILE *f = fopen(P.log_path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
      fputs(line, stderr);
    if (f)
      fclose(f);
    return -1;
  }
  fprintf(stderr, "harness: Prism checks this program's requests on %s (started in %.1f s)\n", P.base, now_s() - t0);
  return 0;
}

static void prism_stop(void)
{
  if (P.pid > 0) {
    prism_kill();
    fprintf(stderr, "harness: Prism checked %lu exchanges; %lu refused by the contract (the server refused them too); "
                    "%lu sent straight to the server\n",
            P.checked, P.refused, P.direct);
  }
  tee_stop();
  if (P.log_path[0] && (P.failures || getenv("ARC_TEST_VERBOSE")))
    fprintf(stderr, "harness: Prism's log is %s\n", P.log_path);
  else if (P.log_path[0])
    unlink(P.log_path);
  free(P.violations);
  memset(&P, 0, sizeof P);
}

/* Exact bytes go straight to the server, even in contract mode: Prism
 * re-encodes what it forwards, so the bytes under test would not arrive. */
long http_raw(struct http_resp *out, const char *method, const char *path, enum role who, const char *body,
              size_t len, const char *content_type, const char *const *headers)
{
  if (P.pid > 0)
    P.direct++;
  return perform(out, H.base, method, path, who, body, len, content_type, headers);
}

long http(struct http_resp *out, const char *method, const char *path, enum role who, const char *body,
          const char *const *headers)
{
  size_t len = body ? strlen(body) : 0;
  if (P.pid > 0 && prism_carries(method, path, who, body, len, headers))
    return prism_exchange(out, method, path, who, body, len, headers);
  return http_raw(out, method, path, who, body, len, "application/json", headers);
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

void exec_ok(PGconn *c, const char *sql)
{
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
    fail_msg("%s: %s", sql, PQresultErrorMessage(r));
  PQclear(r);
}

PGconn *hold_sweep_lock(void)
{
  PGconn *c = PQconnectdb(getenv("DATABASE_URL"));
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  PGresult *r = PQexec(c, "BEGIN; SELECT pg_advisory_xact_lock(7250002)");
  assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
  PQclear(r);
  return c;
}

char *tables_fingerprint(const char *const *tables)
{
  char sql[4096];
  size_t n = (size_t)snprintf(sql, sizeof sql, "SELECT md5(''");
  for (const char *const *t = tables; *t && n < sizeof sql; t++)
    n += (size_t)snprintf(sql + n, sizeof sql - n,
                          " || '|%s:' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM %s t), '')", *t,
                          *t);
  assert_true(n + 2 < sizeof sql);
  snprintf(sql + n, sizeof sql - n, ")");
  char *digest = harness_sql("%s", sql);
  assert_non_null(digest);
  return digest;
}

void assert_refused(const char *const *tables, const char *method, const char *path, enum role who,
                    const char *body, const char *const *headers, long status, const char *slug, const char *field)
{
  char *before = tables_fingerprint(tables);
  struct http_resp r = {0};
  http(&r, method, path, who, body, headers);
  if (r.status != status)
    fail_msg("%s %s %s: expected %ld, got %ld: %s", method, path, body ? body : "", status, r.status,
             r.body ? r.body : "");
  assert_problem(&r, status, slug, field);
  http_resp_clear(&r);
  char *after = tables_fingerprint(tables);
  if (strcmp(before, after) != 0) {
    char names[512] = "";
    for (const char *const *t = tables; *t; t++)
      snprintf(names + strlen(names), sizeof names - strlen(names), " %s", *t);
    fail_msg("%s %s %s was refused but changed rows among:%s", method, path, body ? body : "", names);
  }
  free(before);
  free(after);
}

static int run_binary(const char *env, const char *args, const char *stderr_to, char *out, size_t size)
{
  const char *binary = getenv("ARC_TEST_BINARY");
  if (!binary || !*binary)
    fail_msg("ARC_TEST_BINARY is not set (tests/meson.build sets it to the arcollectd executable)");
  char cmd[4096];
  int n = snprintf(cmd, sizeof cmd, "%s%s'%s' %s %s", env ? env : "", env ? " " : "", binary, args, stderr_to);
  if (n < 0 || (size_t)n >= sizeof cmd)
    fail_msg("command too long: %s ... %s", env ? env : "", args);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t got = fread(out, 1, size - 1, p);
  out[got] = '\0';
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int harness_run_binary(const char *env, const char *args, char *out, size_t size)
{
  return run_binary(env, args, "2>/dev/null", out, size);
}

int harness_run_binary_all(const char *env, const char *args, char *out, size_t size)
{
  return run_binary(env, args, "2>&1", out, size);
}

pid_t harness_spawn_server(const char *binary, const char *const *extra, const char *stderr_path)
{
  extern char **environ;
  size_t n = 0, n_extra = 0;
  while (environ[n])
    n++;
  while (extra[n_extra])
    n_extra++;
  char **envp = calloc(n + n_extra + 1, sizeof *envp);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int overridden = 0;
    for (size_t j = 0; j < n_extra; j++) {
      size_t nl = (size_t)(strchr(extra[j], '=') - extra[j]) + 1;
      overridden |= strncmp(environ[i], extra[j], nl) == 0;
    }
    if (!overridden)
      envp[o++] = environ[i];
  }
  for (size_t j = 0; j < n_extra; j++)
    envp[o++] = (char *)extra[j];
  envp[o] = NULL;
  char *const argv[] = {(char *)binary, (char *)"serve", NULL};
  int fd = stderr_path ? open(stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0600) : -1;
  if (stderr_path)
    assert_true(fd >= 0);
  pid_t pid = fork();
  if (pid == 0) {
    if (fd >= 0)
      dup2(fd, STDERR_FILENO);
    execve(binary, argv, envp);
    _exit(127);
  }
  if (fd >= 0)
    close(fd);
  free(envp);
  return pid;
}

int harness_wait_exit(pid_t pid, double secs, int *status)
{
  double deadline = now_s() + secs;
  do {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid)
      return 0;
    sleep_ms(20);
  } while (now_s() < deadline);
  return -1;
}

long harness_get_status_as(const char *url, const char *authorization)
{
  CURL *c = curl_easy_init();
  discard_init(c, url);
  curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
  struct curl_slist *h = NULL;
  if (authorization) {
    char line[512];
    snprintf(line, sizeof line, "Authorization: %s", authorization);
    h = curl_slist_append(h, line);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  }
  long status = -1;
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  curl_slist_free_all(h);
  return status;
}

long harness_get_status(const char *url)
{
  return harness_get_status_as(url, NULL);
}

void assert_server_alive(void)
{
  char url[96];
  snprintf(url, sizeof url, "%s/healthz", H.base);
  CURL *c = curl_easy_init();
  discard_init(c, url);
  curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
  long code = 0;
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  if (code != 200)
    fail_msg("the server is not answering: GET /healthz on a new connection: %s, HTTP %ld",
             rc == CURLE_OK ? "answered" : curl_easy_strerror(rc), code);
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

void date_plus(char out[16], const char *date, int days)
{
  char *d = harness_sql("SELECT to_char('%s'::date + %d, 'YYYY-MM-DD')", date, days);
  snprintf(out, 16, "%s", d);
  free(d);
}

void instant_at(char out[40], const char *date, int days, const char *hhmm)
{
  char *t = harness_sql("SELECT arc_ts(('%s'::date + %d + '%s'::time) AT TIME ZONE '%s')", date, days, hhmm, tz());
  snprintf(out, 40, "%s", t);
  free(t);
}

int recorded_now(const char *ts)
{
  if (!ts || !ts_shape_ok(ts))
    return 0;
  return harness_sql_int("SELECT count(*) FROM (SELECT '%s'::timestamptz AS t) x "
                         "WHERE x.t BETWEEN now() - interval '10 minutes' AND now()", ts) == 1;
}

const char *const swept_tables[] = {"follow_ups", "escalations", "promises", "payment_plans",
                                    "payment_plan_installments", "invoices", "worklist_order", NULL};

void sweep_full_changes_nothing(const char *when, const char *as_of)
{
  char *before[16], body[128];
  size_t n = 0;
  for (; swept_tables[n]; n++)
    before[n] = tables_fingerprint((const char *const[]){swept_tables[n], NULL});
  long long events = harness_sql_int("SELECT count(*) FROM events");
  snprintf(body, sizeof body, "{\"full\": true, \"as_of\": \"%s\"}", as_of);
  struct http_resp r = {0};
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  char changed[256] = "";
  for (size_t i = 0; i < n; i++) {
    char *after = tables_fingerprint((const char *const[]){swept_tables[i], NULL});
    if (strcmp(before[i], after) != 0)
      snprintf(changed + strlen(changed), sizeof changed - strlen(changed), " %s", swept_tables[i]);
    free(before[i]);
    free(after);
  }
  long long new_events = harness_sql_int("SELECT count(*) FROM events") - events;
  if (*changed || new_events != 0) {
    char *created = json_dumps(json_object_get(r.json, "created"), JSON_COMPACT);
    char *closed = json_dumps(json_object_get(r.json, "closed"), JSON_COMPACT);
    char *rows = harness_sql("SELECT string_agg(format('customer %%s %%s %%s', f.customer_id, f.reason, f.cause_key), "
                             "'; ') FROM follow_ups f WHERE f.run_id = %s", jstr(r.json, "id"));
    char msg[2048];
    snprintf(msg, sizeof msg, "%s: a full sweep for %s after it changed%s and wrote %lld events (created %s: %s; closed %s)",
             when, as_of, *changed ? changed : " no row", new_events, created, rows ? rows : "none", closed);
    free(created);
    free(closed);
    free(rows);
    http_resp_clear(&r);
    fail_msg("%s", msg);
  }
  http_resp_clear(&r);
}

json_t *sweep_at_doc(const char *date, int days)
{
  char as_of[40], body[96];
  instant_at(as_of, date, days, "09:00");
  const char *mode = getenv("ARC_TEST_SWEEPS");
  int full = mode && strcmp(mode, "full") == 0, checked = mode && strcmp(mode, "checked") == 0;
  snprintf(body, sizeof body, "{\"as_of\": \"%s\"%s}", as_of, full ? ", \"full\": true" : "");
  struct http_resp r = {0};
  http(&r, "POST", "/v1/scheduler/runs", ROLE_ADMIN, body, NULL);
  assert_status(&r, 201);
  json_t *doc = json_incref(r.json);
  http_resp_clear(&r);
  if (checked) {
    char when[96];
    snprintf(when, sizeof when, "the %s sweep", jstr(doc, "kind"));
    sweep_full_changes_nothing(when, as_of);
  }
  return doc;
}

void sweep_at(const char *date, int days)
{
  json_decref(sweep_at_doc(date, days));
}

void sweep_days(const char *date, int first, int last)
{
  for (int d = first; d <= last; d++)
    sweep_at(date, d);
}

void sql_customer(char out[32], const char *name)
{
  char *id = harness_sql("INSERT INTO customers (name) VALUES ('%s') RETURNING id", name);
  assert_non_null(id);
  snprintf(out, 32, "%s", id);
  free(id);
}

long long balance_of(const char *invoice)
{
  return harness_sql_int("SELECT balance FROM invoices WHERE id = %s", invoice);
}

long long count_adjustments(const char *invoice)
{
  return harness_sql_int("SELECT count(*) FROM invoice_adjustments WHERE invoice_id = %s", invoice);
}

static char *story_dup(const char *cus, const char *reason, const char *day0)
{
  char d0[96];
  if (day0)
    snprintf(d0, sizeof d0, "'%s'::date", day0);
  else
    snprintf(d0, sizeof d0, "(now() AT TIME ZONE '%s')::date", tz());
  char *s = harness_sql(
      "SELECT coalesce(string_agg(concat_ws(':', f.status, f.due_on - %s, f.closed_reason) "
      "|| CASE WHEN f.held_by IS NOT NULL "
      "        THEN format(' %%s %%s..%%s', f.held_by, f.held_from - %s, f.held_until - %s) ELSE '' END, "
      "' ' ORDER BY f.id), '') FROM follow_ups f WHERE f.customer_id = %s AND f.reason = '%s'",
      d0, d0, d0, cus, reason);
  return s ? s : strdup("");
}

void follow_up_story(char *out, size_t size, const char *cus, const char *reason, const char *day0)
{
  char *s = story_dup(cus, reason, day0);
  snprintf(out, size, "%s", s);
  free(s);
}

void expect_story(const char *when, const char *cus, const char *reason, const char *day0, const char *want)
{
  char *got = story_dup(cus, reason, day0);
  if (strcmp(got, want) != 0)
    fail_msg("%s: %s follow-ups of customer %s: expected \"%s\", got \"%s\"", when, reason, cus, want, got);
  free(got);
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

void create_id(char out[32], const char *path, const char *body)
{
  json_t *j = create_ok(path, body);
  snprintf(out, 32, "%s", jstr(j, "id"));
  json_decref(j);
}

json_t *import_wait(const char *id)
{
  for (int i = 0; i < 6000; i++) {
    struct http_resp r = {0};
    httpf(&r, "GET", ROLE_VIEWER, NULL, "/v1/imports/%s", id);
    assert_status(&r, 200);
    const char *st = jstr(r.json, "status");
    if (strcmp(st, "queued") != 0 && strcmp(st, "running") != 0) {
      json_t *doc = json_incref(r.json);
      http_resp_clear(&r);
      return doc;
    }
    http_resp_clear(&r);
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fail_msg("import %s did not finish in 60 s", id);
  return NULL;
}

int ts_shape_ok(const char *s)
{
  return s && strlen(s) == 27 && s[4] == '-' && s[10] == 'T' && s[19] == '.' && s[26] == 'Z';
}

unsigned free_port(void)
{
  unsigned port = loopback_port();
  assert_true(port != 0);
  return port;
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

/* F with its defaults filled in; the dates go to ISSUED and DUE. */
static struct invoice_fields invoice_defaults(const struct invoice_fields *f, char number[32], char issued[16],
                                              char due[16])
{
  static int seq;
  struct invoice_fields d = *f;
  assert_non_null(d.customer);
  if (!d.number) {
    snprintf(number, 32, "INV-%d", ++seq);
    d.number = number;
  }
  if (!d.currency)
    d.currency = "USD";
  if (!d.amount)
    d.amount = 10000;
  int relative = d.issued_in || d.due_in;
  if (!d.issued_on) {
    if (d.from)
      date_plus(issued, d.from, d.issued_in);
    else if (relative)
      day(issued, d.issued_in);
    else
      snprintf(issued, 16, "2025-01-01");
    d.issued_on = issued;
  }
  if (!d.due_on) {
    if (d.from)
      date_plus(due, d.from, d.due_in);
    else if (relative)
      day(due, d.due_in);
    else
      snprintf(due, 16, "2025-02-01");
    d.due_on = due;
  }
  return d;
}

void invoice_create(char out[32], const struct invoice_fields *f)
{
  char number[32], issued[16], due[16], body[512];
  struct invoice_fields d = invoice_defaults(f, number, issued, due);
  snprintf(body, sizeof body,
           "{\"customer_id\": \"%s\", \"number\": \"%s\", \"currency\": \"%s\", \"amount\": %lld, "
           "\"issued_on\": \"%s\", \"due_on\": \"%s\"%s%s}",
           d.customer, d.number, d.currency, d.amount, d.issued_on, d.due_on, d.extra ? ", " : "",
           d.extra ? d.extra : "");
  json_t *j = create_ok("/v1/invoices", body);
  snprintf(out, 32, "%s", jstr(j, "id"));
  json_decref(j);
}

void invoice_insert(char out[32], const struct invoice_fields *f)
{
  char number[32], issued[16], due[16];
  struct invoice_fields d = invoice_defaults(f, number, issued, due);
  if (d.extra)
    fail_msg("sql_invoice writes the columns it knows; extra (%s) is for new_invoice", d.extra);
  char *id = harness_sql("INSERT INTO invoices (customer_id, number, currency, original_amount, amount, balance, "
                         "issued_on, due_on) VALUES (%s, '%s', '%s', %lld, %lld, %lld, '%s', '%s') RETURNING id",
                         d.customer, d.number, d.currency, d.amount, d.amount, d.amount, d.issued_on, d.due_on);
  assert_non_null(id);
  snprintf(out, 32, "%s", id);
  free(id);
}

void expect_json(const json_t *doc, const char *key, const char *want)
{
  char *got = json_dumps(json_object_get(doc, key), JSON_COMPACT | JSON_ENCODE_ANY);
  if (!got || strcmp(got, want) != 0)
    fail_msg("%s: expected %s, got %s", key, want, got ? got : "(none)");
  free(got);
}

void fill_template(char *out, size_t size, const char *tmpl, const char *value)
{
  const char *hole = strstr(tmpl, "%s");
  if (!hole)
    snprintf(out, size, "%s", tmpl);
  else
    snprintf(out, size, "%.*s%s%s", (int)(hole - tmpl), tmpl, value, hole + 2);
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

static size_t racer_discard(char *p, size_t size, size_t n, void *ud)
{
  (void)p;
  (void)ud;
  return size * n;
}

void *racer_run(void *arg)
{
  struct racer *rc = arg;
  CURL *c = curl_easy_init();
  char auth[256];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok(rc->who));
  struct curl_slist *h = curl_slist_append(NULL, auth);
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, "Expect:");
  if (rc->header)
    h = curl_slist_append(h, rc->header);
  curl_easy_setopt(c, CURLOPT_URL, rc->url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rc->method ? rc->method : "POST");
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, rc->body);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, racer_discard);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rc->status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  atomic_store(&rc->done, 1);
  return NULL;
}

void run_racers(struct racer *rc, size_t n)
{
  pthread_t th[16];
  assert_true(n <= sizeof th / sizeof th[0]);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(pthread_create(&th[i], NULL, racer_run, &rc[i]), 0);
  for (size_t i = 0; i < n; i++)
    pthread_join(th[i], NULL);
}

int same_document(const json_t *a, const json_t *b)
{
  json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
  if (json_is_object(x) && json_is_object(y)) {
    json_object_del(x, "customer_local_time");
    json_object_del(y, "customer_local_time");
  }
  int same = json_equal(x, y);
  json_decref(x);
  json_decref(y);
  return same;
}

int resp_header(const struct http_resp *r, const char *name, char *out, size_t size)
{
  size_t nl = strlen(name);
  for (const char *line = r->headers; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
      header_copy(out, size, line + nl + 1, len - nl - 1);
      return 1;
    }
    line += len + (end ? 1 : 0);
  }
  out[0] = '\0';
  return 0;
}

/* Waits until N server sessions wait for a lock (at most 20 s). */
void wait_for_lock_waiters(long long n)
{
  for (int i = 0; i < 2000; i++) {
    /* The harness's session may be inside the test's open transaction, where
     * pg_stat_activity is read once and then kept: read it afresh. */
    free(harness_sql("SELECT pg_stat_clear_snapshot()"));
    if (harness_sql_int("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
                        "datname = current_database()") >= n)
      return;
    sleep_ms(10);
  }
  fail_msg("%lld requests never waited for the lock", n);
}
