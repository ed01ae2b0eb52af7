/* placeholder */
#include "arc/handlers.h"
#include "arc/problem.h"
unsigned receipts_confirm(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
