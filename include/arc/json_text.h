/* JSON text written by hand where building a JSON value would cost more
 * than the work around it (documents from result rows, the access log). */
#ifndef ARC_JSON_TEXT_H
#define ARC_JSON_TEXT_H

#include <stddef.h>

/* The most json_text_string writes for N bytes: \u00XX each, and quotes. */
#define JSON_TEXT_STRING_MAX(n) (6 * (size_t)(n) + 2)

/* The N bytes at S as a JSON string at OUT, escaped as PostgreSQL's
 * escape_json escapes (so documents read the same whichever side wrote
 * them): '"' and '\' by a backslash, the control characters by their short
 * names or \u00XX, everything else (UTF-8 included) as it is.  Returns the
 * bytes written (no NUL). */
size_t json_text_string(char *out, const char *s, size_t n);

#endif
