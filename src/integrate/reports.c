/* PLACEHOLDER: being written this session. */
#include "arc/handlers.h"
#include "arc/resource.h"
unsigned reports_aging(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
unsigned reports_kpis(struct request *rq, struct reply *rp) { (void)rq; return reply_problem(rp, PROBLEM_INTERNAL, "being written"); }
