/* libFuzzer: a query string split into arguments as libmicrohttpd splits
 * it ('&', then the first '='), each name and value percent-decoded with
 * '+' as a space, as the server's query_iter decodes them; and the bytes
 * as one path segment (no '+' rule). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arc/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *)data;
  free(percent_decode(s, size, 0));
  size_t start = 0;
  for (size_t i = 0; i <= size; i++) {
    if (i < size && s[i] != '&')
      continue;
    const char *arg = s + start;
    size_t len = i - start;
    const char *eq = memchr(arg, '=', len);
    size_t name_len = eq ? (size_t)(eq - arg) : len;
    char *name = percent_decode(arg, name_len, 1);
    char *value = eq ? percent_decode(eq + 1, len - name_len - 1, 1) : NULL;
    if (name && value && strlen(value) > len)
      abort(); /* decoding never lengthens */
    free(name);
    free(value);
    start = i + 1;
  }
  return 0;
}
