/* API keys and roles. */
#ifndef ARC_AUTH_H
#define ARC_AUTH_H

#include <stddef.h>
#include <string.h>

struct db;

enum role {
  ROLE_NONE = 0,
  ROLE_ADMIN = 1 << 0,
  ROLE_MANAGER = 1 << 1,
  ROLE_COLLECTOR = 1 << 2,
  ROLE_VIEWER = 1 << 3,
  ROLE_INTEGRATION = 1 << 4,
};

#define ROLES_ALL (ROLE_ADMIN | ROLE_MANAGER | ROLE_COLLECTOR | ROLE_VIEWER | ROLE_INTEGRATION)
/* Writers of ledger data: people who run the books and the systems that sync them. */
#define ROLES_LEDGER_WRITE (ROLE_ADMIN | ROLE_MANAGER | ROLE_INTEGRATION)

#define AUTH_KEY_ID_LEN 16   /* hex characters of the public key id */
#define AUTH_SECRET_BYTES 32

/* Who made a request: filled by auth_check, empty for public routes. */
struct principal {
  char key_id[AUTH_KEY_ID_LEN + 1];
  enum role role;
  char actor[256]; /* the key's actor handle, or "key:<id>" when it has none */
};

/* Whether the key names a person or system (its actor), not just itself. */
static inline int principal_has_actor(const struct principal *p)
{
  return p->actor[0] && strncmp(p->actor, "key:", 4) != 0;
}

const char *role_name(enum role r);
/* The role named S (exact, lower case), or ROLE_NONE. */
enum role role_parse(const char *s);

/* A freshly generated key: "arc_<key_id>_<secret>" and its parts. */
struct api_key_material {
  char key_id[AUTH_KEY_ID_LEN + 1];
  char token[4 + AUTH_KEY_ID_LEN + 1 + 64];
  unsigned char secret_hash[32];
};

/* Generates a key from the system's CSPRNG.  Returns 0 on success. */
int auth_key_generate(struct api_key_material *out);

/* Splits "arc_<key_id>_<secret>" and hashes the secret.  Returns 0 when the
 * token has that shape; the key id and hash are then set. */
int auth_token_parse(const char *token, size_t len, char key_id[AUTH_KEY_ID_LEN + 1],
                     unsigned char secret_hash[32]);

enum auth_result { AUTH_OK, AUTH_MISSING, AUTH_BAD, AUTH_DB_DOWN };

/* Checks an Authorization header value (may be NULL) against the stored keys
 * and fills WHO.  Reads the database through DB. */
enum auth_result auth_check(struct db *db, const char *authorization, size_t len,
                            struct principal *who);

/* Verified keys remembered per worker thread (src/auth/key_cache.c), so a
 * request makes one round trip.  An entry is trusted for at most TTL_MS
 * (0 = never remembered; capped at AUTH_CACHE_MAX_MS): a key revoked on any
 * instance stops working everywhere within it. */
#define AUTH_CACHE_MAX_MS 1000u
void auth_cache_configure(unsigned ttl_ms);

enum auth_cache_result { AUTH_CACHE_MISS, AUTH_CACHE_HIT, AUTH_CACHE_WRONG_SECRET };

/* When and in which generation a database answer was asked for: taken
 * before the query, so an answer older than a revocation is never trusted
 * past it. */
struct auth_cache_ticket {
  long long fetched_ms;
  unsigned generation;
};
struct auth_cache_ticket auth_cache_ticket(void);

/* HIT fills WHO; WRONG_SECRET: the key id is known and the secret is not
 * its secret. */
enum auth_cache_result auth_cache_lookup(const char *key_id, const unsigned char presented[32],
                                         struct principal *who);
void auth_cache_store(const struct principal *who, const unsigned char secret_hash[32],
                      struct auth_cache_ticket ticket);
/* This thread forgets KEY_ID (the database no longer knows it as active). */
void auth_cache_forget(const char *key_id);
/* Every thread forgets every key (one was revoked by this process). */
void auth_cache_forget_all(void);

#endif
