/* Whether a request body may be read as JSON, from its Content-Type and
 * Content-Encoding headers (src/http/media_type.c). */
#ifndef ARC_MEDIA_TYPE_H
#define ARC_MEDIA_TYPE_H

#include <stddef.h>

#include "arc/http.h"

/* NULL when a body sent by METHOD with Content-Type TYPE (NULL: absent) may
 * be read as JSON: application/json, or application/merge-patch+json for
 * PATCH, with no charset but UTF-8.  Otherwise why not, for the 415. */
const char *media_type_refusal(enum http_method method, const char *type, size_t len);
/* NULL when a body with Content-Encoding ENC (NULL: absent) is readable as
 * sent: none, or identity.  Otherwise why not, for the 415. */
const char *content_encoding_refusal(const char *enc, size_t len);

#endif
