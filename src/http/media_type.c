/* Content-Type and Content-Encoding of a request body (include/arc/media_type.h).
 * A media type is type/subtype, then parameters "; name=value" (RFC 9110
 * 8.3.1), names and the type in any case, values perhaps quoted. */
#include <string.h>
#include <strings.h>

#include "arc/media_type.h"

static int is_ows(char c) { return c == ' ' || c == '\t'; }

static int equals_ci(const char *s, size_t len, const char *word)
{
  return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

/* S[*I..LEN) past optional whitespace. */
static void skip_ows(const char *s, size_t len, size_t *i)
{
  while (*i < len && is_ows(s[*i]))
    (*i)++;
}

const char *media_type_refusal(enum http_method method, const char *type, size_t len)
{
  static const char *const not_json = "send the body as Content-Type: application/json";
  if (!type)
    return not_json;
  size_t i = 0;
  skip_ows(type, len, &i);
  size_t start = i;
  while (i < len && type[i] != ';' && !is_ows(type[i]))
    i++;
  const char *mt = type + start;
  size_t mt_len = i - start;
  if (equals_ci(mt, mt_len, "application/merge-patch+json")) {
    if (method != HTTP_PATCH)
      return "application/merge-patch+json is for PATCH: send this body as application/json";
  } else if (!equals_ci(mt, mt_len, "application/json")) {
    return not_json;
  }
  /* Parameters: only a charset is looked at, and it must be UTF-8 (RFC 8259:
   * JSON exchanged between systems is UTF-8). */
  for (;;) {
    skip_ows(type, len, &i);
    if (i == len)
      return NULL;
    if (type[i] != ';')
      return "Content-Type is not a media type followed by \"; name=value\" parameters";
    i++;
    skip_ows(type, len, &i);
    if (i == len)
      return NULL; /* a trailing ";" */
    size_t name = i;
    while (i < len && type[i] != '=' && type[i] != ';' && !is_ows(type[i]))
      i++;
    size_t name_len = i - name;
    if (i == len || type[i] != '=')
      return "Content-Type is not a media type followed by \"; name=value\" parameters";
    i++;
    size_t value = i, value_len;
    if (i < len && type[i] == '"') {
      value = ++i;
      while (i < len && type[i] != '"')
        i += type[i] == '\\' && i + 1 < len ? 2 : 1;
      if (i >= len)
        return "Content-Type has a quoted parameter value without its closing quote";
      value_len = i - value;
      i++;
    } else {
      while (i < len && type[i] != ';' && !is_ows(type[i]))
        i++;
      value_len = i - value;
    }
    if (equals_ci(type + name, name_len, "charset") && !equals_ci(type + value, value_len, "utf-8") &&
        !equals_ci(type + value, value_len, "utf8"))
      return "the body must be UTF-8: send charset=utf-8, or no charset";
  }
}

const char *content_encoding_refusal(const char *enc, size_t len)
{
  if (!enc)
    return NULL;
  size_t i = 0, end = len;
  skip_ows(enc, len, &i);
  while (end > i && is_ows(enc[end - 1]))
    end--;
  if (equals_ci(enc + i, end - i, "identity"))
    return NULL;
  return "Content-Encoding is not supported: send the body uncompressed";
}
