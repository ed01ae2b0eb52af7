/* Every route handler, by module.  routes.c maps them to methods and paths. */
#ifndef ARC_HANDLERS_H
#define ARC_HANDLERS_H

#include "arc/http.h"

/* src/http/meta.c */
unsigned meta_get(struct request *rq, struct reply *rp);

/* src/http/health.c */
unsigned health_live(struct request *rq, struct reply *rp);
unsigned health_ready(struct request *rq, struct reply *rp);
/* src/http/openapi.c */
unsigned openapi_get(struct request *rq, struct reply *rp);

/* src/auth/api_keys.c */
unsigned api_keys_create(struct request *rq, struct reply *rp);
unsigned api_keys_list(struct request *rq, struct reply *rp);
unsigned api_keys_get(struct request *rq, struct reply *rp);
unsigned api_keys_revoke(struct request *rq, struct reply *rp);

/* src/ledger/customers.c */
unsigned customers_create(struct request *rq, struct reply *rp);
unsigned customers_list(struct request *rq, struct reply *rp);
unsigned customers_get(struct request *rq, struct reply *rp);
unsigned customers_update(struct request *rq, struct reply *rp);
unsigned customers_upsert(struct request *rq, struct reply *rp);

/* src/ledger/contacts.c */
unsigned contacts_create(struct request *rq, struct reply *rp);
unsigned contacts_list(struct request *rq, struct reply *rp);
unsigned contacts_get(struct request *rq, struct reply *rp);
unsigned contacts_update(struct request *rq, struct reply *rp);

/* src/ledger/invoices.c */
unsigned invoices_create(struct request *rq, struct reply *rp);
unsigned invoices_list(struct request *rq, struct reply *rp);
unsigned invoices_get(struct request *rq, struct reply *rp);
unsigned invoices_update(struct request *rq, struct reply *rp);
unsigned invoices_upsert(struct request *rq, struct reply *rp);

/* src/ledger/adjustments.c */
unsigned adjustments_create(struct request *rq, struct reply *rp);
unsigned adjustments_list(struct request *rq, struct reply *rp);
unsigned adjustments_get(struct request *rq, struct reply *rp);

/* src/ledger/payments.c */
unsigned payments_create(struct request *rq, struct reply *rp);
unsigned payments_list(struct request *rq, struct reply *rp);
unsigned payments_get(struct request *rq, struct reply *rp);
unsigned payments_update(struct request *rq, struct reply *rp);
unsigned payments_upsert(struct request *rq, struct reply *rp);
/* src/ledger/reversals.c */
unsigned payments_reverse(struct request *rq, struct reply *rp);

/* src/work/call_logs.c */
unsigned call_logs_create(struct request *rq, struct reply *rp);
unsigned call_logs_list(struct request *rq, struct reply *rp);
unsigned call_logs_get(struct request *rq, struct reply *rp);

/* src/work/promises.c */
unsigned promises_create(struct request *rq, struct reply *rp);
unsigned promises_list(struct request *rq, struct reply *rp);
unsigned promises_get(struct request *rq, struct reply *rp);
unsigned promises_update(struct request *rq, struct reply *rp);

/* src/work/disputes.c */
unsigned disputes_create(struct request *rq, struct reply *rp);
unsigned disputes_list(struct request *rq, struct reply *rp);
unsigned disputes_get(struct request *rq, struct reply *rp);
unsigned disputes_update(struct request *rq, struct reply *rp);

/* src/work/receipts.c */
unsigned receipts_confirm(struct request *rq, struct reply *rp);

/* src/work/call_sheet.c */
unsigned call_sheet_get(struct request *rq, struct reply *rp);

/* src/work/payment_plans.c */
unsigned payment_plans_create(struct request *rq, struct reply *rp);
unsigned payment_plans_list(struct request *rq, struct reply *rp);
unsigned payment_plans_get(struct request *rq, struct reply *rp);
unsigned payment_plans_update(struct request *rq, struct reply *rp);

/* src/work/escalations.c */
unsigned escalations_create(struct request *rq, struct reply *rp);
unsigned escalations_list(struct request *rq, struct reply *rp);
unsigned escalations_get(struct request *rq, struct reply *rp);
unsigned escalations_update(struct request *rq, struct reply *rp);

/* src/schedule/follow_ups.c */
unsigned follow_ups_list(struct request *rq, struct reply *rp);
unsigned follow_ups_get(struct request *rq, struct reply *rp);
unsigned follow_ups_update(struct request *rq, struct reply *rp);

/* src/schedule/runs.c */
unsigned scheduler_runs_create(struct request *rq, struct reply *rp);
unsigned scheduler_runs_list(struct request *rq, struct reply *rp);
unsigned scheduler_runs_get(struct request *rq, struct reply *rp);

/* src/http/metrics_get.c */
unsigned metrics_get(struct request *rq, struct reply *rp);

/* src/integrate/imports.c */
unsigned imports_create(struct request *rq, struct reply *rp);
unsigned imports_list(struct request *rq, struct reply *rp);
unsigned imports_get(struct request *rq, struct reply *rp);
unsigned import_errors_list(struct request *rq, struct reply *rp);

/* src/integrate/reports.c */
unsigned reports_aging(struct request *rq, struct reply *rp);
unsigned reports_kpis(struct request *rq, struct reply *rp);

/* src/integrate/events.c */
unsigned events_list(struct request *rq, struct reply *rp);

/* src/integrate/webhooks.c */
unsigned webhooks_create(struct request *rq, struct reply *rp);
unsigned webhooks_list(struct request *rq, struct reply *rp);
unsigned webhooks_get(struct request *rq, struct reply *rp);
unsigned webhooks_update(struct request *rq, struct reply *rp);
unsigned webhooks_delete(struct request *rq, struct reply *rp);
unsigned webhook_deliveries_list(struct request *rq, struct reply *rp);

#endif
