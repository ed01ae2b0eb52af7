#!/usr/bin/env bash
# Loads a small, realistic demo ledger through the API (never the database
# directly, so the demo exercises the same rules as any client).
#   ARC_URL=http://127.0.0.1:8080 ARC_KEY=arc_..._... bash deploy/demo.sh
# deploy/dev.sh run calls it once, while the customers table is empty.
# Dates are relative to today, so the aging buckets (current, 1-30, 31-60,
# 61-90, 90+ days overdue) look the same whenever it runs.
set -euo pipefail
shopt -s inherit_errexit

: "${ARC_URL:?set ARC_URL to the server, e.g. http://127.0.0.1:8080}"
: "${ARC_KEY:?set ARC_KEY to an admin or integration API key}"

# "Today" is the server's business day (ARC_TIMEZONE, UTC by default): a
# payment received "today" in a zone ahead of it would be in the future.
day() { TZ="${ARC_TIMEZONE:-UTC}" date -d "$1 days" +%F; }

# api METHOD PATH [JSON]: prints the response body; on anything but 2xx
# prints the request and the server's answer and stops the script.
api() {
  local method=$1 path=$2 body=${3:-} out status
  out=$(mktemp)
  local args=(-sS -o "$out" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $ARC_KEY")
  if [ -n "$body" ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$body")
  fi
  if ! status=$(curl "${args[@]}" "$ARC_URL$path"); then
    rm -f "$out"
    echo "demo.sh: $method $path: no answer from $ARC_URL" >&2
    exit 1
  fi
  if [ "${status:0:1}" != 2 ]; then
    {
      echo "demo.sh: $method $path answered HTTP $status"
      [ -z "$body" ] || echo "  request:  $body"
      echo "  response: $(cat "$out")"
    } >&2
    rm -f "$out"
    exit 1
  fi
  cat "$out"
  rm -f "$out"
}

id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# new METHOD PATH JSON: makes a resource and prints its id.
new() {
  local doc
  doc=$(api "$@") || exit 1
  printf '%s' "$doc" | id_of
}

contact() { # CUSTOMER_ID JSON
  new POST "/v1/customers/$1/contacts" "$2" >/dev/null
  contacts=$((contacts + 1))
}

# invoice CUSTOMER_ID NUMBER AMOUNT ISSUED_DAYS DUE_DAYS CURRENCY PO DESCRIPTION
# (days relative to today; PO "-" for none).  Prints the invoice id.
invoice() {
  local po=null
  [ "$7" = - ] || po="\"$7\""
  new POST /v1/invoices "$(printf '{"customer_id":"%s","number":"%s","amount":%s,"issued_on":"%s","due_on":"%s","currency":"%s","po_number":%s,"description":"%s"}' \
    "$1" "$2" "$3" "$(day "$4")" "$(day "$5")" "$6" "$po" "$8")"
}

contacts=0

# ------------------------------------------------------------------ customers
northwind=$(new POST /v1/customers '{
  "name": "Northwind Traders", "kind": "commercial", "external_id": "ERP-C-1001",
  "email": "ap@northwind.example", "phone": "+1 206 555 0100",
  "timezone": "America/Los_Angeles", "preferred_contact_days": ["mon", "wed"],
  "collector": "maria@acme-ar.example", "salesperson": "lee@acme.example",
  "notes": "Pays by wire. Remittance advice goes to Dana, approvals to Rob."}')
contact "$northwind" '{"name": "Dana Whitfield", "role": "accounts_payable", "email": "dana.whitfield@northwind.example", "phone": "+1 206 555 0142", "is_primary": true}'
contact "$northwind" '{"name": "Rob Okafor", "role": "owner", "email": "rob@northwind.example", "phone": "+1 206 555 0101"}'

bluebird=$(new POST /v1/customers '{
  "name": "Bluebird Logistics LLC", "kind": "commercial", "external_id": "ERP-C-1002",
  "email": "payables@bluebird-logistics.example", "phone": "+1 312 555 0175",
  "timezone": "America/Chicago", "cadence_days": 5,
  "collector": "sam@acme-ar.example", "salesperson": "priya@acme.example"}')
contact "$bluebird" '{"name": "Hannah Price", "role": "billing", "email": "hannah.price@bluebird-logistics.example", "phone": "+1 312 555 0176", "is_primary": true}'
contact "$bluebird" '{"name": "Victor Lee", "role": "purchasing", "email": "victor.lee@bluebird-logistics.example"}'

keller=$(new POST /v1/customers '{
  "name": "Keller Maschinenbau GmbH", "kind": "commercial", "external_id": "ERP-C-1003",
  "email": "buchhaltung@keller-mb.example", "phone": "+49 711 555 3300",
  "timezone": "Europe/Berlin", "preferred_contact_days": ["tue", "thu"],
  "collector": "maria@acme-ar.example", "salesperson": "jonas@acme.example"}')
contact "$keller" '{"name": "Sabine Hartmann", "role": "accounts_payable", "email": "s.hartmann@keller-mb.example", "phone": "+49 711 555 3312", "is_primary": true}'
contact "$keller" '{"name": "Thomas Keller", "role": "owner", "email": "t.keller@keller-mb.example"}'

harbor=$(new POST /v1/customers '{
  "name": "Harbor View Dental Group", "kind": "commercial", "external_id": "ERP-C-1004",
  "email": "office@harborviewdental.example", "phone": "+1 617 555 0190",
  "timezone": "America/New_York", "check_in_days": 90,
  "collector": "sam@acme-ar.example", "salesperson": "lee@acme.example"}')
contact "$harbor" '{"name": "Grace Nguyen", "role": "billing", "email": "grace@harborviewdental.example", "phone": "+1 617 555 0191", "is_primary": true}'
contact "$harbor" '{"name": "Dr. Alan Brooks", "role": "owner", "phone": "+1 617 555 0199"}'

granite=$(new POST /v1/customers '{
  "name": "Granite Peak Construction", "kind": "commercial", "external_id": "ERP-C-1005",
  "email": "ap@granitepeak.example", "phone": "+1 303 555 0123",
  "timezone": "America/Denver", "cadence_days": 2,
  "collector": "maria@acme-ar.example", "salesperson": "priya@acme.example",
  "notes": "Largest account. Disputed pricing on GP-5002 settled by credit."}')
contact "$granite" '{"name": "Jorge Ortega", "role": "accounts_payable", "email": "jorge.ortega@granitepeak.example", "phone": "+1 303 555 0124", "is_primary": true}'
contact "$granite" '{"name": "Kim Sorensen", "role": "purchasing", "email": "kim.sorensen@granitepeak.example", "phone": "+1 303 555 0127"}'

carter=$(new POST /v1/customers '{
  "name": "Emily Carter", "kind": "consumer",
  "email": "emily.carter@mail.example", "phone": "+1 404 555 0166",
  "timezone": "America/New_York", "preferred_contact_days": ["fri", "sat"],
  "collector": "sam@acme-ar.example"}')
contact "$carter" '{"name": "Emily Carter", "role": "owner", "email": "emily.carter@mail.example", "phone": "+1 404 555 0166", "is_primary": true}'
contact "$carter" '{"name": "Daniel Carter", "role": "other", "phone": "+1 404 555 0167"}'

alvarez=$(new POST /v1/customers '{
  "name": "Marcus Alvarez", "kind": "consumer",
  "email": "m.alvarez@mail.example", "phone": "+1 602 555 0148",
  "timezone": "America/Phoenix", "cease_communication": true,
  "collector": "sam@acme-ar.example",
  "notes": "Asked in writing for no further contact. Letters only through counsel."}')
contact "$alvarez" '{"name": "Marcus Alvarez", "role": "owner", "email": "m.alvarez@mail.example", "phone": "+1 602 555 0148", "is_primary": true}'
contact "$alvarez" '{"name": "Lopez & Reid LLP", "role": "other", "email": "intake@lopezreid.example", "phone": "+1 602 555 0100"}'

sunrise=$(new POST /v1/customers '{
  "name": "Sunrise Bakery & Cafe", "kind": "commercial", "external_id": "ERP-C-1008",
  "email": "owner@sunrisebakery.example", "phone": "+1 503 555 0112",
  "timezone": "America/Los_Angeles", "check_in_days": 60, "cease_communication": false,
  "collector": "maria@acme-ar.example", "salesperson": "lee@acme.example"}')
contact "$sunrise" '{"name": "Rosa Delgado", "role": "owner", "email": "owner@sunrisebakery.example", "phone": "+1 503 555 0112", "is_primary": true}'
contact "$sunrise" '{"name": "Ben Foster", "role": "billing", "email": "ben@sunrisebakery.example"}'

# ------------------------------------------------------------------- invoices
# Northwind's come from its ERP through the idempotent upsert.
erp_invoice() { # EXTERNAL_ID NUMBER AMOUNT ISSUED_DAYS DUE_DAYS PO DESCRIPTION
  new PUT "/v1/invoices/external/$1" "$(printf '{"customer_id":"%s","number":"%s","amount":%s,"issued_on":"%s","due_on":"%s","currency":"USD","po_number":"%s","description":"%s"}' \
    "$northwind" "$2" "$3" "$(day "$4")" "$(day "$5")" "$6" "$7")"
}
erp_invoice ERP-I-88101 NW-1001 1250000 -95 -65 PO-7702 "Warehouse racking, phase 1" >/dev/null
nw1002=$(erp_invoice ERP-I-88102 NW-1002 480000 -50 -20 PO-7745 "Forklift maintenance, Q3")
erp_invoice ERP-I-88103 NW-1003 735050 -10 20 PO-7781 "Warehouse racking, phase 2" >/dev/null
nw1004=$(erp_invoice ERP-I-88104 NW-1004 96000 -130 -100 PO-7650 "Safety inspection")
erp_invoice ERP-I-88105 NW-1005 215000 -3 27 PO-7790 "Pallet jacks (4)" >/dev/null

invoice "$bluebird" BB-2001 2340000 -75 -45 USD BL-3391 "Fleet telematics, annual licence" >/dev/null
invoice "$bluebird" BB-2002 1875025 -40 -10 USD BL-3420 "Route optimisation project" >/dev/null
invoice "$bluebird" BB-2003 912000 -5 25 USD BL-3466 "Driver app rollout" >/dev/null
invoice "$bluebird" BB-2004 415000 -140 -110 USD BL-3301 "Onboarding workshop" >/dev/null
invoice "$bluebird" BB-2005 760000 -100 -70 USD BL-3350 "Data migration" >/dev/null

km3001=$(invoice "$keller" KM-3001 3600000 -70 -40 EUR 4500012345 "Steuerungssoftware, Lizenz 2025")
invoice "$keller" KM-3002 1180000 -20 10 EUR 4500012399 "Wartungsvertrag Q1" >/dev/null

invoice "$harbor" HV-4001 68500 -60 -30 USD - "Monthly IT support" >/dev/null
invoice "$harbor" HV-4002 68500 -30 0 USD - "Monthly IT support" >/dev/null
hv4003=$(invoice "$harbor" HV-4003 68500 -90 -60 USD - "Monthly IT support")

gp5001=$(invoice "$granite" GP-5001 4850000 -200 -170 USD GPC-118 "Site survey and soil report")
gp5002=$(invoice "$granite" GP-5002 2275000 -150 -120 USD GPC-131 "Structural steel, lot 2")
invoice "$granite" GP-5003 1320000 -100 -70 USD GPC-140 "Crane rental, 6 weeks" >/dev/null
invoice "$granite" GP-5004 3410000 -15 15 USD GPC-152 "Structural steel, lot 3" >/dev/null

invoice "$carter" EC-6001 45000 -45 -31 USD - "Home solar panel service" >/dev/null
invoice "$carter" EC-6002 32500 -20 -6 USD - "Battery inspection" >/dev/null

invoice "$alvarez" MA-7001 128900 -130 -100 USD - "Roof repair" >/dev/null
invoice "$alvarez" MA-7002 57500 -85 -75 USD - "Gutter replacement" >/dev/null

invoice "$sunrise" SB-8001 86000 -40 -10 USD - "Espresso machine service" >/dev/null
invoice "$sunrise" SB-8002 54000 -12 18 USD - "Grinder parts" >/dev/null
invoice "$sunrise" SB-8003 120000 -70 -40 USD - "Oven repair" >/dev/null

# ------------------------------------------------------------------- payments
# payment CUSTOMER_ID AMOUNT CURRENCY RECEIVED_DAYS METHOD REFERENCE [ALLOCATIONS_JSON]
payment() {
  local alloc=""
  [ -z "${7:-}" ] || alloc=",\"allocations\":$7"
  new POST /v1/payments "$(printf '{"customer_id":"%s","amount":%s,"currency":"%s","received_on":"%s","method":"%s","reference":"%s"%s}' \
    "$1" "$2" "$3" "$(day "$4")" "$5" "$6" "$alloc")"
}

# Explicit allocations: NW-1004 in full, part of NW-1002.
payment "$northwind" 296000 USD -14 wire "FEDWIRE IMAD 0114B1QGC08C000482" \
  "[{\"invoice_id\":\"$nw1004\",\"amount\":96000},{\"invoice_id\":\"$nw1002\",\"amount\":200000}]" >/dev/null
# Auto-allocated, oldest first: BB-2004 in full, then part of BB-2005.
payment "$bluebird" 1000000 USD -9 ach "ACH 031200-55120" >/dev/null
# A partial payment on one EUR invoice.
payment "$keller" 1500000 EUR -21 wire "SEPA KM-3001 Teilzahlung" \
  "[{\"invoice_id\":\"$km3001\",\"amount\":1500000}]" >/dev/null
# Pays all three invoices; 400.00 is left as unapplied credit.
payment "$sunrise" 300000 USD -4 check "Check #2231" >/dev/null
# Auto-allocated: part of the oldest invoice of a consumer.
payment "$carter" 20000 USD -7 card "Visa ending 4421" >/dev/null
payment "$granite" 1000000 USD -30 ach "ACH 102000-11873" \
  "[{\"invoice_id\":\"$gp5001\",\"amount\":1000000}]" >/dev/null
# A check that bounced: the reversal reopens HV-4003.
bounced=$(payment "$harbor" 68500 USD -25 check "Check #5120" \
  "[{\"invoice_id\":\"$hv4003\",\"amount\":68500}]")
api POST "/v1/payments/$bounced/reversal" '{"reason": "Check #5120 returned unpaid: insufficient funds"}' >/dev/null

# ---------------------------------------------------------------- adjustment
api POST "/v1/invoices/$gp5002/adjustments" \
  '{"kind": "credit", "amount": -275000, "reason": "Pricing error on line 3, agreed with Jorge Ortega"}' >/dev/null

# ---------------------------------------------------------- collection work
# at DAYS HOUR: an instant DAYS days from now at HOUR:00 UTC.
at() { date -u -d "$1 days" +%Y-%m-%dT"$2":00:00Z; }
call() { api POST /v1/call-logs "$1" >/dev/null; }
# Bluebird did not pick up four days ago: a retry comes due after its 5-day cadence.
call "$(printf '{"customer_id":"%s","channel":"phone","direction":"outbound","outcome":"no_answer","contact_name":"Hannah Price","notes":"Rang twice, no voicemail box.","occurred_at":"%s"}' "$bluebird" "$(at -4 15)")"
# Keller answered and promised the rest of KM-3001 by Friday week.
call "$(printf '{"customer_id":"%s","channel":"phone","direction":"outbound","outcome":"reached","contact_name":"Sabine Hartmann","notes":"Second instalment approved, goes out with the next payment run.","occurred_at":"%s","satisfaction":4,"promise":{"amount":2100000,"currency":"EUR","promised_on":"%s","method":"wire","invoice_ids":["%s"]}}' "$keller" "$(at -1 09)" "$(day 6)" "$km3001")"
# Granite was reached two weeks ago without a commitment: due for a retry.
call "$(printf '{"customer_id":"%s","channel":"phone","direction":"outbound","outcome":"reached","contact_name":"Jorge Ortega","notes":"Waiting for the owner to sign off; call back.","occurred_at":"%s"}' "$granite" "$(at -14 16)")"
# Carter disputes the panel service: a damaged inverter was not replaced.
api POST /v1/disputes "$(printf '{"invoice_id":"%s","reason":"damaged","amount":45000,"notes":"Inverter still faulty after the visit."}' "$(api GET "/v1/invoices?customer_id=$carter&limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')")" >/dev/null
# Northwind confirmed it received the newest invoice.
api POST "/v1/invoices/$(api GET '/v1/invoices?number=NW-1005' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')/receipt-confirmation" \
  '{"confirmed_by": "Dana Whitfield", "via": "email"}' >/dev/null

# Mario Alvarez cannot pay at once: three monthly instalments over both
# invoices (P7); while the plan runs they are not dunned as overdue.
ma_invoices=$(api GET "/v1/invoices?customer_id=$alvarez&status=open" |
  python3 -c 'import json,sys; print(json.dumps([i["id"] for i in json.load(sys.stdin)["data"]]))')
api POST /v1/payment-plans "$(printf '{"customer_id":"%s","invoice_ids":%s,"count":3,"frequency":"monthly","first_due_on":"%s","notes":"Agreed on the phone: pays after payday."}' \
  "$alvarez" "$ma_invoices" "$(day 7)")" >/dev/null
# Granite Peak is months overdue and the owner does not call back: a manager
# takes the account over (P8).
api POST /v1/escalations "$(printf '{"customer_id":"%s","level":"management","reason":"Months overdue; the owner does not return calls."}' "$granite")" >/dev/null

# The morning sweep, so the worklist is there at once.
api POST /v1/scheduler/runs '{}' >/dev/null

# The summary counts what the API now answers.
count() {
  local page
  page=$(api GET "$1") || exit 1
  printf '%s' "$page" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))'
}
echo "demo data loaded into $ARC_URL: $(count '/v1/customers?limit=200') customers," \
  "$contacts contacts, $(count '/v1/invoices?limit=200') invoices" \
  "($(count "/v1/invoices?overdue_as_of=$(day 0)&limit=200") overdue)," \
  "$(count '/v1/payments?limit=200') payments ($(count '/v1/payments?status=reversed') reversed)," \
  "1 credit adjustment, 3 calls, 1 promise, 1 dispute, 1 payment plan, 1 escalation;" \
  "$(count "/v1/follow-ups?due_on=$(day 0)&limit=200") follow-ups due today"
