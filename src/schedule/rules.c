/* The sweep's rules: ONE list, in the order the sweep runs them.  Rule
 * NAME is the SQL function arc_rule_NAME(as_of, run) in
 * src/schedule/rules/NAME.sql, run by the prepared statement sweep_NAME.
 *
 * Why this order: promises are decided first, since whether one keeps a
 * customer quiet or was broken drives what follows; plans and the
 * escalation policy next, for the same reason (an account in a plan or
 * handed off is not dunned).  Snoozed follow-ups wake before anything is
 * closed or made, so a woken one is judged like any other.  Closing comes
 * before making, so when a cause moves (a dispute is resolved and the next
 * one waits) the new follow-up takes the old one's place in the same sweep.
 * The refresh comes after every rule that makes follow-ups, over all that
 * is open, and consumer limits last, holding back what the others made. */
#include "arc/sweep.h"

#define SWEEP_RULES(X)                                                                             \
  X(promises)                                                                                      \
  X(plans)                                                                                         \
  X(escalation_policy)                                                                             \
  X(wake)                                                                                          \
  X(close)                                                                                         \
  X(confirm_receipt)                                                                               \
  X(overdue)                                                                                       \
  X(retry)                                                                                         \
  X(promise_broken)                                                                                \
  X(installment_missed)                                                                            \
  X(resolve_dispute)                                                                               \
  X(escalation)                                                                                    \
  X(thank_you)                                                                                     \
  X(check_in)                                                                                      \
  X(refresh)                                                                                       \
  X(consumer_limits)

#define RULE_ENTRY(name) {#name, "sweep_" #name},
const struct sweep_rule sweep_rules[] = {SWEEP_RULES(RULE_ENTRY){NULL, NULL}};

/* $1 as_of, $2 the run's id (recorded on what the rule makes). */
#define RULE_STATEMENT(name)                                                                       \
  {"sweep_" #name, "SELECT reason, created, closed FROM arc_rule_" #name "($1::timestamptz, $2::bigint)"},
const struct db_stmt sweep_stmts[] = {SWEEP_RULES(RULE_STATEMENT){NULL, NULL}};
