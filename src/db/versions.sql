-- Every versioned row: version + 1 and updated_at on each real change.
CREATE FUNCTION arc_touch() RETURNS trigger
LANGUAGE plpgsql AS
$$
BEGIN
  IF NEW IS DISTINCT FROM OLD THEN
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER api_keys_touch BEFORE UPDATE ON api_keys FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER customers_touch BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER contacts_touch BEFORE UPDATE ON contacts FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER invoices_touch BEFORE UPDATE ON invoices FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER payments_touch BEFORE UPDATE ON payments FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER promises_touch BEFORE UPDATE ON promises FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER disputes_touch BEFORE UPDATE ON disputes FOR EACH ROW EXECUTE FUNCTION arc_touch();

-- Every column but priority and preferred, the worklist order kept on the
-- row (src/schedule/follow_ups.sql): the statements that keep the order
-- set only those, and make no new version.  A new column of follow_ups is
-- added here (tests/http/test_worklist.c checks the list).
CREATE TRIGGER follow_ups_touch BEFORE UPDATE OF
  id, customer_id, reason, cause_key, due_on, assignee, amount_overdue, currency, invoice_ids, promise_id,
  dispute_id, payment_id, status, snoozed_until, note, closed_reason, closed_at, closed_by, run_id, version,
  created_at, updated_at, plan_id, installment_id, escalation_id, held_from, held_until, held_by,
  closed_by_call_log_id, overdue_since
  ON follow_ups FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER payment_plans_touch BEFORE UPDATE ON payment_plans FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER escalations_touch BEFORE UPDATE ON escalations FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER webhooks_touch BEFORE UPDATE ON webhooks FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER imports_touch BEFORE UPDATE ON imports FOR EACH ROW EXECUTE FUNCTION arc_touch();
