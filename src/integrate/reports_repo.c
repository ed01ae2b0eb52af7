/* SQL of the reports: each report is one statement over a function of
 * reports.sql; the date checks that need today are a
 * statement of their own. */
#include "arc/db.h"
#include "arc/statements.h"

const struct db_stmt reports_stmts[] = {
    {"reports_date_errors",
     "SELECT e.field, e.message FROM arc_report_date_errors($1::date, $2::date, $3::date) e"},
    /* as_of defaults to the business's today (the session TimeZone). */
    {"reports_aging_select",
     "SELECT arc_report_aging(coalesce($1::date, current_date), $2::text, $3::text, $4::bigint, $5::text)::text"},
    {"reports_kpis_select", "SELECT arc_report_kpis($1::date, $2::date, $3::text, $4::text)::text"},
    {NULL, NULL},
};
