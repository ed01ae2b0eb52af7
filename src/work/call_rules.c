/* Which outcomes a contact can have (SPEC §2 call logs): an outbound
 * attempt's outcome depends on its channel (a letter cannot "reach"
 * anyone, a visit cannot bounce); an inbound contact always reached us. */
#include <stddef.h>
#include <string.h>

#include "arc/call_rules.h"

struct channel_outcomes {
  const char *channel;
  const char *const *outcomes; /* NULL-terminated */
  const char *problem;         /* what to tell a client who gave another one */
};

static const char *const phone[] = {"reached", "no_answer", "voicemail", "wrong_number", "refused", NULL};
static const char *const visit[] = {"reached", "no_answer", "refused", NULL};
static const char *const email[] = {"sent", "bounced", "reached", "refused", NULL};
static const char *const sms[] = {"sent", "bounced", "reached", "wrong_number", "refused", NULL};
static const char *const letter[] = {"sent", "bounced", NULL};
static const char *const portal[] = {"sent", "reached", NULL};

static const struct channel_outcomes outbound[] = {
    {"phone", phone, "does not fit an outbound phone call; use one of: reached, no_answer, voicemail, "
                     "wrong_number, refused"},
    {"visit", visit, "does not fit an outbound visit; use one of: reached, no_answer, refused"},
    {"email", email, "does not fit an outbound email; use one of: sent, bounced, reached, refused"},
    {"sms", sms, "does not fit an outbound sms; use one of: sent, bounced, reached, wrong_number, refused"},
    {"letter", letter, "does not fit an outbound letter; use one of: sent, bounced"},
    {"portal", portal, "does not fit an outbound portal message; use one of: sent, reached"},
};

const char *call_outcome_problem(const char *channel, const char *direction, const char *outcome)
{
  if (!channel || !direction || !outcome)
    return "cannot be checked without channel, direction and outcome";
  const struct channel_outcomes *co = NULL;
  for (size_t i = 0; i < sizeof outbound / sizeof outbound[0]; i++)
    if (strcmp(outbound[i].channel, channel) == 0)
      co = &outbound[i];
  if (!co)
    return "cannot be checked: the channel is not one of phone, email, sms, letter, visit, portal";
  if (strcmp(direction, "inbound") == 0)
    return strcmp(outcome, "reached") == 0 ? NULL
                                           : "does not fit an inbound contact; an inbound contact is always reached";
  if (strcmp(direction, "outbound") != 0)
    return "cannot be checked: the direction is not outbound or inbound";
  for (const char *const *o = co->outcomes; *o; o++)
    if (strcmp(*o, outcome) == 0)
      return NULL;
  return co->problem;
}
