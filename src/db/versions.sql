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

CREATE TRIGGER follow_ups_touch BEFORE UPDATE ON follow_ups FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER payment_plans_touch BEFORE UPDATE ON payment_plans FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER escalations_touch BEFORE UPDATE ON escalations FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER webhooks_touch BEFORE UPDATE ON webhooks FOR EACH ROW EXECUTE FUNCTION arc_touch();

CREATE TRIGGER imports_touch BEFORE UPDATE ON imports FOR EACH ROW EXECUTE FUNCTION arc_touch();
