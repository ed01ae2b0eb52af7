-- Collection work (SPEC P1, P4-P6, P10): call logs, promises to pay,
-- disputes.  Logic lives in the migrations that follow; these are the tables.


-- Who (contact_id or contact_name), what (notes), when and how (a promise),
-- channel, direction, outcome.  Append-only: corrections are new entries.
CREATE TABLE call_logs (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id   bigint NOT NULL CONSTRAINT call_logs_customer_id_fkey REFERENCES customers (id),
  invoice_ids   bigint[] NOT NULL DEFAULT '{}',
  channel       text NOT NULL CONSTRAINT call_logs_channel_check
                CHECK (channel IN ('phone', 'email', 'sms', 'letter', 'visit', 'portal')),
  direction     text NOT NULL CONSTRAINT call_logs_direction_check CHECK (direction IN ('outbound', 'inbound')),
  outcome       text NOT NULL CONSTRAINT call_logs_outcome_check
                CHECK (outcome IN ('reached', 'no_answer', 'voicemail', 'wrong_number', 'sent', 'bounced', 'refused')),
  contact_id    bigint CONSTRAINT call_logs_contact_id_fkey REFERENCES contacts (id),
  contact_name  text,
  notes         text,
  occurred_at   timestamptz NOT NULL,
  logged_by     text NOT NULL,
  satisfaction  smallint CONSTRAINT call_logs_satisfaction_check CHECK (satisfaction BETWEEN 1 AND 5),
  -- A successful contact (SPEC §1): an outbound attempt that reached someone,
  -- or any inbound contact.  Kept as a column for the scheduler's rules.
  successful    boolean GENERATED ALWAYS AS (direction = 'inbound' OR outcome = 'reached') STORED,
  version       bigint NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT call_logs_contact_name_check CHECK (contact_id IS NOT NULL OR contact_name IS NOT NULL)
);
CREATE INDEX call_logs_customer_idx ON call_logs (customer_id, occurred_at DESC, id DESC);
CREATE INDEX call_logs_invoice_idx ON call_logs USING gin (invoice_ids);

CREATE TABLE promises (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id   bigint NOT NULL CONSTRAINT promises_customer_id_fkey REFERENCES customers (id),
  call_log_id   bigint CONSTRAINT promises_call_log_id_fkey REFERENCES call_logs (id),
  invoice_ids   bigint[] NOT NULL DEFAULT '{}',
  amount        bigint NOT NULL CONSTRAINT promises_amount_check CHECK (amount BETWEEN 1 AND 9007199254740991),
  currency      text NOT NULL CONSTRAINT promises_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
  promised_on   date NOT NULL,
  method        text CONSTRAINT promises_method_check
                CHECK (method IN ('ach', 'wire', 'check', 'card', 'cash', 'other')),
  status        text NOT NULL DEFAULT 'pending' CONSTRAINT promises_status_check
                CHECK (status IN ('pending', 'kept', 'broken', 'cancelled')),
  -- What the customer paid toward it so far (set when evaluated).
  paid_amount   bigint NOT NULL DEFAULT 0,
  kept_at       timestamptz,
  broken_at     timestamptz,
  cancelled_at  timestamptz,
  cancel_reason text,
  created_by    text NOT NULL,
  version       bigint NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX promises_customer_idx ON promises (customer_id, id);
CREATE INDEX promises_pending_idx ON promises (promised_on) WHERE status = 'pending';

CREATE TABLE disputes (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id      bigint NOT NULL CONSTRAINT disputes_customer_id_fkey REFERENCES customers (id),
  invoice_id       bigint NOT NULL CONSTRAINT disputes_invoice_id_fkey REFERENCES invoices (id),
  call_log_id      bigint CONSTRAINT disputes_call_log_id_fkey REFERENCES call_logs (id),
  reason           text NOT NULL CONSTRAINT disputes_reason_check
                   CHECK (reason IN ('pricing', 'quantity', 'damaged', 'not_received', 'missing_po',
                                     'duplicate', 'quality', 'other')),
  amount           bigint NOT NULL CONSTRAINT disputes_amount_check CHECK (amount BETWEEN 1 AND 9007199254740991),
  notes            text,
  status           text NOT NULL DEFAULT 'open' CONSTRAINT disputes_status_check
                   CHECK (status IN ('open', 'resolved', 'rejected')),
  resolution       text CONSTRAINT disputes_resolution_check
                   CHECK (resolution IN ('credit_issued', 'corrected_invoice', 'customer_accepted', 'other')),
  resolution_notes text,
  adjustment_id    bigint REFERENCES invoice_adjustments (id),
  opened_by        text NOT NULL,
  closed_by        text,
  closed_at        timestamptz,
  version          bigint NOT NULL DEFAULT 1,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT disputes_resolution_required CHECK ((status = 'resolved') = (resolution IS NOT NULL))
);
-- At most one open dispute per invoice.
CREATE UNIQUE INDEX disputes_invoice_id_key ON disputes (invoice_id) WHERE status = 'open';
CREATE INDEX disputes_customer_idx ON disputes (customer_id, id);
-- A call log's document looks up its dispute and its promise; a call log
-- names at most one promise (a cancelled promise keeps its call log, so the
-- call cannot be promised on again).
CREATE INDEX disputes_call_log_id_idx ON disputes (call_log_id);
CREATE UNIQUE INDEX promises_call_log_id_key ON promises (call_log_id);
-- The phone calls of the last days, for consumer protection (P15): a range
-- scan over the window instead of every call log.
CREATE INDEX call_logs_phone_idx ON call_logs (occurred_at) INCLUDE (customer_id, direction, successful)
  WHERE channel = 'phone';
