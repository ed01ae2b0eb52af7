-- CSV imports (POST /v1/imports): the jobs, their errors, and the staging
-- tables their rows are copied into.  How a job runs is explained at the
-- top of src/integrate/imports.sql.

CREATE TABLE imports (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind         text NOT NULL CONSTRAINT imports_kind_check CHECK (kind IN ('customers', 'invoices', 'payments')),
  mode         text NOT NULL CONSTRAINT imports_mode_check CHECK (mode IN ('all_or_nothing', 'valid_rows')),
  status       text NOT NULL DEFAULT 'queued'
               CONSTRAINT imports_status_check
               CHECK (status IN ('queued', 'running', 'succeeded', 'partially_applied', 'failed')),
  columns      text[] NOT NULL,
  bytes        bigint NOT NULL DEFAULT 0,
  rows_total   bigint NOT NULL DEFAULT 0,
  rows_done    bigint NOT NULL DEFAULT 0, -- rows checked (and applied when they could be)
  rows_applied bigint NOT NULL DEFAULT 0,
  rows_failed  bigint NOT NULL DEFAULT 0, -- rows with at least one error
  error_count  bigint NOT NULL DEFAULT 0,
  error        text,                      -- why the job as a whole failed
  attempts     integer NOT NULL DEFAULT 0,
  created_by   text,
  request_id   text,
  version      bigint NOT NULL DEFAULT 1,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  finished_at  timestamptz
);
CREATE INDEX imports_pending_idx ON imports (id) WHERE status IN ('queued', 'running');

-- Row numbers are the file's: the header is row 1.  A field is NULL for an
-- error about the row as a whole (or the file, for unreadable CSV).
CREATE TABLE import_errors (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  import_id bigint NOT NULL CONSTRAINT import_errors_import_id_fkey REFERENCES imports (id),
  file_row  bigint NOT NULL,
  field     text,
  message   text NOT NULL
);
CREATE INDEX import_errors_row_idx ON import_errors (import_id, file_row, id);

-- No foreign key to imports: staged rows live only until their job ends,
-- and a key check per row would slow COPY down for nothing.
-- Staged rows are numbered 1, 2, ... in file order (data rows only; the
-- file row is rn + 1) by the upload connection's own temporary sequence
-- pg_temp.arc_import_rn, so concurrent uploads cannot interleave their
-- numbers.  Named as text, the sequence is looked up when a row is
-- inserted, in the inserting session's temporary schema.
CREATE TABLE import_customer_rows (
  import_id              bigint NOT NULL DEFAULT current_setting('arc.import_id')::bigint,
  rn                     bigint NOT NULL DEFAULT nextval('pg_temp.arc_import_rn'::text),
  external_id            text,
  name                   text,
  kind                   text,
  email                  text,
  phone                  text,
  timezone               text,
  preferred_contact_days text,
  cadence_days           text,
  check_in_days          text,
  collector              text,
  salesperson            text,
  cease_communication    text,
  notes                  text,
  PRIMARY KEY (import_id, rn)
);

CREATE TABLE import_invoice_rows (
  import_id            bigint NOT NULL DEFAULT current_setting('arc.import_id')::bigint,
  rn                   bigint NOT NULL DEFAULT nextval('pg_temp.arc_import_rn'::text),
  external_id          text,
  customer_external_id text,
  customer_id          text,
  number               text,
  currency             text,
  amount               text,
  issued_on            text,
  due_on               text,
  po_number            text,
  description          text,
  factored             text,
  PRIMARY KEY (import_id, rn)
);

CREATE TABLE import_payment_rows (
  import_id            bigint NOT NULL DEFAULT current_setting('arc.import_id')::bigint,
  rn                   bigint NOT NULL DEFAULT nextval('pg_temp.arc_import_rn'::text),
  external_id          text,
  customer_external_id text,
  customer_id          text,
  amount               text,
  currency             text,
  received_on          text,
  method               text,
  reference            text,
  invoice_external_id  text,
  invoice_number       text,
  PRIMARY KEY (import_id, rn)
);
