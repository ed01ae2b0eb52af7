/* placeholder */
#include "arc/handlers.h"
#include "arc/problem.h"
unsigned payments_create(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned payments_list(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned payments_get(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned payments_update(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned payments_upsert(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
