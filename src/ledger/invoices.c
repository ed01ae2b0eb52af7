/* placeholder */
#include "arc/handlers.h"
#include "arc/problem.h"
unsigned invoices_create(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned invoices_list(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned invoices_get(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned invoices_update(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
unsigned invoices_upsert(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
