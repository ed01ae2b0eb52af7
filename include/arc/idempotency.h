/* Idempotency-Key on POST (Stripe; draft-ietf-httpapi-idempotency-key-header).
 * The first committed response to a key is stored in the transaction that
 * did the work and replayed, with Idempotent-Replayed: true, for a repeat of
 * the same request by the same API key within 24 hours.  The server creates
 * the state (server.c), the transaction runner claims and stores (tx.c);
 * handlers know nothing of it.  Table: migrations/0008_idempotency.sql. */
#ifndef ARC_IDEMPOTENCY_H
#define ARC_IDEMPOTENCY_H

#include <stddef.h>

#include "arc/auth.h"
#include "arc/db.h"

struct reply;

#define IDEMPOTENCY_KEY_MAX 255

enum idempotency_state {
  IDEMPOTENCY_NEW,      /* not yet answered from or stored under the key */
  IDEMPOTENCY_CLAIMED,  /* this request's transaction holds the key row */
  IDEMPOTENCY_STORED,   /* the response committed with the work */
  IDEMPOTENCY_REPLAYED, /* answered with the stored response */
};

/* One POST's key and the fingerprint of its request. */
struct idempotency {
  char key[IDEMPOTENCY_KEY_MAX + 1];
  char api_key_id[AUTH_KEY_ID_LEN + 1];
  char method[8];
  char *path;
  char body_sha256[65];        /* hex, set once the body is complete */
  unsigned char seal_key[32];  /* seals stored bodies; derived from the bearer secret */
  char row_id[24];             /* the key row claimed by the running transaction */
  enum idempotency_state state;
};

/* NULL when the LEN bytes of KEY are a valid Idempotency-Key (1-255 visible
 * ASCII characters), else what is wrong with it. */
const char *idempotency_key_problem(const char *key, size_t len);

/* For a POST carrying Idempotency-Key: validates KEY (400 bad-request naming
 * the header when invalid: returns the status, *OUT stays NULL) and makes
 * the request's state in *OUT (0; free with idempotency_free).  WHO is the
 * authenticated caller, AUTHORIZATION the header that authenticated it. */
unsigned idempotency_new(struct idempotency **out, const char *key, size_t key_len, const struct principal *who,
                         const char *authorization, size_t auth_len, const char *method, const char *path,
                         struct reply *rp);
void idempotency_free(struct idempotency *im);

/* Records the complete request body (LEN may be 0). */
void idempotency_set_body(struct idempotency *im, const char *body, size_t len);

/* Before the handler runs: when a response to this key is stored, fills RP
 * with it (or with 422 idempotency-key-reused when this request differs) and
 * returns the status; 0 when the request is to be processed.  Also answers
 * 503 when the database is down. */
unsigned idempotency_replay(struct db *db, struct idempotency *im, struct reply *rp);

/* The transaction runner's part; each does nothing when db->idem is NULL.
 * After BEGIN: claims the key row (waiting for a concurrent transaction that
 * holds it).  Returns 0 to go on with the work; otherwise RP holds the answer:
 * a replay (status < 400, *REPLAYED set: roll back, nothing to do), 422 for a
 * different request, 409 while the first request is still running. */
unsigned idempotency_tx_claim(struct db *db, struct reply *rp, int *replayed);
/* Before COMMIT of a successful unit of work: stores RP's response with the
 * claimed row (RP's JSON becomes its serialised text, so the bytes sent are
 * the bytes stored).  A failure sets db->failed. */
void idempotency_tx_store(struct db *db, unsigned status, struct reply *rp);
/* After COMMIT: the response is stored; expired keys are purged now and
 * then (at most once a minute per process). */
void idempotency_tx_committed(struct db *db);

/* After the handler: logs a POST that answered with success although its
 * key was neither stored nor replayed (a handler that bypassed db_run_tx). */
void idempotency_request_done(const struct idempotency *im, unsigned status, const char *route);

/* Deletes up to a batch of expired keys now.  Returns the number deleted,
 * or -1 on a database error. */
long idempotency_purge(struct db *db);

#endif
