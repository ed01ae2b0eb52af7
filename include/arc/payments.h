/* Pieces the payment handlers share (src/ledger/payments.c, reversals.c). */
#ifndef ARC_PAYMENTS_H
#define ARC_PAYMENTS_H

#include "arc/db.h"
#include "arc/http.h"

/* Inside a write transaction: locks payment ID and checks the request's
 * If-Match against its version.  Returns 0 when the caller may go on;
 * otherwise the status of the reply it made (404, 412, or a database
 * problem). */
unsigned payments_lock_checked(struct db *db, const struct request *rq, const char *id, struct reply *rp);

#endif
