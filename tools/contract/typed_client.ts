// A front end's code against the types openapi-typescript generates from
// openapi/openapi.yaml (deploy/dev.sh test: contract_typed_client compiles
// it with tsc --strict). It must compile without a cast: event data is
// typed by the event's type, documents and pages by their schemas.
import type { components, paths } from "./api";

type Event = components["schemas"]["Event"];
type EventPage = paths["/v1/events"]["get"]["responses"]["200"]["content"]["application/json"];

// Narrowing on `type` gives `data` its document's type.
export function describe(e: Event): string {
  switch (e.type) {
    case "payment.received":
    case "payment.reversed":
      return `${e.data.currency} ${e.data.amount} on ${e.data.received_on}`;
    case "invoice.paid":
      return `invoice ${e.data.number}: ${e.data.status}, balance ${e.data.balance}`;
    case "promise.broken":
      return `promise of ${e.data.amount} for ${e.data.promised_on} broken`;
    case "follow_up.created":
      return `${e.data.reason} for ${e.data.customer_name}, ${e.data.days_overdue} days overdue`;
    case "escalation.proposed":
      return `escalation to ${e.data.level} proposed`;
    case "call_log.created":
      return `${e.data.channel} call: ${e.data.outcome}`;
    case "webhook.disabled":
      return `webhook ${e.data.id} disabled: ${e.data.disabled_reason ?? "?"}`;
    default:
      return e.type;
  }
}

export function amounts(page: EventPage): number[] {
  const out: number[] = [];
  for (const e of page.data) {
    if (e.resource_type === "payment" && e.type === "payment.received") out.push(e.data.amount);
  }
  return out;
}

// Meta: each currency's decimals, to show amounts as money.
export function money(meta: components["schemas"]["Meta"], amount: number, currency: string): string {
  const d = meta.currencies[currency] ?? 2;
  return `${currency} ${(amount / 10 ** d).toFixed(d)}`;
}
