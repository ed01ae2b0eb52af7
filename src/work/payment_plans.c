/* PLACEHOLDER: being written this session. */
#include "arc/handlers.h"
#include "arc/resource.h"
unsigned payment_plans_create(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
unsigned payment_plans_list(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
unsigned payment_plans_get(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
unsigned payment_plans_update(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
