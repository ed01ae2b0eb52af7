/* A webhook receiver for the tests, as a subscriber's endpoint would be: a
 * libmicrohttpd server on loopback in the test's process that records every
 * request (its Standard Webhooks headers and body) and answers as its
 * routes say, 200 by default; and the Standard Webhooks signature check a
 * receiver makes, written with OpenSSL alone (not with the server's code). */
#ifndef ARC_TEST_RECEIVER_H
#define ARC_TEST_RECEIVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Daemon;

#define RX_MAX_HITS 2048
#define RX_MAX_ROUTES 24

/* One request the receiver got. */
struct hit {
  char path[64], id[64], ts[32], sig[256], ctype[64], agent[64]; /* id, ts, sig: webhook-id, -timestamp, -signature */
  char *body;
  size_t len;
  double at; /* now_s() on arrival */
  int status; /* what the receiver answered */
};

/* How PATH answers: PLAN[0..nplan) for the first requests, then OTHERWISE;
 * the next request after rx_set(..., DELAY_ONCE_MS) waits that long. */
struct rx_route {
  char path[64];
  int plan[8];
  size_t nplan, used;
  int otherwise;
  int delay_once_ms;
};

/* Define one as  static struct receiver rx = {.mu = PTHREAD_MUTEX_INITIALIZER}; */
struct receiver {
  struct MHD_Daemon *daemon;
  uint16_t port;
  pthread_mutex_t mu;
  struct hit hits[RX_MAX_HITS];
  size_t n;
  struct rx_route routes[RX_MAX_ROUTES];
  size_t nroutes;
};

/* Starts RX on loopback PORT (0: any free one; RX->port says which, to
 * start it again on the same after rx_stop). 0, or -1 when it cannot. */
int rx_start(struct receiver *rx, uint16_t port);
/* Stops it; what it got stays until rx_free_hits. */
void rx_stop(struct receiver *rx);
void rx_free_hits(struct receiver *rx);

/* PATH answers PLAN (a -1 terminated list, or NULL) then OTHERWISE. */
void rx_route(struct receiver *rx, const char *path, const int *plan, int otherwise);
/* PATH's routes answer OTHERWISE from now on, the next request after DELAY_ONCE_MS. */
void rx_set(struct receiver *rx, const char *path, int otherwise, int delay_once_ms);
/* "http://127.0.0.1:<port>PATH". */
void rx_url(const struct receiver *rx, const char *path, char *out, size_t size);

/* A copy of the hits at PATH (all when NULL), in arrival order; the caller
 * frees the array (bodies are borrowed: hits are freed only by rx_free_hits). */
size_t rx_hits(struct receiver *rx, const char *path, struct hit **out);
/* Hits at PATH (NULL: any) whose body is an event of TYPE (NULL: any)
 * about RESOURCE_ID (NULL: any); FIRST, when not NULL, gets the first of
 * them (its body borrowed) when there is one. */
size_t rx_find(struct receiver *rx, const char *path, const char *type, const char *resource_id, struct hit *first);
size_t rx_count(struct receiver *rx, const char *path, const char *type, const char *resource_id);
/* Waits (30 s at most, then fails the test) until rx_count reaches N;
 * returns the first of those hits. */
struct hit rx_wait(struct receiver *rx, const char *path, const char *type, const char *resource_id, size_t n);

/* What a receiver checks: "v1," + base64(HMAC-SHA256(the secret's bytes
 * after "whsec_", "<webhook-id>.<webhook-timestamp>.<body>")) is one of
 * the space-separated signatures of H's webhook-signature. */
int signature_valid(const char *secret, const struct hit *h);

#endif
