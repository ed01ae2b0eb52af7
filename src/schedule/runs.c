/* placeholder */
#include "arc/handlers.h"
#include "arc/problem.h"
unsigned scheduler_runs_create(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned scheduler_runs_list(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned scheduler_runs_get(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
