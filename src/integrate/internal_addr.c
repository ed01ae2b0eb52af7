/* Internal addresses (include/arc/internal_addr.h), after RFC 6890's
 * special-purpose registries: what is not globally reachable. */
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arc/internal_addr.h"

static atomic_int allowed;

void internal_addr_allow(int on) { atomic_store(&allowed, on != 0); }
int internal_addr_allowed(void) { return atomic_load(&allowed); }

/* A in PREFIX/BITS, both host order. */
static int in4(uint32_t a, uint32_t prefix, int bits) { return bits == 0 || (a >> (32 - bits)) == (prefix >> (32 - bits)); }

static const char *kind4(uint32_t a)
{
  if (in4(a, 0x7f000000u, 8))
    return "loopback";
  if (in4(a, 0x0a000000u, 8) || in4(a, 0xac100000u, 12) || in4(a, 0xc0a80000u, 16))
    return "private";
  if (in4(a, 0xa9fe0000u, 16))
    return "link-local (cloud metadata services among them)";
  if (in4(a, 0x64400000u, 10))
    return "shared (carrier-grade NAT)";
  if (in4(a, 0x00000000u, 8))
    return "unspecified (\"this network\")";
  if (in4(a, 0xe0000000u, 4) || a == 0xffffffffu)
    return "multicast or broadcast";
  if (in4(a, 0xf0000000u, 4))
    return "reserved";
  if (in4(a, 0xc0000000u, 24) || in4(a, 0xc6120000u, 15))
    return "reserved (IETF protocol assignments, benchmarking)";
  return NULL;
}

const char *internal_addr_kind(const struct sockaddr *sa)
{
  if (sa->sa_family == AF_INET)
    return kind4(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
  if (sa->sa_family != AF_INET6)
    return "not an IP address";
  const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(b, mapped, 12) == 0)
    return kind4((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
  static const uint8_t zero[15] = {0};
  if (memcmp(b, zero, 15) == 0)
    return b[15] == 1 ? "loopback" : b[15] == 0 ? "unspecified (\"this network\")" : "reserved";
  if ((b[0] & 0xfe) == 0xfc)
    return "private (unique local)";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
    return "link-local (cloud metadata services among them)";
  if (b[0] == 0xff)
    return "multicast or broadcast";
  /* NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address. */
  static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (memcmp(b, nat64, 12) == 0)
    return kind4((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
  if (b[0] == 0x20 && b[1] == 0x02)
    return kind4((uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 | b[5]);
  return NULL;
}

int internal_addr_refused(const struct sockaddr *sa, socklen_t len, char *why, size_t size)
{
  const char *kind = internal_addr_allowed() ? NULL : internal_addr_kind(sa);
  if (!kind)
    return 0;
  char ip[NI_MAXHOST] = "?";
  getnameinfo(sa, len, ip, sizeof ip, NULL, 0, NI_NUMERICHOST);
  snprintf(why, size, "%s is a %s address (ARC_WEBHOOK_ALLOW_PRIVATE=1 allows it)", ip, kind);
  return 1;
}
