/* call_outcome_problem: every channel x direction x outcome against the
 * table of the shared design, written out here independently of the code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arc/call_rules.h"

static const char *const channels[] = {"phone", "email", "sms", "letter", "visit", "portal"};
static const char *const outcomes[] = {"reached", "no_answer", "voicemail", "wrong_number", "sent", "bounced",
                                       "refused"};
#define N_CHANNELS (sizeof channels / sizeof channels[0])
#define N_OUTCOMES (sizeof outcomes / sizeof outcomes[0])

/* Outbound: 1 where the outcome fits the channel.  Columns in the order of
 * outcomes[]: reached no_answer voicemail wrong_number sent bounced refused. */
static const int outbound_fits[N_CHANNELS][N_OUTCOMES] = {
    /* phone  */ {1, 1, 1, 1, 0, 0, 1},
    /* email  */ {1, 0, 0, 0, 1, 1, 1},
    /* sms    */ {1, 0, 0, 1, 1, 1, 1},
    /* letter */ {0, 0, 0, 0, 1, 1, 0},
    /* visit  */ {1, 1, 0, 0, 0, 0, 1},
    /* portal */ {1, 0, 0, 0, 1, 0, 0},
};

static void every_outbound_combination(void **state)
{
  (void)state;
  int fits = 0;
  for (size_t c = 0; c < N_CHANNELS; c++)
    for (size_t o = 0; o < N_OUTCOMES; o++) {
      const char *p = call_outcome_problem(channels[c], "outbound", outcomes[o]);
      if (outbound_fits[c][o] && p)
        fail_msg("outbound %s %s should fit, got: %s", channels[c], outcomes[o], p);
      if (!outbound_fits[c][o] && !p)
        fail_msg("outbound %s %s should not fit", channels[c], outcomes[o]);
      fits += outbound_fits[c][o];
    }
  /* 5 + 4 + 5 + 2 + 3 + 2 outcomes fit. */
  assert_int_equal(fits, 21);
}

static void every_inbound_combination(void **state)
{
  (void)state;
  for (size_t c = 0; c < N_CHANNELS; c++)
    for (size_t o = 0; o < N_OUTCOMES; o++) {
      const char *p = call_outcome_problem(channels[c], "inbound", outcomes[o]);
      int should_fit = strcmp(outcomes[o], "reached") == 0;
      if (should_fit && p)
        fail_msg("inbound %s %s should fit, got: %s", channels[c], outcomes[o], p);
      if (!should_fit && !p)
        fail_msg("inbound %s %s should not fit", channels[c], outcomes[o]);
      if (!should_fit && !strstr(p, "reached"))
        fail_msg("inbound %s %s: the message should say what fits: %s", channels[c], outcomes[o], p);
    }
}

/* The message lists exactly what fits the channel, so a client can fix it. */
static void messages_list_what_fits(void **state)
{
  (void)state;
  for (size_t c = 0; c < N_CHANNELS; c++) {
    size_t bad = 0;
    while (bad < N_OUTCOMES && outbound_fits[c][bad])
      bad++;
    assert_true(bad < N_OUTCOMES);
    const char *p = call_outcome_problem(channels[c], "outbound", outcomes[bad]);
    assert_non_null(p);
    assert_non_null(strstr(p, channels[c]));
    const char *list = strstr(p, "one of: ");
    assert_non_null(list);
    for (size_t o = 0; o < N_OUTCOMES; o++) {
      /* Match whole words: "sent" must not be found inside another word. */
      size_t len = strlen(outcomes[o]);
      int listed = 0;
      for (const char *s = strstr(list, outcomes[o]); s; s = strstr(s + 1, outcomes[o]))
        if ((s[-1] == ' ') && (s[len] == ',' || s[len] == '\0'))
          listed = 1;
      if (listed != outbound_fits[c][o])
        fail_msg("%s: '%s' %s in \"%s\"", channels[c], outcomes[o], listed ? "wrongly listed" : "missing", p);
    }
  }
  assert_string_equal(call_outcome_problem("letter", "outbound", "reached"),
                      "does not fit an outbound letter; use one of: sent, bounced");
}

/* Values outside the enums (the handler refuses them first) never fit. */
static void unknown_values(void **state)
{
  (void)state;
  assert_non_null(call_outcome_problem("fax", "outbound", "sent"));
  assert_non_null(call_outcome_problem("fax", "inbound", "reached"));
  assert_non_null(call_outcome_problem("phone", "sideways", "reached"));
  assert_non_null(call_outcome_problem("phone", "outbound", "maybe"));
  assert_non_null(call_outcome_problem("phone", "inbound", "maybe"));
  assert_non_null(call_outcome_problem("Phone", "outbound", "reached"));
  assert_non_null(call_outcome_problem("phone", "Outbound", "reached"));
  assert_non_null(call_outcome_problem("phone", "outbound", "Reached"));
  assert_non_null(call_outcome_problem("", "", ""));
  assert_non_null(call_outcome_problem(NULL, "outbound", "reached"));
  assert_non_null(call_outcome_problem("phone", NULL, "reached"));
  assert_non_null(call_outcome_problem("phone", "outbound", NULL));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_outbound_combination),
      cmocka_unit_test(every_inbound_combination),
      cmocka_unit_test(messages_list_what_fits),
      cmocka_unit_test(unknown_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
