/* Webhooks: subscriptions (src/integrate/webhooks.c, webhooks_repo.c) and
 * the delivery thread that POSTs the event feed to them, signed the
 * Standard Webhooks way (src/integrate/delivery.c).  The outbox and its
 * rules are in src/integrate/webhooks.sql and delivery.sql. */
#ifndef ARC_WEBHOOKS_H
#define ARC_WEBHOOKS_H

#include <stddef.h>

struct config;

#define WEBHOOK_SECRET_PREFIX "whsec_"
#define WEBHOOK_SECRET_BYTES 32
/* "whsec_" + base64 of WEBHOOK_SECRET_BYTES + NUL, with room to spare. */
#define WEBHOOK_SECRET_SIZE 64
#define WEBHOOK_URL_MAX 2000
/* "v1," + base64 of a SHA-256 (44) + NUL. */
#define WEBHOOK_SIGNATURE_SIZE 48

/* Fills OUT with a new secret from the OpenSSL CSPRNG: "whsec_<base64>".
 * Returns 0, or -1 when no random bytes could be had. */
int webhook_secret_new(char out[WEBHOOK_SECRET_SIZE]);

/* The Standard Webhooks signature of one message: "v1," followed by
 * base64(HMAC-SHA256(key, "<msg_id>.<timestamp>.<body>")), the key being
 * the base64-decoded part of SECRET after "whsec_".  Returns 0, or -1 when
 * SECRET is not of that form. */
int webhook_sign(const char *secret, const char *msg_id, long long timestamp, const char *body, size_t body_len,
                 char out[WEBHOOK_SIGNATURE_SIZE]);

/* Why URL cannot be a webhook endpoint (an absolute http or https URL with
 * a host, at most WEBHOOK_URL_MAX characters), or NULL when it can. */
const char *webhook_url_problem(const char *url);

/* The delivery thread of arcollectd serve; NULL (and no thread) when
 * ARC_WEBHOOK_INTERVAL_MS is 0. */
struct delivery;
struct delivery *delivery_start(const struct config *cfg);
/* Stops within a fraction of a second: POSTs still running are abandoned
 * and their deliveries made due again, so the next start sends them. */
void delivery_stop(struct delivery *d);

#endif
