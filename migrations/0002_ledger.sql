-- The ledger: customers, contacts, invoices and their adjustments, payments
-- and their allocations.  Every collections table carries customer_id (SPEC §5).
-- Constraints are named <table>_<field>_<kind> so errors name the field.

CREATE TABLE customers (
  id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  external_id            text CONSTRAINT customers_external_id_key UNIQUE,
  name                   text NOT NULL,
  kind                   text NOT NULL DEFAULT 'commercial'
                         CONSTRAINT customers_kind_check CHECK (kind IN ('commercial', 'consumer')),
  email                  text,
  phone                  text,
  timezone               text NOT NULL DEFAULT 'UTC'
                         CONSTRAINT customers_timezone_fkey REFERENCES timezones (name),
  -- NULL: the default for the kind (commercial mon; consumer thu, fri).
  preferred_contact_days text[]
                         CONSTRAINT customers_preferred_contact_days_check
                         CHECK (preferred_contact_days <@ ARRAY['mon','tue','wed','thu','fri','sat','sun']),
  -- NULL: the configured default.
  cadence_days           integer CONSTRAINT customers_cadence_days_check CHECK (cadence_days BETWEEN 1 AND 365),
  check_in_days          integer CONSTRAINT customers_check_in_days_check CHECK (check_in_days BETWEEN 1 AND 3650),
  collector              text,
  salesperson            text,
  cease_communication    boolean NOT NULL DEFAULT false,
  notes                  text,
  version                bigint NOT NULL DEFAULT 1,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_updated_at_idx ON customers (updated_at, id);
CREATE INDEX customers_collector_idx ON customers (collector, id);

CREATE TABLE contacts (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id bigint NOT NULL CONSTRAINT contacts_customer_id_fkey REFERENCES customers (id),
  name        text NOT NULL,
  role        text NOT NULL DEFAULT 'other'
              CONSTRAINT contacts_role_check
              CHECK (role IN ('accounts_payable', 'billing', 'owner', 'purchasing', 'other')),
  email       text,
  phone       text,
  is_primary  boolean NOT NULL DEFAULT false,
  version     bigint NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_customer_idx ON contacts (customer_id, id);
-- At most one primary contact per customer.
CREATE UNIQUE INDEX contacts_is_primary_key ON contacts (customer_id) WHERE is_primary;

CREATE TABLE invoices (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id          bigint NOT NULL CONSTRAINT invoices_customer_id_fkey REFERENCES customers (id),
  external_id          text CONSTRAINT invoices_external_id_key UNIQUE,
  number               text NOT NULL CONSTRAINT invoices_number_key UNIQUE,
  currency             text NOT NULL CONSTRAINT invoices_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
  original_amount      bigint NOT NULL
                       CONSTRAINT invoices_original_amount_check CHECK (original_amount BETWEEN 1 AND 9007199254740991),
  -- The amount after adjustments; balance is what is still owed of it.
  amount               bigint NOT NULL CONSTRAINT invoices_amount_check CHECK (amount BETWEEN 0 AND 9007199254740991),
  balance              bigint NOT NULL CONSTRAINT invoices_balance_check CHECK (balance >= 0 AND balance <= amount),
  issued_on            date NOT NULL,
  due_on               date NOT NULL,
  po_number            text,
  description          text,
  factored             boolean NOT NULL DEFAULT false,
  -- open and paid follow the balance (trigger); void and written_off are set.
  status               text NOT NULL DEFAULT 'open'
                       CONSTRAINT invoices_status_check CHECK (status IN ('open', 'paid', 'void', 'written_off')),
  receipt_confirmed_at  timestamptz,
  receipt_confirmed_via text,
  receipt_confirmed_by  text,
  version              bigint NOT NULL DEFAULT 1,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  -- When a corrected invoice was resubmitted: it restarts the overdue clock
  -- from its new due date.
  resubmitted_on       date,
  -- The active payment plan the invoice is in (NULL when none; the foreign
  -- key is added with the plans in 0005): set when a plan is made, cleared
  -- when it completes, defaults or is cancelled.  Lets the sweep leave
  -- covered invoices alone without a join, and makes "not already in an
  -- active plan" a conditional update under the invoice lock.
  plan_id              bigint,
  CONSTRAINT invoices_due_on_check CHECK (due_on >= issued_on)
);
CREATE INDEX invoices_customer_idx ON invoices (customer_id, status, due_on);
CREATE INDEX invoices_open_due_idx ON invoices (due_on) WHERE status = 'open';
CREATE INDEX invoices_updated_at_idx ON invoices (updated_at, id);

-- Credits, debits and corrections: a signed change to the invoice amount.
CREATE TABLE invoice_adjustments (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers (id),
  invoice_id  bigint NOT NULL REFERENCES invoices (id),
  kind        text NOT NULL CONSTRAINT invoice_adjustments_kind_check CHECK (kind IN ('credit', 'debit', 'correction')),
  amount      bigint NOT NULL CONSTRAINT invoice_adjustments_amount_check CHECK (amount <> 0),
  reason      text NOT NULL,
  created_by  text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoice_adjustments_invoice_idx ON invoice_adjustments (invoice_id, id);

CREATE TABLE payments (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id     bigint NOT NULL CONSTRAINT payments_customer_id_fkey REFERENCES customers (id),
  external_id     text CONSTRAINT payments_external_id_key UNIQUE,
  amount          bigint NOT NULL CONSTRAINT payments_amount_check CHECK (amount BETWEEN 1 AND 9007199254740991),
  currency        text NOT NULL CONSTRAINT payments_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
  received_on     date NOT NULL,
  method          text NOT NULL
                  CONSTRAINT payments_method_check CHECK (method IN ('ach', 'wire', 'check', 'card', 'cash', 'other')),
  reference       text,
  status          text NOT NULL DEFAULT 'received'
                  CONSTRAINT payments_status_check CHECK (status IN ('received', 'reversed')),
  -- What is not allocated to invoices: credit kept on the customer.
  unapplied       bigint NOT NULL CONSTRAINT payments_unapplied_check CHECK (unapplied >= 0 AND unapplied <= amount),
  reversed_at     timestamptz,
  reversal_reason text,
  created_by      text,
  version         bigint NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_customer_idx ON payments (customer_id, id);
CREATE INDEX payments_updated_at_idx ON payments (updated_at, id);

CREATE TABLE payment_allocations (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers (id),
  payment_id  bigint NOT NULL REFERENCES payments (id),
  invoice_id  bigint NOT NULL REFERENCES invoices (id),
  amount      bigint NOT NULL CHECK (amount > 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  reversed_at timestamptz
);
CREATE INDEX payment_allocations_payment_idx ON payment_allocations (payment_id);
CREATE INDEX payment_allocations_invoice_idx ON payment_allocations (invoice_id);

-- What the sweep looks up beyond the tables' own indexes.  The open,
-- unfactored invoices by due date, with what the rules read of them: both
-- the overdue side (due_on < day) and the receipt side (due_on >= day) are
-- index-only scans instead of reading a third of the invoice table.
CREATE INDEX invoices_open_sweep_idx ON invoices (due_on)
  INCLUDE (customer_id, id, currency, balance, issued_on, receipt_confirmed_at, plan_id)
  WHERE status = 'open' AND NOT factored;
-- Payments of the last days (thank_you), allocations of a customer (is it new?).
CREATE INDEX payments_received_on_idx ON payments (received_on) WHERE status = 'received';
CREATE INDEX payment_allocations_customer_idx ON payment_allocations (customer_id);
