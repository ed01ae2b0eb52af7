/* PLACEHOLDER: being written this session. */
#include "arc/handlers.h"
#include "arc/problem.h"
#include "arc/resource.h"
unsigned imports_create(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
unsigned imports_list(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
unsigned imports_get(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
unsigned import_errors_list(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
