/* libFuzzer: the bearer token of an Authorization header
 * ("arc_<key id>_<secret>"), split and its secret hashed. */
#include <stdint.h>
#include <string.h>

#include "arc/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char key_id[AUTH_KEY_ID_LEN + 1];
  unsigned char hash[32];
  if (auth_token_parse((const char *)data, size, key_id, hash) == 0 && strlen(key_id) != AUTH_KEY_ID_LEN)
    __builtin_trap(); /* a parsed token has a whole key id */
  return 0;
}
