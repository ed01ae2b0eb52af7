/* libFuzzer: the request headers the server reads itself: Idempotency-Key,
 * If-Match, Content-Type and Content-Encoding, and Origin against an
 * ARC_CORS_ORIGINS list (the list itself parsed from the input too). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arc/cors.h"
#include "arc/http.h"
#include "arc/idempotency.h"
#include "arc/media_type.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *v = (const char *)data;
  (void)idempotency_key_problem(v, size);
  (void)if_match_well_formed(v, size);
  static const enum http_method methods[] = {HTTP_POST, HTTP_PUT, HTTP_PATCH};
  for (size_t i = 0; i < 3; i++)
    (void)media_type_refusal(methods[i], v, size);
  (void)content_encoding_refusal(v, size);

  /* Before the first newline: an ARC_CORS_ORIGINS list; after: an Origin. */
  const char *nl = memchr(v, '\n', size);
  size_t list_len = nl ? (size_t)(nl - v) : size;
  char *list = malloc(list_len + 1);
  memcpy(list, v, list_len);
  list[list_len] = '\0';
  struct cors c;
  char why[256];
  if (cors_parse(list, &c, why, sizeof why) == 0) {
    const char *origin = nl ? nl + 1 : "https://app.example.com";
    size_t olen = nl ? size - list_len - 1 : strlen(origin);
    const char *ok = cors_allowed(&c, origin, olen);
    if (ok && (strlen(ok) != olen || memcmp(ok, origin, olen) != 0))
      __builtin_trap(); /* an allowed origin is echoed exactly */
    cors_free(&c);
  }
  free(list);
  return 0;
}
