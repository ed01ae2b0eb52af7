/* THE route table: every endpoint, its method, handler and the roles that
 * may call it (0 = public).  Literal segments come before {params} that
 * could match them. */
#include "arc/auth.h"
#include "arc/handlers.h"
#include "arc/router.h"

#define ALL ROLES_ALL
#define LEDGER ROLES_LEDGER_WRITE
#define ADMIN ROLE_ADMIN
/* Collectors learn who to call on the phone; they keep contacts current. */
#define CONTACTS (ROLES_LEDGER_WRITE | ROLE_COLLECTOR)
/* The collectors' own work: calls, promises, disputes, receipt confirmations. */
#define WORK (ROLE_ADMIN | ROLE_MANAGER | ROLE_COLLECTOR)
/* CRMs log the calls their users make, so integrations may log calls too. */
#define CALLS (WORK | ROLE_INTEGRATION)
/* Decisions: cancelling a promise, resolving or rejecting a dispute, payment
 * plans and escalations. */
#define MANAGE (ROLE_ADMIN | ROLE_MANAGER)

/* Webhook subscriptions: administrators, and the integrations that receive them. */
#define HOOKS (ROLE_ADMIN | ROLE_INTEGRATION)

const struct route arc_routes[] = {
    {HTTP_GET, "/healthz", health_live, 0, 0},
    {HTTP_GET, "/readyz", health_ready, 0, 0},
    {HTTP_GET, "/openapi.json", openapi_get, 0, 0},
    {HTTP_GET, "/metrics", metrics_get, 0, 0},

    {HTTP_GET, "/v1/meta", meta_get, ALL, 0},

    {HTTP_GET, "/v1/api-keys", api_keys_list, ADMIN, 0},
    {HTTP_POST, "/v1/api-keys", api_keys_create, ADMIN, 0},
    {HTTP_GET, "/v1/api-keys/{id}", api_keys_get, ADMIN, 0},
    {HTTP_DELETE, "/v1/api-keys/{id}", api_keys_revoke, ADMIN, 0},

    {HTTP_GET, "/v1/customers", customers_list, ALL, 0},
    {HTTP_POST, "/v1/customers", customers_create, LEDGER, 0},
    {HTTP_PUT, "/v1/customers/external/{external_id}", customers_upsert, LEDGER, 0},
    {HTTP_GET, "/v1/customers/{id}", customers_get, ALL, 0},
    {HTTP_PATCH, "/v1/customers/{id}", customers_update, LEDGER, 0},
    {HTTP_GET, "/v1/customers/{id}/call-sheet", call_sheet_get, ALL, 0},
    {HTTP_GET, "/v1/customers/{id}/contacts", contacts_list, ALL, 0},
    {HTTP_POST, "/v1/customers/{id}/contacts", contacts_create, CONTACTS, 0},
    {HTTP_GET, "/v1/customers/{id}/contacts/{contact_id}", contacts_get, ALL, 0},
    {HTTP_PATCH, "/v1/customers/{id}/contacts/{contact_id}", contacts_update, CONTACTS, 0},

    {HTTP_GET, "/v1/invoices", invoices_list, ALL, 0},
    {HTTP_POST, "/v1/invoices", invoices_create, LEDGER, 0},
    {HTTP_PUT, "/v1/invoices/external/{external_id}", invoices_upsert, LEDGER, 0},
    {HTTP_GET, "/v1/invoices/{id}", invoices_get, ALL, 0},
    {HTTP_PATCH, "/v1/invoices/{id}", invoices_update, LEDGER, 0},
    {HTTP_GET, "/v1/invoices/{id}/adjustments", adjustments_list, ALL, 0},
    {HTTP_POST, "/v1/invoices/{id}/adjustments", adjustments_create, LEDGER, 0},
    {HTTP_GET, "/v1/invoices/{id}/adjustments/{adjustment_id}", adjustments_get, ALL, 0},
    {HTTP_POST, "/v1/invoices/{id}/receipt-confirmation", receipts_confirm, WORK, 0},

    {HTTP_GET, "/v1/payments", payments_list, ALL, 0},
    {HTTP_POST, "/v1/payments", payments_create, LEDGER, 0},
    {HTTP_PUT, "/v1/payments/external/{external_id}", payments_upsert, LEDGER, 0},
    {HTTP_GET, "/v1/payments/{id}", payments_get, ALL, 0},
    {HTTP_PATCH, "/v1/payments/{id}", payments_update, LEDGER, 0},
    {HTTP_POST, "/v1/payments/{id}/reversal", payments_reverse, LEDGER, 0},

    {HTTP_GET, "/v1/call-logs", call_logs_list, ALL, 0},
    {HTTP_POST, "/v1/call-logs", call_logs_create, CALLS, 0},
    {HTTP_GET, "/v1/call-logs/{id}", call_logs_get, ALL, 0},

    {HTTP_GET, "/v1/promises", promises_list, ALL, 0},
    {HTTP_POST, "/v1/promises", promises_create, WORK, 0},
    {HTTP_GET, "/v1/promises/{id}", promises_get, ALL, 0},
    {HTTP_PATCH, "/v1/promises/{id}", promises_update, MANAGE, 0},

    {HTTP_GET, "/v1/disputes", disputes_list, ALL, 0},
    {HTTP_POST, "/v1/disputes", disputes_create, WORK, 0},
    {HTTP_GET, "/v1/disputes/{id}", disputes_get, ALL, 0},
    {HTTP_PATCH, "/v1/disputes/{id}", disputes_update, MANAGE, 0},

    {HTTP_GET, "/v1/payment-plans", payment_plans_list, ALL, 0},
    {HTTP_POST, "/v1/payment-plans", payment_plans_create, MANAGE, 0},
    {HTTP_GET, "/v1/payment-plans/{id}", payment_plans_get, ALL, 0},
    {HTTP_PATCH, "/v1/payment-plans/{id}", payment_plans_update, MANAGE, 0},

    {HTTP_GET, "/v1/escalations", escalations_list, ALL, 0},
    {HTTP_POST, "/v1/escalations", escalations_create, MANAGE, 0},
    {HTTP_GET, "/v1/escalations/{id}", escalations_get, ALL, 0},
    {HTTP_PATCH, "/v1/escalations/{id}", escalations_update, MANAGE, 0},

    {HTTP_GET, "/v1/follow-ups", follow_ups_list, ALL, 0},
    {HTTP_GET, "/v1/follow-ups/{id}", follow_ups_get, ALL, 0},
    {HTTP_PATCH, "/v1/follow-ups/{id}", follow_ups_update, WORK, 0},

    {HTTP_GET, "/v1/scheduler/runs", scheduler_runs_list, MANAGE, 0},
    {HTTP_POST, "/v1/scheduler/runs", scheduler_runs_create, ADMIN, 0},
    {HTTP_GET, "/v1/scheduler/runs/{id}", scheduler_runs_get, MANAGE, 0},

    {HTTP_GET, "/v1/imports", imports_list, ALL, 0},
    {HTTP_POST, "/v1/imports", imports_create, LEDGER, 0, ROUTE_STREAMED},
    {HTTP_GET, "/v1/imports/{id}", imports_get, ALL, 0},
    {HTTP_GET, "/v1/imports/{id}/errors", import_errors_list, ALL, 0},

    {HTTP_GET, "/v1/reports/aging", reports_aging, ALL, 0},
    {HTTP_GET, "/v1/reports/kpis", reports_kpis, ALL, 0},

    {HTTP_GET, "/v1/events", events_list, ALL, 0},

    {HTTP_GET, "/v1/webhooks", webhooks_list, HOOKS, 0},
    {HTTP_POST, "/v1/webhooks", webhooks_create, HOOKS, 0},
    {HTTP_GET, "/v1/webhooks/{id}", webhooks_get, HOOKS, 0},
    {HTTP_PATCH, "/v1/webhooks/{id}", webhooks_update, HOOKS, 0},
    {HTTP_DELETE, "/v1/webhooks/{id}", webhooks_delete, HOOKS, 0},
    {HTTP_GET, "/v1/webhooks/{id}/deliveries", webhook_deliveries_list, HOOKS, 0},
};

const size_t arc_routes_count = sizeof arc_routes / sizeof arc_routes[0];
