/* Pieces of request validation shared by promises (src/work/promises.c)
 * and the call logs that carry a promise (src/work/call_logs.c). */
#ifndef ARC_PROMISES_H
#define ARC_PROMISES_H

#include <jansson.h>

#include "arc/problem.h"

/* The most invoices one call log or promise may name (each is checked,
 * and a promise locks them). */
#define WORK_INVOICE_IDS_MAX 100

/* jspec check: an array of distinct invoice ids ("12"), at most
 * WORK_INVOICE_IDS_MAX; errors name FIELD[i]. */
void promises_check_invoice_ids(const json_t *v, const char *field, struct field_errors *fe);

/* jspec check: the promise nested in a call log, {amount, promised_on,
 * currency, method, invoice_ids}; errors name FIELD.amount and so on. */
void promises_check_nested(const json_t *v, const char *field, struct field_errors *fe);

#endif
