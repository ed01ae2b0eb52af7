/* API key storage (src/auth/api_keys_repo.c). */
#ifndef ARC_API_KEYS_H
#define ARC_API_KEYS_H

#include "arc/auth.h"
#include "arc/db.h"

/* Creates a key with ROLE, optional NAME, ACTOR and CREATED_BY; fills KEY
 * with the token to show once.  Returns the inserted doc row, or NULL. */
PGresult *api_keys_insert(struct db *db, enum role role, const char *name, const char *actor,
                          const char *created_by, struct api_key_material *key);

#endif
