-- CSV imports (POST /v1/imports): a file of customers, invoices or payments
-- as an accounting package exports it, upserted by external_id as a job.
--
-- The way of a file.  The upload streams the body into COPY ... FROM STDIN
-- (FORMAT csv, HEADER) on a connection of its own: PostgreSQL is the CSV
-- parser, and the staging table for the kind (import_<kind>_rows, all text
-- columns named as the API's fields) holds the rows, numbered in file order
-- by the upload's own temporary sequence.  The imports row and its staged
-- rows commit together, so a queued job always has its rows.  A worker
-- (import_job.c) then runs the job in one transaction, a batch of rows at
-- a time:
--
--   arc_import_duplicates   rows repeating an external_id (or an invoice
--                           number) of an earlier row, once per job;
--   arc_import_check        every field of every row of a batch, set-based,
--                           with the rules of the API's upserts;
--   arc_import_apply        the batch's rows without errors, set-based, with
--                           the upserts' own functions (arc_customer_insert /
--                           _update, arc_invoice_adjust, arc_payment_upsert);
--                           when the batch as a whole raises, it is applied
--                           again row by row to find and report the rows.
--
-- Errors and progress are written by a second connection and committed at
-- once, so GET shows them while the job runs; the job's transaction reads
-- the committed errors (READ COMMITTED) to skip the rows they name.  The
-- job's transaction commits the applied rows with the final status, or
-- (all_or_nothing with any error) rolls back, so nothing is applied.
--
-- Restarts.  The job's transaction holds an advisory lock on the job for
-- as long as it runs.  A job still queued or running whose lock nobody
-- holds was interrupted (a stop, a crash): the next worker of any instance
-- runs it again from its first row; the interrupted transaction applied
-- nothing.  After three starts it is failed instead.

CREATE FUNCTION arc_import_json(i imports) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM (SELECT
    i.id::text AS id,
    i.kind,
    i.mode,
    i.status,
    i.columns,
    i.bytes,
    i.rows_total,
    i.rows_done,
    i.rows_applied,
    i.rows_failed,
    i.error_count,
    i.error,
    i.attempts,
    i.created_by,
    i.request_id,
    i.version,
    arc_ts(i.created_at) AS created_at,
    arc_ts(i.updated_at) AS updated_at,
    arc_ts(i.started_at) AS started_at,
    arc_ts(i.finished_at) AS finished_at) d);
END
$$;

CREATE FUNCTION arc_import_error_json(e import_errors) RETURNS json
LANGUAGE plpgsql IMMUTABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM (SELECT e.id::text AS id, e.file_row AS "row", e.field, e.message) d);
END
$$;

-- ---------------------------------------------------------------------------
-- The job's life.

-- The oldest job that is queued, or running without a worker (its worker's
-- transaction, which held this lock, is gone).  The lock is held until the
-- calling transaction ends.
CREATE FUNCTION arc_import_claim() RETURNS bigint
LANGUAGE plpgsql AS
$$
DECLARE
  v bigint;
BEGIN
  FOR v IN SELECT i.id FROM imports i WHERE i.status IN ('queued', 'running') ORDER BY i.id LOOP
    IF pg_try_advisory_xact_lock(hashtextextended('imports.job:' || v, 7250023)) THEN
      RETURN v;
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;

-- Counts for the job document from its committed errors.
CREATE FUNCTION arc_import_progress(p_import bigint, p_done bigint, p_applied bigint) RETURNS void
LANGUAGE sql AS
$$
  UPDATE imports i SET
    rows_done = p_done,
    rows_applied = p_applied,
    rows_failed = (SELECT count(DISTINCT e.file_row) FROM import_errors e WHERE e.import_id = p_import),
    error_count = (SELECT count(*) FROM import_errors e WHERE e.import_id = p_import)
  WHERE i.id = p_import
$$;

-- Drops a job's staged rows (its kind's table only).
CREATE FUNCTION arc_import_unstage(p_import bigint) RETURNS void
LANGUAGE plpgsql AS
$$
BEGIN
  CASE (SELECT kind FROM imports WHERE id = p_import)
    WHEN 'customers' THEN DELETE FROM import_customer_rows WHERE import_id = p_import;
    WHEN 'invoices' THEN DELETE FROM import_invoice_rows WHERE import_id = p_import;
    ELSE DELETE FROM import_payment_rows WHERE import_id = p_import;
  END CASE;
END
$$;
