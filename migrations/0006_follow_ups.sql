-- Follow-ups (SPEC P1-P3, P5-P9, P11, P12, P15): what the sweep makes for
-- collectors to do.  The rules that make and close them are in
-- src/schedule/rules/.

CREATE TABLE follow_ups (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id    bigint NOT NULL CONSTRAINT follow_ups_customer_id_fkey REFERENCES customers (id),
  reason         text NOT NULL CONSTRAINT follow_ups_reason_check
                 CHECK (reason IN ('confirm_receipt', 'overdue', 'retry', 'promise_broken', 'installment_missed',
                                   'resolve_dispute', 'escalation', 'thank_you', 'check_in')),
  -- What caused it (an invoice's due date, the last contact, a promise, a
  -- payment...).  A cause gets at most one follow-up ever, so a follow-up
  -- someone closed by hand is not made again by the next sweep.
  cause_key      text NOT NULL,
  due_on         date NOT NULL,
  assignee       text,
  -- The customer's overdue, dunnable balance when the sweep last looked, in
  -- its largest overdue currency (no exchange rates: amounts in different
  -- currencies are not added up).
  amount_overdue bigint NOT NULL DEFAULT 0,
  currency       text,
  invoice_ids    bigint[] NOT NULL DEFAULT '{}',
  promise_id     bigint REFERENCES promises (id),
  dispute_id     bigint REFERENCES disputes (id),
  payment_id     bigint REFERENCES payments (id),
  status         text NOT NULL DEFAULT 'open'
                 CONSTRAINT follow_ups_status_check CHECK (status IN ('open', 'done', 'snoozed', 'dismissed')),
  snoozed_until  date,
  note           text,
  -- How it closed: done/dismissed by a person, contact_logged (a call log
  -- for the customer), or cause_gone (paid, disputed, promised...).
  closed_reason  text,
  closed_at      timestamptz,
  closed_by      text,
  run_id         bigint,
  version        bigint NOT NULL DEFAULT 1,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  -- What made it, for the plan and escalation reasons.
  plan_id        bigint REFERENCES payment_plans (id),
  installment_id bigint REFERENCES payment_plan_installments (id),
  escalation_id  bigint REFERENCES escalations (id),
  -- Why a contact follow-up of a consumer is held back (P15), and from and
  -- until when.  held_from is the due_on the hold moved (so a contact on or
  -- after that day still answers it, and due_on can go back when a hold is
  -- lifted early); due_on = held_until while it is held.
  held_from      date,
  held_until     date,
  held_by        text CONSTRAINT follow_ups_held_by_check CHECK (held_by IN ('attempt_cap', 'recent_conversation')),
  CONSTRAINT follow_ups_snoozed_until_check CHECK ((status = 'snoozed') = (snoozed_until IS NOT NULL)),
  CONSTRAINT follow_ups_held_check
    CHECK ((held_by IS NULL) = (held_until IS NULL) AND (held_by IS NULL) = (held_from IS NULL))
);
-- At most one open (or snoozed) follow-up per customer and reason.
CREATE UNIQUE INDEX follow_ups_open_key ON follow_ups (customer_id, reason) WHERE status IN ('open', 'snoozed');
CREATE UNIQUE INDEX follow_ups_cause_key ON follow_ups (customer_id, reason, cause_key);
CREATE INDEX follow_ups_worklist_idx ON follow_ups (due_on) WHERE status = 'open';
CREATE INDEX follow_ups_customer_idx ON follow_ups (customer_id, id);
-- What the sweep's rules look up: snoozed follow-ups to wake,
-- confirm_receipt follow-ups closed (asked once), open installment_missed
-- and escalation follow-ups to review, held ones to release.
CREATE INDEX follow_ups_snoozed_idx ON follow_ups (snoozed_until) WHERE status = 'snoozed';
CREATE INDEX follow_ups_receipts_asked_idx ON follow_ups (customer_id)
  WHERE reason = 'confirm_receipt' AND status IN ('done', 'dismissed');
CREATE INDEX follow_ups_installment_missed_idx ON follow_ups (customer_id)
  WHERE reason = 'installment_missed' AND status IN ('open', 'snoozed');
CREATE INDEX follow_ups_escalation_idx ON follow_ups (escalation_id)
  WHERE reason = 'escalation' AND status IN ('open', 'snoozed');
CREATE INDEX follow_ups_held_idx ON follow_ups (customer_id) WHERE held_by IS NOT NULL;

-- A follow-up's document (arc_follow_up_doc): to_jsonb of a row of this
-- type converts each column once per statement, where jsonb_build_object
-- with 60 arguments looks up every conversion on every call.
CREATE TYPE arc_follow_up_document AS (
  id text, customer_id text, customer_name text, reason text, priority integer, due_on text,
  assignee text, amount_overdue bigint, currency text, invoice_ids jsonb, promise_id text,
  dispute_id text, payment_id text, plan_id text, installment_id text, escalation_id text,
  preferred_today boolean, held_from text, held_until text, held_by text, status text,
  snoozed_until text, note text, closed_reason text, closed_at text, closed_by text, run_id text,
  version bigint, created_at text, updated_at text, callable_now boolean, call_restriction text,
  callable_from text);
