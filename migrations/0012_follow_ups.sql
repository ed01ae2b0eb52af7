-- Follow-ups and scheduler runs (SPEC P1-P3, P5, P6, P9, P11, P12).  The
-- sweep's rules live in 0013_sweep.sql; these are the tables and the parts
-- every rule shares.

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
  CONSTRAINT follow_ups_snoozed_until_check CHECK ((status = 'snoozed') = (snoozed_until IS NOT NULL))
);
-- At most one open (or snoozed) follow-up per customer and reason.
CREATE UNIQUE INDEX follow_ups_open_key ON follow_ups (customer_id, reason) WHERE status IN ('open', 'snoozed');
CREATE UNIQUE INDEX follow_ups_cause_key ON follow_ups (customer_id, reason, cause_key);
CREATE INDEX follow_ups_worklist_idx ON follow_ups (due_on) WHERE status = 'open';
CREATE INDEX follow_ups_customer_idx ON follow_ups (customer_id, id);
CREATE TRIGGER follow_ups_touch BEFORE UPDATE ON follow_ups FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TABLE scheduler_runs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  as_of       timestamptz NOT NULL,
  trigger     text NOT NULL CHECK (trigger IN ('scheduler', 'api')),
  started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz,
  created     jsonb NOT NULL DEFAULT '{}',
  closed      jsonb NOT NULL DEFAULT '{}',
  actor       text
);
CREATE INDEX scheduler_runs_as_of_idx ON scheduler_runs (as_of);

-- The business day of an instant: the date in ARC_TIMEZONE.
CREATE FUNCTION arc_business_date(t timestamptz) RETURNS date
LANGUAGE sql STABLE AS
$$ SELECT (t AT TIME ZONE current_setting('TimeZone'))::date $$;
