/* Internal addresses a webhook may not reach (src/integrate/internal_addr.c). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "arc/internal_addr.h"

/* The kind of the IPv4 or IPv6 address IP, or NULL for a public one. */
static const char *kind_of(const char *ip)
{
  struct sockaddr_in a4 = {.sin_family = AF_INET};
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
  if (inet_pton(AF_INET, ip, &a4.sin_addr) == 1)
    return internal_addr_kind((struct sockaddr *)&a4);
  assert_int_equal(inet_pton(AF_INET6, ip, &a6.sin6_addr), 1);
  return internal_addr_kind((struct sockaddr *)&a6);
}

static void internal_ones(void **state)
{
  (void)state;
  static const struct {
    const char *ip, *kind;
  } cases[] = {
      {"127.0.0.1", "loopback"},
      {"127.255.255.254", "loopback"},
      {"10.0.0.1", "private"},
      {"172.16.0.1", "private"},
      {"172.31.255.255", "private"},
      {"192.168.0.10", "private"},
      {"169.254.169.254", "link-local"},
      {"100.64.0.1", "shared"},
      {"0.0.0.0", "unspecified"},
      {"224.0.0.1", "multicast"},
      {"255.255.255.255", "multicast or broadcast"},
      {"240.0.0.1", "reserved"},
      {"198.18.0.1", "reserved"},
      {"::1", "loopback"},
      {"::", "unspecified"},
      {"::ffff:127.0.0.1", "loopback"},
      {"::ffff:10.1.2.3", "private"},
      {"fd00:ec2::254", "private"},
      {"fc00::1", "private"},
      {"fe80::1", "link-local"},
      {"ff02::1", "multicast"},
      {"64:ff9b::a9fe:a9fe", "link-local"}, /* NAT64 of 169.254.169.254 */
      {"2002:7f00:1::", "loopback"},         /* 6to4 of 127.0.0.1 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *k = kind_of(cases[i].ip);
    if (!k || !strstr(k, cases[i].kind))
      fail_msg("%s: %s, expected %s", cases[i].ip, k ? k : "public", cases[i].kind);
  }
}

static void public_ones(void **state)
{
  (void)state;
  static const char *const ips[] = {"93.184.216.34", "8.8.8.8", "172.32.0.1", "172.15.255.255", "192.169.0.1",
                                    "100.128.0.1", "11.0.0.1", "2606:2800:220:1:248:1893:25c8:1946",
                                    "2001:4860:4860::8888", "::ffff:8.8.8.8"};
  for (size_t i = 0; i < sizeof ips / sizeof ips[0]; i++)
    if (kind_of(ips[i]))
      fail_msg("%s taken for %s", ips[i], kind_of(ips[i]));
}

static void allowed_switch(void **state)
{
  (void)state;
  internal_addr_allow(1);
  assert_int_equal(internal_addr_allowed(), 1);
  internal_addr_allow(0);
  assert_int_equal(internal_addr_allowed(), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(internal_ones),
      cmocka_unit_test(public_ones),
      cmocka_unit_test(allowed_switch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
