/* GET /v1/reports/aging and GET /v1/reports/kpis (SPEC P13, P14).  Each
 * report is ONE statement (arc_report_aging / arc_report_kpis in
 * reports.sql), read outside a transaction: one snapshot,
 * one pass over the ledger.  This file checks the query's shapes; the
 * checks that need the business's today (no future dates, the period's
 * length) are asked of the database first, so a refused request names
 * every bad parameter at once. */
#include <stdlib.h>
#include <string.h>

#include "arc/db.h"
#include "arc/handlers.h"
#include "arc/jspec.h"
#include "arc/resource.h"

static const char *const aging_params[] = {"as_of", "group_by", "currency", "customer_id", "collector", NULL};
static const char *const aging_groups[] = {"customer", "collector", NULL};
static const char *const kpi_params[] = {"from", "to", "group_by", "collector", NULL};
static const char *const kpi_groups[] = {"collector", NULL};

static void query_currency(const struct request *rq, const char *name, const char **out, struct field_errors *fe)
{
  *out = request_query(rq, name);
  if (*out && !jspec_is_currency(*out)) {
    field_error(fe, name, "must be an ISO 4217 currency code such as USD");
    *out = NULL;
  }
}

/* Adds the date checks that need today to FE (NULL dates are skipped).
 * Returns 0 when the database failed (FE is then cleared). */
static int date_errors(struct db *db, const char *as_of, const char *from, const char *to, struct field_errors *fe)
{
  const char *params[] = {as_of, from, to};
  PGresult *r = db_exec(db, "reports_date_errors", 3, params);
  if (!r) {
    field_errors_clear(fe);
    return 0;
  }
  for (int i = 0; i < PQntuples(r); i++)
    field_error(fe, PQgetvalue(r, i, 0), "%s", PQgetvalue(r, i, 1));
  PQclear(r);
  return 1;
}


unsigned reports_aging(struct request *rq, struct reply *rp)
{
  struct field_errors fe = {0};
  const char *as_of, *group_by, *currency, *customer_id, *collector;
  query_known(rq, aging_params, &fe);
  query_date(rq, "as_of", &as_of, &fe);
  query_enum(rq, "group_by", aging_groups, &group_by, &fe);
  query_currency(rq, "currency", &currency, &fe);
  query_id(rq, "customer_id", &customer_id, &fe);
  query_string(rq, "collector", &collector, &fe);
  if (as_of && !date_errors(rq->db, as_of, NULL, NULL, &fe))
    return db_error_reply(rq->db, rp);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {as_of, group_by, currency, customer_id, collector};
  return reply_rendered(rq->db, rp, "reports_aging_select", 5, params);
}

unsigned reports_kpis(struct request *rq, struct reply *rp)
{
  struct field_errors fe = {0};
  const char *from, *to, *group_by, *collector;
  query_known(rq, kpi_params, &fe);
  query_date(rq, "from", &from, &fe);
  if (!request_query(rq, "from"))
    field_error(&fe, "from", "is required: the first day of the period, YYYY-MM-DD");
  query_date(rq, "to", &to, &fe);
  if (!request_query(rq, "to"))
    field_error(&fe, "to", "is required: the last day of the period, YYYY-MM-DD");
  query_enum(rq, "group_by", kpi_groups, &group_by, &fe);
  query_string(rq, "collector", &collector, &fe);
  if ((from || to) && !date_errors(rq->db, NULL, from, to, &fe))
    return db_error_reply(rq->db, rp);
  if (field_errors_any(&fe))
    return reply_validation(rp, &fe);
  const char *params[] = {from, to, group_by, collector};
  return reply_rendered(rq->db, rp, "reports_kpis_select", 4, params);
}
