/* API keys: generation, token parsing, and the per-request check.
 * A token is "arc_<16 hex key id>_<43 base64url secret>"; the database keeps
 * only SHA-256(secret), compared in constant time. */
#include <ctype.h>
#include <pthread.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "arc/auth.h"
#include "arc/db.h"

/* Unpadded base64url of the secret: the only length a real token has. */
#define SECRET_CHARS ((AUTH_SECRET_BYTES * 4 + 2) / 3)

static const char *const role_names[] = {"admin", "manager", "collector", "viewer", "integration"};

const char *role_name(enum role r)
{
  for (size_t i = 0; i < 5; i++)
    if (r == (enum role)(1 << i))
      return role_names[i];
  return "none";
}

enum role role_parse(const char *s)
{
  for (size_t i = 0; i < 5; i++)
    if (strcmp(s, role_names[i]) == 0)
      return (enum role)(1 << i);
  return ROLE_NONE;
}

static int random_bytes(unsigned char *buf, size_t n)
{
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(buf + got, n - got, 0);
    if (r <= 0)
      return -1;
    got += (size_t)r;
  }
  return 0;
}

/* Every request hashes its secret: the digest is fetched from OpenSSL's
 * providers once (EVP_sha256() looks it up on each use) and each thread
 * keeps its context. */
static EVP_MD *sha256_md;
static void sha256_fetch(void) { sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

static void sha256(const char *data, size_t len, unsigned char out[32])
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  static _Thread_local EVP_MD_CTX *ctx;
  pthread_once(&once, sha256_fetch);
  unsigned int n = 0;
  if (!ctx)
    ctx = EVP_MD_CTX_new();
  if (!sha256_md || !ctx || !EVP_DigestInit_ex2(ctx, sha256_md, NULL) || !EVP_DigestUpdate(ctx, data, len) ||
      !EVP_DigestFinal_ex(ctx, out, &n))
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

int auth_key_generate(struct api_key_material *out)
{
  unsigned char id[AUTH_KEY_ID_LEN / 2], secret[AUTH_SECRET_BYTES];
  if (random_bytes(id, sizeof id) || random_bytes(secret, sizeof secret))
    return -1;
  for (size_t i = 0; i < sizeof id; i++)
    snprintf(out->key_id + 2 * i, 3, "%02x", id[i]);
  /* base64url without padding, from OpenSSL's base64. */
  unsigned char b64[64];
  int n = EVP_EncodeBlock(b64, secret, sizeof secret);
  while (n > 0 && b64[n - 1] == '=')
    n--;
  b64[n] = '\0';
  for (int i = 0; i < n; i++)
    b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
  snprintf(out->token, sizeof out->token, "arc_%s_%s", out->key_id, (char *)b64);
  sha256((const char *)b64, (size_t)n, out->secret_hash);
  return 0;
}

int auth_token_parse(const char *token, size_t len, char key_id[AUTH_KEY_ID_LEN + 1],
                     unsigned char secret_hash[32])
{
  if (len != 4 + AUTH_KEY_ID_LEN + 1 + SECRET_CHARS || memcmp(token, "arc_", 4) != 0 ||
      token[4 + AUTH_KEY_ID_LEN] != '_')
    return -1;
  for (size_t i = 0; i < AUTH_KEY_ID_LEN; i++) {
    char c = token[4 + i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return -1;
    key_id[i] = c;
  }
  key_id[AUTH_KEY_ID_LEN] = '\0';
  const char *secret = token + 4 + AUTH_KEY_ID_LEN + 1;
  size_t slen = len - (4 + AUTH_KEY_ID_LEN + 1);
  for (size_t i = 0; i < slen; i++)
    if (!isalnum((unsigned char)secret[i]) && secret[i] != '-' && secret[i] != '_')
      return -1;
  sha256(secret, slen, secret_hash);
  return 0;
}

static int unhex(const char *hex, unsigned char *out, size_t n)
{
  if (strlen(hex) != 2 * n)
    return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1)
      return -1;
    out[i] = (unsigned char)v;
  }
  return 0;
}

enum auth_result auth_check(struct db *db, const char *authorization, size_t len, struct principal *who)
{
  memset(who, 0, sizeof *who);
  if (!authorization || len == 0)
    return AUTH_MISSING;
  if (len < 7 || strncasecmp(authorization, "Bearer ", 7) != 0)
    return AUTH_BAD;
  const char *token = authorization + 7;
  size_t tlen = len - 7;
  while (tlen && *token == ' ') {
    token++;
    tlen--;
  }
  while (tlen && token[tlen - 1] == ' ')
    tlen--;
  char key_id[AUTH_KEY_ID_LEN + 1];
  unsigned char presented[32], stored[32];
  if (auth_token_parse(token, tlen, key_id, presented) != 0)
    return AUTH_BAD;
  switch (auth_cache_lookup(key_id, presented, who)) {
  case AUTH_CACHE_HIT:
    return AUTH_OK;
  case AUTH_CACHE_WRONG_SECRET:
    memset(who, 0, sizeof *who);
    return AUTH_BAD;
  case AUTH_CACHE_MISS:
    break;
  }
  if (!db_ready(db))
    return AUTH_DB_DOWN;
  struct auth_cache_ticket ticket = auth_cache_ticket();
  const char *params[] = {key_id};
  PGresult *r;
  enum db_status st = db_exec_one(db, "api_keys_select_for_auth", 1, params, &r);
  if (st < 0 && !db->healthy) {
    /* The connection died while idle (a database restart): reconnect and
     * ask once more.  Safe to repeat, it only reads. */
    db = db_thread();
    if (db_ready(db))
      st = db_exec_one(db, "api_keys_select_for_auth", 1, params, &r);
  }
  if (st < 0)
    return AUTH_DB_DOWN;
  if (st == DB_NONE) {
    auth_cache_forget(key_id);
    return AUTH_BAD;
  }
  int ok = unhex(PQgetvalue(r, 0, 2), stored, sizeof stored) == 0 &&
           CRYPTO_memcmp(stored, presented, sizeof stored) == 0;
  if (ok) {
    memcpy(who->key_id, key_id, sizeof who->key_id);
    who->role = role_parse(PQgetvalue(r, 0, 0));
    if (PQgetisnull(r, 0, 1))
      snprintf(who->actor, sizeof who->actor, "key:%s", key_id);
    else
      snprintf(who->actor, sizeof who->actor, "%s", PQgetvalue(r, 0, 1));
    if (who->role != ROLE_NONE)
      auth_cache_store(who, stored, ticket);
  }
  PQclear(r);
  return ok && who->role != ROLE_NONE ? AUTH_OK : AUTH_BAD;
}
