/* Connections per client address (include/arc/ip_limit.h): a hash table of
 * the addresses with open connections, under one lock (taken once per
 * connection opened or closed, never per request). */
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arc/ip_limit.h"

#define BUCKETS 4096

struct entry {
  struct entry *next;
  uint8_t addr[16];
  uint8_t len;
  unsigned count;
};

struct ip_limit {
  pthread_mutex_t lock;
  unsigned per_ip;
  struct entry *buckets[BUCKETS];
};

/* The address bytes of ADDR (4 or 16), or 0 for another family. */
static uint8_t addr_bytes(const struct sockaddr *addr, uint8_t out[16])
{
  if (addr->sa_family == AF_INET) {
    memcpy(out, &((const struct sockaddr_in *)addr)->sin_addr, 4);
    return 4;
  }
  if (addr->sa_family == AF_INET6) {
    memcpy(out, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
    return 16;
  }
  return 0;
}

/* FNV-1a: addresses are spread well enough, and an attacker choosing many
 * addresses gains nothing but a longer chain of its own. */
static unsigned bucket_of(const uint8_t *a, uint8_t len)
{
  uint32_t h = 2166136261u;
  for (uint8_t i = 0; i < len; i++)
    h = (h ^ a[i]) * 16777619u;
  return h % BUCKETS;
}

static struct entry **find(struct ip_limit *t, const uint8_t *a, uint8_t len)
{
  struct entry **p = &t->buckets[bucket_of(a, len)];
  while (*p && ((*p)->len != len || memcmp((*p)->addr, a, len) != 0))
    p = &(*p)->next;
  return p;
}

struct ip_limit *ip_limit_new(unsigned per_ip)
{
  struct ip_limit *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  pthread_mutex_init(&t->lock, NULL);
  t->per_ip = per_ip;
  return t;
}

void ip_limit_free(struct ip_limit *t)
{
  if (!t)
    return;
  for (unsigned i = 0; i < BUCKETS; i++)
    for (struct entry *e = t->buckets[i], *next; e; e = next) {
      next = e->next;
      free(e);
    }
  pthread_mutex_destroy(&t->lock);
  free(t);
}

int ip_limit_take(struct ip_limit *t, const struct sockaddr *addr)
{
  uint8_t a[16];
  uint8_t len = addr_bytes(addr, a);
  if (!len || !t->per_ip)
    return 1; /* not an IP address (nothing to count by), or no limit */
  int ok = 0;
  pthread_mutex_lock(&t->lock);
  struct entry **p = find(t, a, len);
  if (!*p && (*p = calloc(1, sizeof **p))) {
    memcpy((*p)->addr, a, len);
    (*p)->len = len;
  }
  if (*p && (*p)->count < t->per_ip) {
    (*p)->count++;
    ok = 1;
  }
  pthread_mutex_unlock(&t->lock);
  return ok;
}

void ip_limit_give(struct ip_limit *t, const struct sockaddr *addr)
{
  uint8_t a[16];
  uint8_t len = addr_bytes(addr, a);
  if (!len || !t->per_ip)
    return;
  pthread_mutex_lock(&t->lock);
  struct entry **p = find(t, a, len);
  if (*p && --(*p)->count == 0) {
    struct entry *gone = *p;
    *p = gone->next;
    free(gone);
  }
  pthread_mutex_unlock(&t->lock);
}

unsigned ip_limit_count(struct ip_limit *t, const struct sockaddr *addr)
{
  uint8_t a[16];
  uint8_t len = addr_bytes(addr, a);
  if (!len)
    return 0;
  pthread_mutex_lock(&t->lock);
  struct entry **p = find(t, a, len);
  unsigned n = *p ? (*p)->count : 0;
  pthread_mutex_unlock(&t->lock);
  return n;
}
