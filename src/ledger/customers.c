/* placeholder */
#include "arc/handlers.h"
#include "arc/problem.h"
unsigned customers_create(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned customers_list(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned customers_get(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned customers_update(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned customers_upsert(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
