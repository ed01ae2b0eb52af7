/* placeholder */
#include "arc/handlers.h"
#include "arc/problem.h"
unsigned contacts_create(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned contacts_list(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned contacts_get(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned contacts_update(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
