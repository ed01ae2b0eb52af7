/* API key tokens: what auth_key_generate makes, auth_token_parse accepts,
 * and the role names stored with keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "arc/auth.h"

#define TOKEN_LEN (4 + AUTH_KEY_ID_LEN + 1 + 43)

static int is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

static int is_b64url(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static void generated_shape(void **state)
{
  (void)state;
  for (int n = 0; n < 50; n++) {
    struct api_key_material k;
    memset(&k, 0x55, sizeof k);
    assert_int_equal(auth_key_generate(&k), 0);
    const char *t = k.token;
    if (strlen(t) != TOKEN_LEN)
      fail_msg("token '%s' has length %zu, not %d", t, strlen(t), TOKEN_LEN);
    assert_memory_equal(t, "arc_", 4);
    for (int i = 0; i < AUTH_KEY_ID_LEN; i++)
      if (!is_lower_hex(t[4 + i]))
        fail_msg("key id of '%s' is not lower-case hex", t);
    assert_int_equal(t[4 + AUTH_KEY_ID_LEN], '_');
    for (int i = 4 + AUTH_KEY_ID_LEN + 1; i < TOKEN_LEN; i++)
      if (!is_b64url(t[i]))
        fail_msg("secret of '%s' is not base64url without padding", t);
    assert_int_equal(strlen(k.key_id), AUTH_KEY_ID_LEN);
    assert_memory_equal(k.key_id, t + 4, AUTH_KEY_ID_LEN);
  }
}

static void generated_distinct(void **state)
{
  (void)state;
  enum { N = 200 };
  static struct api_key_material keys[N];
  for (int i = 0; i < N; i++)
    assert_int_equal(auth_key_generate(&keys[i]), 0);
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++) {
      if (strcmp(keys[i].token, keys[j].token) == 0 || strcmp(keys[i].key_id, keys[j].key_id) == 0)
        fail_msg("keys %d and %d collide", i, j);
      if (memcmp(keys[i].secret_hash, keys[j].secret_hash, 32) == 0)
        fail_msg("keys %d and %d have the same secret hash", i, j);
    }
}

static void parse_round_trip(void **state)
{
  (void)state;
  for (int n = 0; n < 20; n++) {
    struct api_key_material k;
    assert_int_equal(auth_key_generate(&k), 0);
    char key_id[AUTH_KEY_ID_LEN + 1];
    unsigned char hash[32];
    memset(key_id, 'x', sizeof key_id);
    assert_int_equal(auth_token_parse(k.token, strlen(k.token), key_id, hash), 0);
    assert_string_equal(key_id, k.key_id);
    assert_memory_equal(hash, k.secret_hash, 32);
  }
}

static void parse_known_answer(void **state)
{
  (void)state;
  /* The stored hash is SHA-256 of the secret's text (what clients send). */
  static const char token[] = "arc_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk-_0123";
  static const unsigned char want[32] = {
      0xfd, 0x1e, 0x23, 0xc1, 0x04, 0x9c, 0x6c, 0xc8, 0xf1, 0x60, 0x6a, 0x0b, 0xdc, 0x3e, 0x81, 0xec,
      0x11, 0xa3, 0x9e, 0x68, 0xa8, 0xc3, 0x31, 0x36, 0x13, 0x4f, 0x8e, 0xba, 0xad, 0xf0, 0x64, 0x94,
  };
  char key_id[AUTH_KEY_ID_LEN + 1];
  unsigned char hash[32];
  assert_int_equal(strlen(token), TOKEN_LEN);
  assert_int_equal(auth_token_parse(token, strlen(token), key_id, hash), 0);
  assert_string_equal(key_id, "0123456789abcdef");
  assert_memory_equal(hash, want, 32);
  /* Only LEN bytes are read: the token need not be NUL-terminated. */
  char buf[TOKEN_LEN + 8];
  memcpy(buf, token, TOKEN_LEN);
  memcpy(buf + TOKEN_LEN, "garbage!", 8);
  assert_int_equal(auth_token_parse(buf, TOKEN_LEN, key_id, hash), 0);
  assert_memory_equal(hash, want, 32);
}

static void parse_rejects(void **state)
{
  (void)state;
  struct api_key_material k;
  assert_int_equal(auth_key_generate(&k), 0);
  char t[256];
  char key_id[AUTH_KEY_ID_LEN + 1];
  unsigned char hash[32];
  const size_t secret_at = 4 + AUTH_KEY_ID_LEN + 1;

#define REJECT(what)                                                                                        \
  do {                                                                                                      \
    if (auth_token_parse(t, strlen(t), key_id, hash) == 0)                                                  \
      fail_msg("accepted %s: '%s'", what, t);                                                               \
  } while (0)

  static const char *const prefixes[] = {"arx_", "ARC_", "arc-", "crc_", "ar_c"};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
    snprintf(t, sizeof t, "%s", k.token);
    memcpy(t, prefixes[i], 4);
    REJECT("a wrong prefix");
  }
  snprintf(t, sizeof t, " %s", k.token);
  REJECT("a leading space");
  snprintf(t, sizeof t, "%s", k.token + 4);
  REJECT("no prefix");
  /* Short: at every length below a full token. */
  for (size_t len = 0; len < TOKEN_LEN; len++) {
    snprintf(t, sizeof t, "%.*s", (int)len, k.token);
    REJECT("a truncated token");
  }
  /* Key id: upper-case or non-hex, or of the wrong length. */
  snprintf(t, sizeof t, "%s", k.token);
  t[4] = 'A';
  REJECT("an upper-case key id");
  snprintf(t, sizeof t, "%s", k.token);
  t[10] = 'g';
  REJECT("a non-hex key id");
  snprintf(t, sizeof t, "arc_%.15s_%s", k.key_id, k.token + secret_at);
  REJECT("a 15-character key id");
  snprintf(t, sizeof t, "arc_%s0_%s", k.key_id, k.token + secret_at);
  REJECT("a 17-character key id");
  snprintf(t, sizeof t, "%s", k.token);
  t[4 + AUTH_KEY_ID_LEN] = '-';
  REJECT("a wrong separator");
  /* Secret: characters outside base64url. */
  static const char bad_chars[] = {'+', '/', '=', ' ', '.', '%', '\t', '"', (char)0xc3};
  for (size_t i = 0; i < sizeof bad_chars; i++) {
    snprintf(t, sizeof t, "%s", k.token);
    t[secret_at + 7] = bad_chars[i];
    REJECT("a secret with a character outside base64url");
  }
  /* An embedded NUL inside the given length. */
  snprintf(t, sizeof t, "%s", k.token);
  t[secret_at + 3] = '\0';
  assert_int_not_equal(auth_token_parse(t, TOKEN_LEN, key_id, hash), 0);
  /* Overlong: one character more, and far more. */
  snprintf(t, sizeof t, "%sA", k.token);
  REJECT("a secret one character too long");
  snprintf(t, sizeof t, "%s", k.token);
  memset(t + TOKEN_LEN, 'A', sizeof t - TOKEN_LEN - 1);
  t[sizeof t - 1] = '\0';
  REJECT("an overlong token");
#undef REJECT
}

static void roles(void **state)
{
  (void)state;
  static const struct {
    enum role r;
    const char *name;
  } all[] = {
      {ROLE_ADMIN, "admin"},         {ROLE_MANAGER, "manager"}, {ROLE_COLLECTOR, "collector"},
      {ROLE_VIEWER, "viewer"},       {ROLE_INTEGRATION, "integration"},
  };
  unsigned seen = 0;
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    assert_string_equal(role_name(all[i].r), all[i].name);
    assert_int_equal(role_parse(all[i].name), all[i].r);
    assert_int_equal(role_parse(role_name(all[i].r)), all[i].r);
    assert_int_equal(seen & all[i].r, 0);
    seen |= all[i].r;
  }
  assert_int_equal(seen, ROLES_ALL);
  assert_int_equal(ROLES_LEDGER_WRITE & ROLE_VIEWER, 0);
  assert_int_equal(ROLES_LEDGER_WRITE & ROLE_COLLECTOR, 0);
  static const char *const bad[] = {"", "Admin", "ADMIN", "admin ", " admin", "none", "root", "adm"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(role_parse(bad[i]), ROLE_NONE);
  assert_string_equal(role_name(ROLE_NONE), "none");
  assert_string_equal(role_name(ROLE_ADMIN | ROLE_VIEWER), "none");
  assert_string_equal(role_name((enum role)(1 << 5)), "none");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(generated_shape),
      cmocka_unit_test(generated_distinct),
      cmocka_unit_test(parse_round_trip),
      cmocka_unit_test(parse_known_answer),
      cmocka_unit_test(parse_rejects),
      cmocka_unit_test(roles),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
