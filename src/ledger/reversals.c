/* placeholder */
#include "arc/handlers.h"
#include "arc/problem.h"
unsigned payments_reverse(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
