/* The verified-key cache (src/auth/key_cache.c): what it trusts, for how
 * long, and what it never lets through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "arc/auth.h"

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static struct principal key(const char *id)
{
  struct principal p = {0};
  snprintf(p.key_id, sizeof p.key_id, "%s", id);
  p.role = ROLE_COLLECTOR;
  snprintf(p.actor, sizeof p.actor, "maria@example.com");
  return p;
}

static const unsigned char secret[32] = {1, 2, 3};
static const unsigned char other[32] = {1, 2, 4};

static void off_remembers_nothing(void **state)
{
  (void)state;
  auth_cache_configure(0);
  struct principal p = key("00000000000000aa"), who;
  auth_cache_store(&p, secret, auth_cache_ticket());
  assert_int_equal(auth_cache_lookup(p.key_id, secret, &who), AUTH_CACHE_MISS);
}

static void a_verified_key_is_trusted_until_it_expires(void **state)
{
  (void)state;
  auth_cache_configure(60);
  struct principal p = key("00000000000000bb"), who = {0};
  assert_int_equal(auth_cache_lookup(p.key_id, secret, &who), AUTH_CACHE_MISS);
  auth_cache_store(&p, secret, auth_cache_ticket());
  assert_int_equal(auth_cache_lookup(p.key_id, secret, &who), AUTH_CACHE_HIT);
  assert_string_equal(who.key_id, p.key_id);
  assert_int_equal(who.role, ROLE_COLLECTOR);
  assert_string_equal(who.actor, "maria@example.com");
  sleep_ms(80);
  assert_int_equal(auth_cache_lookup(p.key_id, secret, &who), AUTH_CACHE_MISS);
}

static void another_secret_is_refused(void **state)
{
  (void)state;
  auth_cache_configure(1000);
  struct principal p = key("00000000000000cc"), who = {0};
  auth_cache_store(&p, secret, auth_cache_ticket());
  assert_int_equal(auth_cache_lookup(p.key_id, other, &who), AUTH_CACHE_WRONG_SECRET);
  assert_int_equal(who.role, ROLE_NONE);
  assert_int_equal(auth_cache_lookup("00000000000000cd", secret, &who), AUTH_CACHE_MISS);
}

static void forgetting_all_also_voids_answers_in_flight(void **state)
{
  (void)state;
  auth_cache_configure(1000);
  struct principal p = key("00000000000000dd"), who;
  /* Asked before a revocation here, answered after it: not trusted. */
  struct auth_cache_ticket before = auth_cache_ticket();
  auth_cache_forget_all();
  auth_cache_store(&p, secret, before);
  assert_int_equal(auth_cache_lookup(p.key_id, secret, &who), AUTH_CACHE_MISS);
  auth_cache_store(&p, secret, auth_cache_ticket());
  assert_int_equal(auth_cache_lookup(p.key_id, secret, &who), AUTH_CACHE_HIT);
  auth_cache_forget(p.key_id);
  assert_int_equal(auth_cache_lookup(p.key_id, secret, &who), AUTH_CACHE_MISS);
}

static void never_more_than_a_second(void **state)
{
  (void)state;
  auth_cache_configure(5000);
  struct principal p = key("00000000000000ee"), who;
  struct auth_cache_ticket t = auth_cache_ticket();
  t.fetched_ms -= AUTH_CACHE_MAX_MS; /* fetched a second ago */
  auth_cache_store(&p, secret, t);
  assert_int_equal(auth_cache_lookup(p.key_id, secret, &who), AUTH_CACHE_MISS);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(off_remembers_nothing),
      cmocka_unit_test(a_verified_key_is_trusted_until_it_expires),
      cmocka_unit_test(another_secret_is_refused),
      cmocka_unit_test(forgetting_all_also_voids_answers_in_flight),
      cmocka_unit_test(never_more_than_a_second),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
