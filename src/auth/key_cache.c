/* Verified API keys, remembered briefly so that a request in the steady
 * state makes one database round trip (its own), not two.
 *
 * Each worker thread keeps its own small table (no locks on the hot path).
 * An entry holds what the database said of a key id: the SHA-256 of its
 * secret, its role and actor.  It is trusted for at most the configured
 * time (ARC_AUTH_CACHE_MS, at most 1000), counted from before the query
 * was sent, so a key revoked anywhere stops working on every instance
 * within that time.  A presented secret is always compared with the stored
 * hash: a remembered key id never lets another secret through.  A
 * revocation made by this process forgets every entry at once (a global
 * generation that entries must match). */
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "arc/auth.h"

#define SLOTS 64 /* per thread; keys in use at once are few */

struct entry {
  char key_id[AUTH_KEY_ID_LEN + 1]; /* "" = empty */
  unsigned char secret_hash[32];
  enum role role;
  char actor[sizeof(((struct principal *)0)->actor)];
  long long fetched_ms; /* monotonic, taken before the query */
  unsigned generation;
};

static _Thread_local struct entry table[SLOTS];
static atomic_uint generation = 1;
static atomic_uint ttl_ms; /* 0 = off */

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct auth_cache_ticket auth_cache_ticket(void)
{
  return (struct auth_cache_ticket){.fetched_ms = now_ms(), .generation = atomic_load(&generation)};
}

void auth_cache_configure(unsigned ms)
{
  atomic_store(&ttl_ms, ms > AUTH_CACHE_MAX_MS ? AUTH_CACHE_MAX_MS : ms);
}

void auth_cache_forget_all(void)
{
  atomic_fetch_add(&generation, 1);
}

static struct entry *slot(const char *key_id)
{
  unsigned h = 2166136261u; /* FNV-1a: key ids are random already, this only spreads them */
  for (const char *p = key_id; *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  return &table[h % SLOTS];
}

enum auth_cache_result auth_cache_lookup(const char *key_id, const unsigned char presented[32],
                                         struct principal *who)
{
  unsigned ttl = atomic_load(&ttl_ms);
  if (ttl == 0)
    return AUTH_CACHE_MISS;
  struct entry *e = slot(key_id);
  if (strcmp(e->key_id, key_id) != 0 || e->generation != atomic_load(&generation) ||
      now_ms() - e->fetched_ms >= (long long)ttl)
    return AUTH_CACHE_MISS;
  if (CRYPTO_memcmp(e->secret_hash, presented, sizeof e->secret_hash) != 0)
    return AUTH_CACHE_WRONG_SECRET;
  memcpy(who->key_id, e->key_id, sizeof who->key_id);
  who->role = e->role;
  memcpy(who->actor, e->actor, sizeof who->actor);
  return AUTH_CACHE_HIT;
}

void auth_cache_store(const struct principal *who, const unsigned char secret_hash[32],
                      struct auth_cache_ticket ticket)
{
  if (atomic_load(&ttl_ms) == 0)
    return;
  struct entry *e = slot(who->key_id);
  memcpy(e->key_id, who->key_id, sizeof e->key_id);
  memcpy(e->secret_hash, secret_hash, sizeof e->secret_hash);
  e->role = who->role;
  memcpy(e->actor, who->actor, sizeof e->actor);
  e->fetched_ms = ticket.fetched_ms;
  e->generation = ticket.generation;
}

void auth_cache_forget(const char *key_id)
{
  struct entry *e = slot(key_id);
  if (strcmp(e->key_id, key_id) == 0)
    e->key_id[0] = '\0';
}
