/* A webhook receiver for the tests (see receiver.h). */
#include "receiver.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define WAIT_S 30.0 /* the event feed waits for the cluster's oldest transaction: be patient */

struct upload {
  char *buf;
  size_t len;
};

static void header_copy(struct MHD_Connection *c, const char *name, char *out, size_t size)
{
  const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
  snprintf(out, size, "%s", v ? v : "");
}

/* Records the request and answers as its route says. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
  (void)method;
  (void)version;
  struct receiver *rx = cls;
  struct upload *u = *con_cls;
  if (!u) {
    *con_cls = calloc(1, sizeof *u);
    return *con_cls ? MHD_YES : MHD_NO;
  }
  if (*upload_size) {
    char *grown = realloc(u->buf, u->len + *upload_size + 1);
    if (!grown)
      return MHD_NO;
    u->buf = grown;
    memcpy(u->buf + u->len, upload, *upload_size);
    u->len += *upload_size;
    u->buf[u->len] = '\0';
    *upload_size = 0;
    return MHD_YES;
  }
  int status = 200, delay = 0;
  pthread_mutex_lock(&rx->mu);
  for (size_t i = 0; i < rx->nroutes; i++) {
    struct rx_route *rt = &rx->routes[i];
    if (strcmp(rt->path, url) != 0)
      continue;
    status = rt->used < rt->nplan ? rt->plan[rt->used++] : rt->otherwise;
    delay = rt->delay_once_ms;
    rt->delay_once_ms = 0;
  }
  if (rx->n < RX_MAX_HITS) {
    struct hit *h = &rx->hits[rx->n++];
    snprintf(h->path, sizeof h->path, "%s", url);
    header_copy(c, "webhook-id", h->id, sizeof h->id);
    header_copy(c, "webhook-timestamp", h->ts, sizeof h->ts);
    header_copy(c, "webhook-signature", h->sig, sizeof h->sig);
    header_copy(c, "Content-Type", h->ctype, sizeof h->ctype);
    header_copy(c, "User-Agent", h->agent, sizeof h->agent);
    h->body = u->buf ? strndup(u->buf, u->len) : strdup("");
    h->len = u->len;
    h->at = now_s();
    h->status = status;
  }
  pthread_mutex_unlock(&rx->mu);
  if (delay)
    sleep_ms(delay);
  char text[64];
  snprintf(text, sizeof text, "answered %d\n", status);
  struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_COPY);
  enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)c;
  (void)toe;
  struct upload *u = *con_cls;
  if (u) {
    free(u->buf);
    free(u);
  }
  *con_cls = NULL;
}

int rx_start(struct receiver *rx, uint16_t port)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  rx->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, port, NULL, NULL,
                                on_request, rx, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_LISTENING_ADDRESS_REUSE,
                                (unsigned)1, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
  if (!rx->daemon)
    return -1;
  rx->port = MHD_get_daemon_info(rx->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
  return 0;
}

void rx_stop(struct receiver *rx)
{
  if (rx->daemon)
    MHD_stop_daemon(rx->daemon);
  rx->daemon = NULL;
}

void rx_free_hits(struct receiver *rx)
{
  for (size_t i = 0; i < rx->n; i++)
    free(rx->hits[i].body);
  rx->n = 0;
}

void rx_route(struct receiver *rx, const char *path, const int *plan, int otherwise)
{
  pthread_mutex_lock(&rx->mu);
  assert_true(rx->nroutes < RX_MAX_ROUTES);
  struct rx_route *rt = &rx->routes[rx->nroutes++];
  memset(rt, 0, sizeof *rt);
  snprintf(rt->path, sizeof rt->path, "%s", path);
  for (size_t i = 0; plan && plan[i] >= 0 && i < 8; i++)
    rt->plan[rt->nplan++] = plan[i];
  rt->otherwise = otherwise;
  pthread_mutex_unlock(&rx->mu);
}

void rx_set(struct receiver *rx, const char *path, int otherwise, int delay_once_ms)
{
  pthread_mutex_lock(&rx->mu);
  for (size_t i = 0; i < rx->nroutes; i++)
    if (strcmp(rx->routes[i].path, path) == 0) {
      rx->routes[i].otherwise = otherwise;
      rx->routes[i].delay_once_ms = delay_once_ms;
    }
  pthread_mutex_unlock(&rx->mu);
}

void rx_url(const struct receiver *rx, const char *path, char *out, size_t size)
{
  snprintf(out, size, "http://127.0.0.1:%u%s", (unsigned)rx->port, path);
}

size_t rx_hits(struct receiver *rx, const char *path, struct hit **out)
{
  pthread_mutex_lock(&rx->mu);
  *out = calloc(rx->n + 1, sizeof **out);
  size_t k = 0;
  for (size_t i = 0; i < rx->n; i++)
    if (!path || strcmp(rx->hits[i].path, path) == 0)
      (*out)[k++] = rx->hits[i];
  pthread_mutex_unlock(&rx->mu);
  return k;
}

size_t rx_find(struct receiver *rx, const char *path, const char *type, const char *resource_id, struct hit *first)
{
  struct hit *hs;
  size_t n = rx_hits(rx, path, &hs), found = 0;
  for (size_t i = 0; i < n; i++) {
    json_t *b = json_loadb(hs[i].body, hs[i].len, 0, NULL);
    if ((!type || (jstr(b, "type") && strcmp(jstr(b, "type"), type) == 0)) &&
        (!resource_id || (jstr(b, "resource_id") && strcmp(jstr(b, "resource_id"), resource_id) == 0)) &&
        found++ == 0 && first)
      *first = hs[i];
    json_decref(b);
  }
  free(hs);
  return found;
}

size_t rx_count(struct receiver *rx, const char *path, const char *type, const char *resource_id)
{
  return rx_find(rx, path, type, resource_id, NULL);
}

struct hit rx_wait(struct receiver *rx, const char *path, const char *type, const char *resource_id, size_t n)
{
  struct hit first = {0};
  double deadline = now_s() + WAIT_S;
  while (rx_find(rx, path, type, resource_id, &first) < n) {
    if (now_s() > deadline)
      fail_msg("%s did not receive %zu × %s about %s within %.0f s (got %zu of %zu requests)",
               path ? path : "the receiver", n, type ? type : "any event", resource_id ? resource_id : "anything",
               WAIT_S, rx_count(rx, path, type, resource_id), rx_count(rx, NULL, NULL, NULL));
    sleep_ms(20);
  }
  return first;
}

int signature_valid(const char *secret, const struct hit *h)
{
  if (strncmp(secret, "whsec_", 6) != 0)
    return 0;
  const char *b64 = secret + 6;
  size_t b64_len = strlen(b64);
  unsigned char key[96];
  if (b64_len == 0 || b64_len > 4 * (sizeof key / 3))
    return 0;
  int klen = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)b64_len);
  if (klen <= 0)
    return 0;
  for (const char *p = b64 + b64_len; p > b64 && p[-1] == '='; p--)
    klen--; /* EVP_DecodeBlock counts padding as zero bytes */
  size_t prefix = strlen(h->id) + strlen(h->ts) + 2;
  unsigned char *msg = malloc(prefix + h->len + 1);
  assert_non_null(msg);
  snprintf((char *)msg, prefix + 1, "%s.%s.", h->id, h->ts);
  memcpy(msg + prefix, h->body, h->len);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key, klen, msg, prefix + h->len, mac, &mac_len);
  free(msg);
  char want[80] = "v1,";
  EVP_EncodeBlock((unsigned char *)want + 3, mac, (int)mac_len);
  char sigs[256];
  snprintf(sigs, sizeof sigs, "%s", h->sig);
  char *save = NULL;
  for (char *s = strtok_r(sigs, " ", &save); s; s = strtok_r(NULL, " ", &save))
    if (strcmp(s, want) == 0)
      return 1;
  return 0;
}
