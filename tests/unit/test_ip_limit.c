/* Connections per client address (src/http/ip_limit.c). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arc/ip_limit.h"

static struct sockaddr_in v4(const char *ip, unsigned port)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
  return a;
}

static struct sockaddr_in6 v6(const char *ip)
{
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
  assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
  return a;
}

#define SA(x) ((const struct sockaddr *)&(x))

/* An address gets its limit, then a refusal that counts nothing; the port
 * does not matter; another address has its own count. */
static void limit_per_address(void **state)
{
  (void)state;
  struct ip_limit *t = ip_limit_new(2);
  struct sockaddr_in a1 = v4("10.0.0.1", 1000), a2 = v4("10.0.0.1", 2000), b = v4("10.0.0.2", 1000);
  assert_int_equal(ip_limit_take(t, SA(a1)), 1);
  assert_int_equal(ip_limit_take(t, SA(a2)), 1);
  assert_int_equal(ip_limit_take(t, SA(a1)), 0);
  assert_int_equal(ip_limit_count(t, SA(a1)), 2);
  assert_int_equal(ip_limit_take(t, SA(b)), 1);
  assert_int_equal(ip_limit_count(t, SA(b)), 1);
  ip_limit_free(t);
}

/* A connection given back makes room; the last one forgets the address. */
static void give_back_makes_room(void **state)
{
  (void)state;
  struct ip_limit *t = ip_limit_new(1);
  struct sockaddr_in a = v4("192.168.1.9", 5);
  assert_int_equal(ip_limit_take(t, SA(a)), 1);
  assert_int_equal(ip_limit_take(t, SA(a)), 0);
  ip_limit_give(t, SA(a));
  assert_int_equal(ip_limit_count(t, SA(a)), 0);
  assert_int_equal(ip_limit_take(t, SA(a)), 1);
  ip_limit_give(t, SA(a));
  ip_limit_give(t, SA(a)); /* one too many: nothing to take back */
  assert_int_equal(ip_limit_count(t, SA(a)), 0);
  ip_limit_free(t);
}

/* IPv6 addresses are counted by all 16 bytes: two that share their first
 * 12 (as an IPv4 address would be read) are different. */
static void ipv6_addresses(void **state)
{
  (void)state;
  struct ip_limit *t = ip_limit_new(1);
  struct sockaddr_in6 a = v6("2001:db8::1"), b = v6("2001:db8::2");
  assert_int_equal(ip_limit_take(t, SA(a)), 1);
  assert_int_equal(ip_limit_take(t, SA(a)), 0);
  assert_int_equal(ip_limit_take(t, SA(b)), 1);
  ip_limit_free(t);
}

/* 0 is no limit (ARC_PER_IP_LIMIT=0). */
static void zero_is_no_limit(void **state)
{
  (void)state;
  struct ip_limit *t = ip_limit_new(0);
  struct sockaddr_in a = v4("10.1.1.1", 1);
  for (int i = 0; i < 10000; i++)
    assert_int_equal(ip_limit_take(t, SA(a)), 1);
  ip_limit_free(t);
}

/* Many addresses at once (more than the table's buckets): each keeps its
 * own count, and all are forgotten when given back. */
static void many_addresses(void **state)
{
  (void)state;
  struct ip_limit *t = ip_limit_new(3);
  for (uint32_t i = 0; i < 20000; i++) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + i)};
    for (int k = 0; k < 3; k++)
      assert_int_equal(ip_limit_take(t, SA(a)), 1);
    assert_int_equal(ip_limit_take(t, SA(a)), 0);
  }
  for (uint32_t i = 0; i < 20000; i++) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + i)};
    assert_int_equal(ip_limit_count(t, SA(a)), 3);
    for (int k = 0; k < 3; k++)
      ip_limit_give(t, SA(a));
    assert_int_equal(ip_limit_count(t, SA(a)), 0);
  }
  ip_limit_free(t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(limit_per_address), cmocka_unit_test(give_back_makes_room),
      cmocka_unit_test(ipv6_addresses),    cmocka_unit_test(zero_is_no_limit),
      cmocka_unit_test(many_addresses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
