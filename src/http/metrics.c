/* PLACEHOLDER: being written this session. */
#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/ledger.h"
#include "arc/problem.h"
#include "arc/resource.h"

const struct db_stmt metrics_stmts[] = {
    {NULL, NULL},
};
unsigned metrics_get(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
