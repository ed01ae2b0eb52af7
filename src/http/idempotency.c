/* Idempotency-Key on POST: one row per (API key, key) in idempotency_keys.
 *
 *   server, before the handler   a committed row for the key → replay it (or
 *                                422 when the request differs); no work.
 *   db_run_tx, after BEGIN       claim the row (INSERT … ON CONFLICT): a
 *                                concurrent holder makes us wait for its
 *                                COMMIT (→ replay its answer) or ROLLBACK
 *                                (→ we claim and do the work).
 *   db_run_tx, before COMMIT     store status, headers and body in the row.
 *
 * Only committed responses exist: a request that failed (>= 400) rolled back
 * its claim too, so the client may retry it, corrected or not.  Stored bodies
 * are sealed with a key derived from the caller's bearer secret (see
 * migrations/0008_idempotency.sql for why). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "arc/http.h"
#include "arc/idempotency.h"
#include "arc/log.h"
#include "arc/problem.h"
#include "arc/statements.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define PURGE_EVERY_S 60
#define PURGE_BATCH 1000
#define TEXT_(x) #x
#define TEXT(x) TEXT_(x)

const struct db_stmt idempotency_stmts[] = {
    /* $1 API key id, $2 key.  A committed, unexpired response. */
    {"idempotency_select",
     "SELECT method, path, encode(body_sha256, 'hex'), status, is_problem, headers::text, encode(body, 'hex') "
     "FROM idempotency_keys WHERE api_key_id = $1 AND idempotency_key = $2 AND status IS NOT NULL "
     "AND created_at >= now() - arc_idempotency_ttl()"},
    /* $1 API key id, $2 key, $3 method, $4 path, $5 body SHA-256 (hex).  A
     * row only when this transaction now holds the key: new, or taken over
     * from an expired row.  A live row held by a running transaction makes
     * this wait for it (lock_timeout bounds the wait). */
    {"idempotency_claim",
     "INSERT INTO idempotency_keys (api_key_id, idempotency_key, method, path, body_sha256) "
     "VALUES ($1, $2, $3, $4, decode($5, 'hex')) "
     "ON CONFLICT (api_key_id, idempotency_key) DO UPDATE SET method = excluded.method, path = excluded.path, "
     "body_sha256 = excluded.body_sha256, status = NULL, is_problem = false, headers = '[]', body = NULL, "
     "created_at = now() "
     "WHERE idempotency_keys.created_at < now() - arc_idempotency_ttl() RETURNING id"},
    /* $1 row id, $2 status, $3 is_problem, $4 headers (JSON), $5 sealed body (hex or NULL). */
    {"idempotency_store",
     "UPDATE idempotency_keys SET status = $2::integer, is_problem = $3::boolean, headers = $4::jsonb, "
     "body = decode($5, 'hex') WHERE id = $1::bigint"},
    /* The oldest expired rows, a batch at a time; rows another purge is
     * deleting are skipped rather than waited for. */
    {"idempotency_purge",
     "DELETE FROM idempotency_keys WHERE id IN (SELECT id FROM idempotency_keys "
     "WHERE created_at < now() - arc_idempotency_ttl() ORDER BY created_at "
     "LIMIT " TEXT(PURGE_BATCH) " FOR UPDATE SKIP LOCKED)"},
    {NULL, NULL},
};

const char *idempotency_key_problem(const char *key, size_t len)
{
  if (len == 0)
    return "must not be empty";
  if (len > IDEMPOTENCY_KEY_MAX)
    return "must be at most 255 characters";
  for (size_t i = 0; i < len; i++)
    if (key[i] < '!' || key[i] > '~')
      return "must be visible ASCII characters only (no spaces or control characters)";
  return NULL;
}

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * len] = '\0';
}

static int hex_value(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decodes lower-case hex; NULL on malformed input. */
static unsigned char *hex_decode(const char *in, size_t *len)
{
  size_t n = strlen(in);
  if (n % 2)
    return NULL;
  unsigned char *out = malloc(n / 2 + 1);
  if (!out)
    return NULL;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      free(out);
      return NULL;
    }
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  *len = n / 2;
  return out;
}

/* The bearer token inside an Authorization value that auth_check accepted. */
static void bearer_token(const char *authorization, size_t len, const char **token, size_t *tlen)
{
  const char *t = authorization + 7; /* "Bearer " */
  size_t n = len - 7;
  while (n && *t == ' ') {
    t++;
    n--;
  }
  while (n && t[n - 1] == ' ')
    n--;
  *token = t;
  *tlen = n;
}

unsigned idempotency_new(struct idempotency **out, const char *key, size_t key_len, const struct principal *who,
                         const char *authorization, size_t auth_len, const char *method, const char *path,
                         struct reply *rp)
{
  *out = NULL;
  const char *why = idempotency_key_problem(key, key_len);
  if (why) {
    reply_problemf(rp, PROBLEM_BAD_REQUEST, "Idempotency-Key %s", why);
    json_object_set_new(rp->json, "errors",
                        json_pack("[{s:s, s:s}]", "field", "Idempotency-Key", "message", why));
    return rp->status;
  }
  struct idempotency *im = calloc(1, sizeof *im);
  if (!im || !(im->path = strdup(path)) || !authorization || auth_len < 7) {
    idempotency_free(im);
    return reply_problem(rp, PROBLEM_INTERNAL, "cannot keep the Idempotency-Key");
  }
  memcpy(im->key, key, key_len);
  im->key[key_len] = '\0';
  snprintf(im->api_key_id, sizeof im->api_key_id, "%s", who->key_id);
  snprintf(im->method, sizeof im->method, "%s", method);
  /* The seal key needs the caller's secret, which only the caller and this
   * request hold: a stored body is readable to its own API key only. */
  const char *token;
  size_t tlen;
  bearer_token(authorization, auth_len, &token, &tlen);
  char msg[64 + AUTH_KEY_ID_LEN + IDEMPOTENCY_KEY_MAX];
  int mlen = snprintf(msg, sizeof msg, "arcollect idempotency v1\n%s\n%s", im->api_key_id, im->key);
  unsigned int dlen = 0;
  if (!HMAC(EVP_sha256(), token, (int)tlen, (const unsigned char *)msg, (size_t)mlen, im->seal_key, &dlen) ||
      dlen != sizeof im->seal_key) {
    idempotency_free(im);
    return reply_problem(rp, PROBLEM_INTERNAL, "cannot keep the Idempotency-Key");
  }
  *out = im;
  return 0;
}

void idempotency_free(struct idempotency *im)
{
  if (!im)
    return;
  free(im->path);
  OPENSSL_cleanse(im->seal_key, sizeof im->seal_key);
  free(im);
}

void idempotency_set_body(struct idempotency *im, const char *body, size_t len)
{
  unsigned char md[32];
  unsigned int n = 0;
  if (EVP_Digest(body ? body : "", len, md, &n, EVP_sha256(), NULL) != 1 || n != sizeof md)
    memset(md, 0, sizeof md); /* never matches a stored hash of real bytes */
  hex_encode(md, sizeof md, im->body_sha256);
}

/* AES-256-GCM: nonce || ciphertext || tag, as hex for a text parameter. */
static char *seal_hex(const unsigned char key[32], const char *plain, size_t len)
{
  size_t total = NONCE_LEN + len + TAG_LEN;
  unsigned char *buf = malloc(total);
  char *hex = malloc(2 * total + 1);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n = 0, fin = 0;
  int ok = buf && hex && ctx && len <= (size_t)INT32_MAX &&
           getrandom(buf, NONCE_LEN, 0) == NONCE_LEN &&
           EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
           EVP_EncryptUpdate(ctx, buf + NONCE_LEN, &n, (const unsigned char *)plain, (int)len) == 1 &&
           EVP_EncryptFinal_ex(ctx, buf + NONCE_LEN + n, &fin) == 1 &&
           (size_t)(n + fin) == len &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, buf + NONCE_LEN + len) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (ok)
    hex_encode(buf, total, hex);
  free(buf);
  if (!ok) {
    free(hex);
    return NULL;
  }
  return hex;
}

/* The plain text of a sealed body (NUL-terminated), or NULL when it does not
 * open with KEY (another secret, or altered bytes). */
static char *open_hex(const unsigned char key[32], const char *hex)
{
  size_t total;
  unsigned char *buf = hex_decode(hex, &total);
  if (!buf || total < NONCE_LEN + TAG_LEN) {
    free(buf);
    return NULL;
  }
  size_t len = total - NONCE_LEN - TAG_LEN;
  char *plain = malloc(len + 1);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n = 0, fin = 0;
  int ok = plain && ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
           EVP_DecryptUpdate(ctx, (unsigned char *)plain, &n, buf + NONCE_LEN, (int)len) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, buf + NONCE_LEN + len) == 1 &&
           EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + n, &fin) == 1 && (size_t)(n + fin) == len;
  EVP_CIPHER_CTX_free(ctx);
  free(buf);
  if (!ok) {
    free(plain);
    return NULL;
  }
  plain[len] = '\0';
  return plain;
}

/* Answers from a row of idempotency_select: the stored response when this
 * request is the one that made it, else 422 naming the header. */
static unsigned answer_from_row(struct idempotency *im, PGresult *r, struct reply *rp)
{
  const char *why = NULL;
  if (strcmp(PQgetvalue(r, 0, 0), im->method) != 0 || strcmp(PQgetvalue(r, 0, 1), im->path) != 0)
    why = "was first used for another operation";
  else if (strcmp(PQgetvalue(r, 0, 2), im->body_sha256) != 0)
    why = "was first used with a different request body";
  if (why) {
    reply_problemf(rp, PROBLEM_IDEMPOTENCY_KEY_REUSED,
                   "this Idempotency-Key %s (%s %.200s); use a new key for a new request", why,
                   PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
    json_object_set_new(rp->json, "errors",
                        json_pack("[{s:s, s:s}]", "field", "Idempotency-Key", "message", why));
    return rp->status;
  }
  char *body = NULL;
  if (!PQgetisnull(r, 0, 6) && !(body = open_hex(im->seal_key, PQgetvalue(r, 0, 6)))) {
    log_error("idempotency: the stored response for key row of %s does not open", im->api_key_id);
    return reply_problem(rp, PROBLEM_INTERNAL, "the stored response cannot be replayed");
  }
  json_t *headers = json_loads(PQgetvalue(r, 0, 5), 0, NULL);
  reply_clear(rp);
  reply_text(rp, (unsigned)atoi(PQgetvalue(r, 0, 3)), body);
  rp->is_problem = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
  size_t i;
  json_t *h;
  json_array_foreach(headers, i, h)
  {
    const char *name = json_string_value(json_array_get(h, 0));
    const char *value = json_string_value(json_array_get(h, 1));
    if (name && value)
      reply_header(rp, name, value);
  }
  json_decref(headers);
  reply_header(rp, "Idempotent-Replayed", "true");
  im->state = IDEMPOTENCY_REPLAYED;
  return rp->status;
}

unsigned idempotency_replay(struct db *db, struct idempotency *im, struct reply *rp)
{
  if (!db_ready(db))
    return db_error_reply(db, rp);
  const char *params[] = {im->api_key_id, im->key};
  PGresult *r;
  enum db_status st = db_exec_one(db, "idempotency_select", 2, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  unsigned status = st == DB_ONE ? answer_from_row(im, r, rp) : 0;
  PQclear(r);
  return status;
}

unsigned idempotency_tx_claim(struct db *db, struct reply *rp, int *replayed)
{
  struct idempotency *im = db->idem;
  *replayed = 0;
  if (!im || im->state == IDEMPOTENCY_STORED || im->state == IDEMPOTENCY_REPLAYED)
    return 0;
  const char *params[] = {im->api_key_id, im->key, im->method, im->path, im->body_sha256};
  PGresult *r;
  enum db_status st = db_exec_one(db, "idempotency_claim", 5, params, &r);
  if (st < 0) {
    if (strcmp(db->err.sqlstate, "55P03") == 0) {
      /* lock_timeout: the first request with this key is still running. */
      reply_problem(rp, PROBLEM_IDEMPOTENCY_KEY_IN_USE,
                    "a request with this Idempotency-Key is still being processed; retry shortly");
      json_object_set_new(rp->json, "errors",
                          json_pack("[{s:s, s:s}]", "field", "Idempotency-Key", "message",
                                    "is in use by a request still running"));
      reply_header(rp, "Retry-After", "1");
      return rp->status;
    }
    return db_error_reply(db, rp);
  }
  if (st == DB_ONE) {
    snprintf(im->row_id, sizeof im->row_id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    im->state = IDEMPOTENCY_CLAIMED;
    return 0;
  }
  PQclear(r);
  /* Another transaction committed this key while we waited (or just before). */
  st = db_exec_one(db, "idempotency_select", 2, params, &r);
  if (st < 0)
    return db_error_reply(db, rp);
  unsigned status;
  if (st == DB_ONE) {
    status = answer_from_row(im, r, rp);
    *replayed = im->state == IDEMPOTENCY_REPLAYED;
  } else {
    status = reply_problem(rp, PROBLEM_IDEMPOTENCY_KEY_IN_USE,
                           "a request with this Idempotency-Key is still being processed; retry shortly");
    reply_header(rp, "Retry-After", "1");
  }
  PQclear(r);
  return status;
}

void idempotency_tx_store(struct db *db, unsigned status, struct reply *rp)
{
  struct idempotency *im = db->idem;
  if (!im || im->state != IDEMPOTENCY_CLAIMED || status < 100 || status >= 400)
    return;
  /* Serialise once: the stored bytes are the bytes sent, now and on replay. */
  if (rp->json) {
    char *text = json_dumps(rp->json, JSON_COMPACT);
    if (!text) {
      reply_problem(rp, PROBLEM_INTERNAL, "cannot serialise the response");
      db->failed = 1;
      return;
    }
    int is_problem = rp->is_problem;
    reply_text(rp, status, text);
    rp->is_problem = is_problem;
  }
  char *sealed = NULL;
  if (rp->text && !(sealed = seal_hex(im->seal_key, rp->text, rp->text_len))) {
    reply_problem(rp, PROBLEM_INTERNAL, "cannot store the response for the Idempotency-Key");
    db->failed = 1;
    return;
  }
  json_t *headers = json_array();
  for (size_t i = 0; i < rp->n_headers; i++)
    json_array_append_new(headers, json_pack("[s, s]", rp->headers[i].name, rp->headers[i].value));
  char *headers_text = json_dumps(headers, JSON_COMPACT);
  json_decref(headers);
  char status_text[8];
  snprintf(status_text, sizeof status_text, "%u", status);
  const char *params[] = {im->row_id, status_text, rp->is_problem ? "true" : "false", headers_text, sealed};
  PQclear(db_exec(db, "idempotency_store", 5, params));
  free(headers_text);
  free(sealed);
}

static atomic_llong next_purge_s;

void idempotency_tx_committed(struct db *db)
{
  struct idempotency *im = db->idem;
  if (!im || im->state != IDEMPOTENCY_CLAIMED)
    return;
  im->state = IDEMPOTENCY_STORED;
  /* Expired keys are already ignored by every lookup; deleting them only
   * keeps the table small, so one worker of the process deletes a bounded
   * batch once a minute, or at once again while it finds full batches (so
   * the purge keeps pace with a busy client). */
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long due = atomic_load(&next_purge_s);
  if (now.tv_sec < due || !atomic_compare_exchange_strong(&next_purge_s, &due, now.tv_sec + PURGE_EVERY_S))
    return;
  int failed = db->failed;
  struct db_error saved = db->err;
  long n = idempotency_purge(db);
  if (n < 0)
    log_error("idempotency: purging expired keys failed (SQLSTATE %s)", db->err.sqlstate);
  else if (n == PURGE_BATCH)
    atomic_store(&next_purge_s, now.tv_sec);
  db->failed = failed;
  db->err = saved;
}

long idempotency_purge(struct db *db)
{
  PGresult *r = db_exec(db, "idempotency_purge", 0, NULL);
  if (!r)
    return -1;
  long n = atol(PQcmdTuples(r));
  PQclear(r);
  return n;
}

void idempotency_request_done(const struct idempotency *im, unsigned status, const char *route)
{
  if (im && status < 400 && im->state != IDEMPOTENCY_STORED && im->state != IDEMPOTENCY_REPLAYED)
    log_error("POST %s answered %u without storing its Idempotency-Key: its handler does not write through "
              "db_run_tx",
              route, status);
}
