/* GET /openapi.json: the contract, embedded at build time. */
#include <stdlib.h>
#include <string.h>

#include "arc/handlers.h"

extern const char arc_openapi_json[];
extern const size_t arc_openapi_json_len;

unsigned openapi_get(struct request *rq, struct reply *rp)
{
  (void)rq;
  char *copy = malloc(arc_openapi_json_len + 1);
  memcpy(copy, arc_openapi_json, arc_openapi_json_len + 1);
  return reply_text(rp, 200, copy);
}
