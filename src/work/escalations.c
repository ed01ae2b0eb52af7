/* PLACEHOLDER: being written this session. */
#include "arc/handlers.h"
#include "arc/resource.h"
unsigned escalations_create(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
unsigned escalations_list(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
unsigned escalations_get(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
unsigned escalations_update(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
