/* libFuzzer: a request's method and path through the router (route table,
 * per-segment percent-decoding), as the server's first call does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arc/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  /* The first byte picks the method; the rest is the path as MHD hands it
   * over (a C string: it stops at a NUL). */
  static const enum http_method methods[] = {HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE, HTTP_HEAD};
  enum http_method m = methods[data[0] % (sizeof methods / sizeof methods[0])];
  char *path = malloc(size);
  memcpy(path, data + 1, size - 1);
  path[size - 1] = '\0';
  struct route_match match;
  memset(&match, 0, sizeof match);
  enum router_result r = router_match(arc_routes, arc_routes_count, m, path, &match);
  if (r == ROUTER_FOUND)
    route_match_clear(&match);
  char allow[128];
  router_allow_header(match.allowed, allow, sizeof allow);
  free(path);
  return 0;
}
