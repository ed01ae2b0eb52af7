/* Which outcomes fit which channel and direction (pure logic, unit-tested). */
#ifndef ARC_CALL_RULES_H
#define ARC_CALL_RULES_H

/* NULL when OUTCOME fits CHANNEL and DIRECTION, else a message for the
 * client saying what would fit. */
const char *call_outcome_problem(const char *channel, const char *direction, const char *outcome);

#endif
