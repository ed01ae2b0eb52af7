-- Payment plans (SPEC P7) and escalations (P8): the tables, and what the
-- sweep asks of them.  Their logic is in 0017_payment_plans.sql and
-- 0018_escalations.sql; consumer protection (P15) in 0019.


-- A plan over one or more open invoices of one customer and currency.
-- total is what the invoices owed when the plan was made; the installments
-- add up to it.  paid_amount is what payments on the covered invoices
-- brought since (filled into installments in order).
CREATE TABLE payment_plans (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id   bigint NOT NULL CONSTRAINT payment_plans_customer_id_fkey REFERENCES customers (id),
  invoice_ids   bigint[] NOT NULL CONSTRAINT payment_plans_invoice_ids_check CHECK (cardinality(invoice_ids) > 0),
  currency      text NOT NULL CONSTRAINT payment_plans_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
  total         bigint NOT NULL CONSTRAINT payment_plans_total_check CHECK (total BETWEEN 1 AND 9007199254740991),
  -- NULL when the schedule was given installment by installment.
  frequency     text CONSTRAINT payment_plans_frequency_check CHECK (frequency IN ('weekly', 'biweekly', 'monthly')),
  grace_days    integer NOT NULL CONSTRAINT payment_plans_grace_days_check CHECK (grace_days BETWEEN 0 AND 60),
  max_missed    integer NOT NULL CONSTRAINT payment_plans_max_missed_check CHECK (max_missed BETWEEN 1 AND 100),
  status        text NOT NULL DEFAULT 'active' CONSTRAINT payment_plans_status_check
                CHECK (status IN ('active', 'completed', 'defaulted', 'cancelled')),
  paid_amount   bigint NOT NULL DEFAULT 0,
  missed_count  integer NOT NULL DEFAULT 0,
  notes         text,
  created_by    text NOT NULL,
  completed_at  timestamptz,
  defaulted_at  timestamptz,
  cancelled_at  timestamptz,
  cancelled_by  text,
  cancel_reason text,
  version       bigint NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_plans_customer_idx ON payment_plans (customer_id, id);
-- One active plan per customer: a new arrangement replaces the old one
-- (cancel, then make it over all the invoices), so the call sheet, the
-- sweep and the collector see one schedule.
CREATE UNIQUE INDEX payment_plans_customer_id_key ON payment_plans (customer_id) WHERE status = 'active';

CREATE TABLE payment_plan_installments (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  plan_id      bigint NOT NULL CONSTRAINT payment_plan_installments_plan_id_fkey REFERENCES payment_plans (id),
  customer_id  bigint NOT NULL,
  seq          integer NOT NULL,
  due_on       date NOT NULL,
  amount       bigint NOT NULL CONSTRAINT payment_plan_installments_amount_check
               CHECK (amount BETWEEN 1 AND 9007199254740991),
  paid_amount  bigint NOT NULL DEFAULT 0,
  -- missed: unpaid grace_days after due_on; paid later, it is paid and
  -- keeps missed_at (caught up).
  status       text NOT NULL DEFAULT 'pending' CONSTRAINT payment_plan_installments_status_check
               CHECK (status IN ('pending', 'paid', 'missed')),
  missed_at    timestamptz,
  paid_at      timestamptz,
  CONSTRAINT payment_plan_installments_seq_key UNIQUE (plan_id, seq),
  CONSTRAINT payment_plan_installments_paid_amount_check CHECK (paid_amount BETWEEN 0 AND amount)
);
CREATE INDEX payment_plan_installments_due_idx ON payment_plan_installments (due_on) WHERE status = 'pending';


-- Invoices in an active plan (invoices.plan_id, 0002).
ALTER TABLE invoices ADD CONSTRAINT invoices_plan_id_fkey FOREIGN KEY (plan_id) REFERENCES payment_plans (id);
-- Lists by invoice (GET ?invoice_id=), installments still missed (the
-- sweep's installment_missed rule).
CREATE INDEX payment_plans_invoice_ids_idx ON payment_plans USING gin (invoice_ids);
CREATE INDEX payment_plan_installments_missed_idx ON payment_plan_installments (plan_id) WHERE status = 'missed';

-- An account's escalation (P8).  One row climbs the ladder: level is where
-- it stands; proposed_level is a higher level the policy proposes for an
-- open one, until a manager accepts (level rises) or declines it.  A
-- proposed row is a new escalation the policy proposes.
CREATE TABLE escalations (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id    bigint NOT NULL CONSTRAINT escalations_customer_id_fkey REFERENCES customers (id),
  invoice_ids    bigint[] NOT NULL DEFAULT '{}',
  level          text NOT NULL CONSTRAINT escalations_level_check
                 CHECK (level IN ('sales', 'management', 'legal', 'agency')),
  proposed_level text CONSTRAINT escalations_proposed_level_check
                 CHECK (proposed_level IN ('sales', 'management', 'legal', 'agency')),
  declined_level text,
  reason         text NOT NULL,
  assignee       text,
  status         text NOT NULL CONSTRAINT escalations_status_check
                 CHECK (status IN ('proposed', 'open', 'resolved', 'cancelled')),
  outcome        text CONSTRAINT escalations_outcome_check
                 CHECK (outcome IN ('paid', 'plan_agreed', 'letter_sent', 'sent_to_agency', 'legal_action',
                                    'written_off', 'other')),
  outcome_notes  text,
  -- Levels it went through: [{level, opened_at, opened_by, assignee}].
  history        jsonb NOT NULL DEFAULT '[]',
  proposed_by    text NOT NULL,
  proposed_at    timestamptz NOT NULL DEFAULT now(),
  opened_at      timestamptz,
  opened_by      text,
  closed_at      timestamptz,
  closed_by      text,
  run_id         bigint,
  version        bigint NOT NULL DEFAULT 1,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT escalations_outcome_required CHECK ((status = 'resolved') = (outcome IS NOT NULL))
);
-- At most one open or proposed escalation per customer.
CREATE UNIQUE INDEX escalations_customer_id_key ON escalations (customer_id) WHERE status IN ('proposed', 'open');
CREATE INDEX escalations_customer_idx ON escalations (customer_id, id);
-- Closed escalations by customer (the policy does not propose again what a
-- manager closed).
CREATE INDEX escalations_closed_idx ON escalations (customer_id) WHERE status IN ('cancelled', 'resolved');
-- The accounts handed off (an open escalation at legal or agency): every
-- dunnable-invoice test and several rules ask for them, and they are few.
CREATE INDEX escalations_handed_off_idx ON escalations (customer_id)
  WHERE status = 'open' AND level IN ('legal', 'agency');

-- An escalation's document (arc_escalation_doc): to_jsonb of a row of this
-- type converts each column once per statement, where jsonb_build_object
-- with 60 arguments looks up every conversion on every call.
CREATE TYPE arc_escalation_document AS (
  id text, customer_id text, invoice_ids jsonb, level text, proposed_level text, declined_level text,
  reason text, assignee text, status text, outcome text, outcome_notes text, history jsonb,
  handed_off boolean, proposed_by text, proposed_at text, opened_at text, opened_by text,
  closed_at text, closed_by text, run_id text, version bigint, created_at text, updated_at text);
