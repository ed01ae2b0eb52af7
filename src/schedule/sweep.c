/* placeholder */
#include "arc/http.h"
#include "arc/problem.h"
#include "arc/sweep.h"
unsigned sweep_run(struct db *db, const char *as_of, const char *trigger, enum sweep_wait wait, struct reply *rp) { (void)db; (void)as_of; (void)trigger; (void)wait; return reply_problem(rp, PROBLEM_INTERNAL, "not implemented"); }
