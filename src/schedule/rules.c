/* The sweep's rules in the order they run; their SQL is in
 * migrations/0013_sweep.sql.  Promises are decided first: whether one keeps
 * a customer quiet or was broken drives what follows.  Snoozed follow-ups
 * wake before anything is closed or made, so a woken one is judged like any
 * other.  Closing comes before making, so when a cause moves (a dispute is
 * resolved and the next one waits) the new follow-up takes the old one's
 * place in the same sweep.  The refresh comes last, over all that is open. */
#include "arc/sweep.h"

const struct sweep_rule sweep_rules[] = {
    {"promises", "sweep_promises"},
    {"plans", "sweep_plans"},
    {"escalations", "sweep_escalations"},
    {"wake", "sweep_wake"},
    {"close", "sweep_close"},
    {"confirm_receipt", "sweep_confirm_receipt"},
    {"overdue", "sweep_overdue"},
    {"retry", "sweep_retry"},
    {"promise_broken", "sweep_promise_broken"},
    {"installment_missed", "sweep_installment_missed"},
    {"resolve_dispute", "sweep_resolve_dispute"},
    {"escalation", "sweep_escalation"},
    {"thank_you", "sweep_thank_you"},
    {"check_in", "sweep_check_in"},
    {"refresh", "sweep_refresh"},
    {"consumer_limits", "sweep_consumer_limits"},
    {NULL, NULL},
};

/* $1 as_of, $2 the run's id (recorded on what the rule makes). */
#define RULE_SQL(fn) "SELECT reason, created, closed FROM " fn "($1::timestamptz, $2::bigint)"

const struct db_stmt sweep_stmts[] = {
    {"sweep_promises", RULE_SQL("arc_rule_promises")},
    {"sweep_plans", RULE_SQL("arc_rule_plans")},
    {"sweep_escalations", RULE_SQL("arc_rule_escalations")},
    {"sweep_wake", RULE_SQL("arc_rule_wake")},
    {"sweep_close", RULE_SQL("arc_rule_close")},
    {"sweep_confirm_receipt", RULE_SQL("arc_rule_confirm_receipt")},
    {"sweep_overdue", RULE_SQL("arc_rule_overdue")},
    {"sweep_retry", RULE_SQL("arc_rule_retry")},
    {"sweep_promise_broken", RULE_SQL("arc_rule_promise_broken")},
    {"sweep_installment_missed", RULE_SQL("arc_rule_installment_missed")},
    {"sweep_escalation", RULE_SQL("arc_rule_escalation")},
    {"sweep_resolve_dispute", RULE_SQL("arc_rule_resolve_dispute")},
    {"sweep_thank_you", RULE_SQL("arc_rule_thank_you")},
    {"sweep_check_in", RULE_SQL("arc_rule_check_in")},
    {"sweep_refresh", RULE_SQL("arc_rule_refresh")},
    {"sweep_consumer_limits", RULE_SQL("arc_rule_consumer_limits")},
    {NULL, NULL},
};
