/* Each ISO 4217 currency's decimals, from ICU (the data of CLDR, kept by
 * the library that every platform uses for this), into currency_decimals
 * (migrations/0019_currency_decimals.sql): one statement, run by every
 * migrate, that changes only what differs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ucurr.h>
#include <unicode/uenum.h>
#include <unicode/ustring.h>

#include "arc/currencies.h"

int currencies_store(PGconn *c)
{
  UErrorCode st = U_ZERO_ERROR;
  UEnumeration *all = ucurr_openISOCurrencies(UCURR_COMMON | UCURR_NON_DEPRECATED, &st);
  if (U_FAILURE(st)) {
    fprintf(stderr, "arcollectd: ICU lists no currencies: %s\n", u_errorName(st));
    return -1;
  }
  /* Two array literals, "{USD,JPY,...}" and "{2,0,...}". */
  size_t cap = 4096, clen = 0, dlen = 0;
  char *codes = malloc(cap), *digits = malloc(cap);
  int rc = -1;
  if (!codes || !digits)
    goto out;
  codes[clen++] = '{';
  digits[dlen++] = '{';
  const char *code;
  int32_t len;
  while ((code = uenum_next(all, &len, &st)) != NULL && U_SUCCESS(st)) {
    if (len != 3)
      continue;
    UChar u[4];
    u_charsToUChars(code, u, 3);
    u[3] = 0;
    int32_t d = ucurr_getDefaultFractionDigits(u, &st);
    if (U_FAILURE(st) || d < 0 || d > 4) {
      st = U_ZERO_ERROR;
      continue;
    }
    if (clen + 8 >= cap || dlen + 4 >= cap) {
      cap *= 2;
      char *a = realloc(codes, cap), *b = a ? realloc(digits, cap) : NULL;
      if (a)
        codes = a;
      if (!a || !b)
        goto out;
      digits = b;
    }
    clen += (size_t)snprintf(codes + clen, cap - clen, "%s%.3s", clen > 1 ? "," : "", code);
    dlen += (size_t)snprintf(digits + dlen, cap - dlen, "%s%d", dlen > 1 ? "," : "", (int)d);
  }
  if (U_FAILURE(st))
    goto out;
  codes[clen++] = '}';
  codes[clen] = '\0';
  digits[dlen++] = '}';
  digits[dlen] = '\0';
  const char *params[] = {codes, digits};
  PGresult *r = PQexecParams(c,
                             "INSERT INTO currency_decimals AS d (code, decimals) "
                             "SELECT * FROM unnest($1::text[], $2::smallint[]) "
                             "ON CONFLICT (code) DO UPDATE SET decimals = excluded.decimals "
                             "WHERE d.decimals <> excluded.decimals",
                             2, NULL, params, NULL, NULL, 0);
  rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
  if (rc)
    fprintf(stderr, "arcollectd migrate: currency_decimals: %s", PQresultErrorMessage(r));
  PQclear(r);
out:
  free(codes);
  free(digits);
  uenum_close(all);
  return rc;
}
