-- Marks for the sweep (migrations/0016_sweep_changes.sql): every statement
-- that writes what the rules read marks the customers it wrote for, so that
-- a sweep can tell that nothing changed since the last one.  The sweep's
-- own writes (arc.sweeping, set in its transaction) mark nothing: what a
-- sweep writes, the same sweep again would leave as it is.
--
-- One statement per writing statement, not per row; a customer already
-- marked by this transaction is not written again.  Contacts are not
-- marked: no rule reads them.
CREATE FUNCTION arc_sweep_changes_mark() RETURNS trigger
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS
$$
BEGIN
  IF current_setting('arc.sweeping', true) = 'on' THEN
    RETURN NULL;
  END IF;
  IF TG_TABLE_NAME = 'customers' THEN
    INSERT INTO sweep_changes AS s (customer_id, txid)
    SELECT DISTINCT n.id, pg_current_xact_id() FROM new_rows n
    ON CONFLICT (customer_id) DO UPDATE SET txid = excluded.txid WHERE s.txid <> excluded.txid;
  ELSE
    INSERT INTO sweep_changes AS s (customer_id, txid)
    SELECT DISTINCT n.customer_id, pg_current_xact_id() FROM new_rows n
    ON CONFLICT (customer_id) DO UPDATE SET txid = excluded.txid WHERE s.txid <> excluded.txid;
  END IF;
  RETURN NULL;
END
$$;

-- Every table the rules read, inserted or updated (nothing deletes them).
CREATE TRIGGER customers_sweep_insert AFTER INSERT ON customers REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER customers_sweep_update AFTER UPDATE ON customers REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER invoices_sweep_insert AFTER INSERT ON invoices REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER invoices_sweep_update AFTER UPDATE ON invoices REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER invoice_adjustments_sweep_insert AFTER INSERT ON invoice_adjustments REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER invoice_adjustments_sweep_update AFTER UPDATE ON invoice_adjustments REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER payments_sweep_insert AFTER INSERT ON payments REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER payments_sweep_update AFTER UPDATE ON payments REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER payment_allocations_sweep_insert AFTER INSERT ON payment_allocations REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER payment_allocations_sweep_update AFTER UPDATE ON payment_allocations REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER call_logs_sweep_insert AFTER INSERT ON call_logs REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER call_logs_sweep_update AFTER UPDATE ON call_logs REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER promises_sweep_insert AFTER INSERT ON promises REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER promises_sweep_update AFTER UPDATE ON promises REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER disputes_sweep_insert AFTER INSERT ON disputes REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER disputes_sweep_update AFTER UPDATE ON disputes REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER payment_plans_sweep_insert AFTER INSERT ON payment_plans REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER payment_plans_sweep_update AFTER UPDATE ON payment_plans REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER payment_plan_installments_sweep_insert AFTER INSERT ON payment_plan_installments REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER payment_plan_installments_sweep_update AFTER UPDATE ON payment_plan_installments REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER escalations_sweep_insert AFTER INSERT ON escalations REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER escalations_sweep_update AFTER UPDATE ON escalations REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER follow_ups_sweep_insert AFTER INSERT ON follow_ups REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();
CREATE TRIGGER follow_ups_sweep_update AFTER UPDATE ON follow_ups REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION arc_sweep_changes_mark();

-- The settings and SQL code the rules run with, as one digest: a sweep
-- under other ones runs every rule.
CREATE FUNCTION arc_sweep_basis() RETURNS text
LANGUAGE sql STABLE AS
$$
  SELECT md5(concat_ws('|', arc_playbook_json()::text, current_setting('TimeZone'),
    (SELECT string_agg(c.path || ':' || c.sha256, ',' ORDER BY c.path) FROM schema_code c)))
$$;

-- The customers a write marked since a sweep whose rules saw at least
-- snapshot P_SEEN: those of transactions not visible in it.
CREATE FUNCTION arc_sweep_written_since(p_seen pg_snapshot) RETURNS TABLE (customer_id bigint)
LANGUAGE sql STABLE AS
$$
  SELECT c.customer_id FROM sweep_changes c
  WHERE c.txid >= pg_snapshot_xmin(p_seen) AND NOT pg_visible_in_snapshot(c.txid, p_seen)
$$;

-- The customers with a call log or a receipt confirmation dated in
-- (P_FROM, P_TO]: written before a sweep for P_FROM, they count from a
-- sweep for P_TO on (the only instants the rules compare with as_of).
CREATE FUNCTION arc_sweep_dated_between(p_from timestamptz, p_to timestamptz) RETURNS TABLE (customer_id bigint)
LANGUAGE sql STABLE AS
$$
  SELECT l.customer_id FROM call_logs l WHERE l.occurred_at > p_from AND l.occurred_at <= p_to
  UNION ALL
  SELECT i.customer_id FROM invoices i WHERE i.receipt_confirmed_at > p_from AND i.receipt_confirmed_at <= p_to
$$;

-- The last finished sweep (a sweep in progress has no finished_at): what
-- the next one is measured from.
CREATE FUNCTION arc_sweep_last() RETURNS scheduler_runs
LANGUAGE sql STABLE AS
$$ SELECT r.* FROM scheduler_runs r WHERE r.finished_at IS NOT NULL ORDER BY r.id DESC LIMIT 1 $$;

-- How many days after the last sweep a sweep may still revisit
-- only what changed (arc_sweep_scope); further, every rule runs over the
-- whole book, which then costs no more.
CREATE FUNCTION arc_sweep_incremental_days() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT 31 $$;

-- What a sweep for P_AS_OF has to do, from the last finished sweep:
--   'unchanged'    the same business day, at or after its instant, with the
--                  same basis, and since then no write marked a customer (a
--                  transaction not visible in the snapshot its rules saw at
--                  least) and no call log or receipt confirmation is dated
--                  between the two instants: every rule would leave the
--                  book as it is (a sweep repeated for the same as_of makes
--                  nothing new), so none runs;
--   'incremental'  otherwise, at or after its instant with the same basis,
--                  up to arc_sweep_incremental_days() later: the rules
--                  revisit only the customers something happened to
--                  (src/schedule/sweep_scope.sql);
--   'full'         the first sweep, an earlier instant, another basis, a
--                  longer gap, or P_FULL: every rule over the whole book.
-- STABLE: it reads the snapshot of the statement that records the run and,
-- as its seen, that snapshot.
CREATE FUNCTION arc_sweep_kind(p_as_of timestamptz, p_full boolean) RETURNS text
LANGUAGE plpgsql STABLE AS
$$
DECLARE
  last scheduler_runs;
BEGIN
  IF p_full THEN
    RETURN 'full';
  END IF;
  last := arc_sweep_last();
  IF last.id IS NULL OR last.seen IS NULL OR last.basis IS DISTINCT FROM arc_sweep_basis()
     OR p_as_of < last.as_of
     OR arc_business_date(p_as_of) - arc_business_date(last.as_of) > arc_sweep_incremental_days() THEN
    RETURN 'full';
  END IF;
  IF arc_business_date(p_as_of) = arc_business_date(last.as_of)
     AND NOT EXISTS (SELECT 1 FROM arc_sweep_written_since(last.seen))
     AND NOT EXISTS (SELECT 1 FROM arc_sweep_dated_between(last.as_of, p_as_of)) THEN
    RETURN 'unchanged';
  END IF;
  RETURN 'incremental';
END
$$;
