/* API keys and roles. */
#ifndef ARC_AUTH_H
#define ARC_AUTH_H

#include <stddef.h>

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

#endif
