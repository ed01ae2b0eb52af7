/* Currencies' decimals from ICU into the database (src/util/currencies.c). */
#ifndef ARC_CURRENCIES_H
#define ARC_CURRENCIES_H

#include <libpq-fe.h>

/* Writes every ISO 4217 currency's decimals into currency_decimals.
 * Returns 0, or -1 after printing why to stderr. */
int currencies_store(PGconn *c);

#endif
