-- Handles (people, as opaque strings such as e-mail addresses: a
-- customer's collector and salesperson, who works an escalation or a
-- follow-up) are case-insensitive: stored in lower case, whatever the case
-- a client or an import sends, so that every comparison (the worklist's
-- assignee, the lists' filters, which compare with lower($n), the reports'
-- groups) matches "Maria@Example.com" with "maria@example.com".  The
-- triggers fire only for a value not yet in lower case (WHEN, evaluated
-- without calling the function): the sweep's 100k follow-ups, copied from
-- customers, pay nothing.
CREATE FUNCTION arc_handles_lower() RETURNS trigger
LANGUAGE plpgsql AS
$$
BEGIN
  IF TG_TABLE_NAME = 'customers' THEN
    NEW.collector := lower(NEW.collector);
    NEW.salesperson := lower(NEW.salesperson);
  ELSE
    NEW.assignee := lower(NEW.assignee);
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER customers_handles BEFORE INSERT OR UPDATE OF collector, salesperson ON customers FOR EACH ROW
  WHEN (NEW.collector <> lower(NEW.collector) OR NEW.salesperson <> lower(NEW.salesperson))
  EXECUTE FUNCTION arc_handles_lower();
CREATE TRIGGER escalations_handles BEFORE INSERT OR UPDATE OF assignee ON escalations FOR EACH ROW
  WHEN (NEW.assignee <> lower(NEW.assignee))
  EXECUTE FUNCTION arc_handles_lower();
CREATE TRIGGER follow_ups_handles BEFORE INSERT OR UPDATE OF assignee ON follow_ups FOR EACH ROW
  WHEN (NEW.assignee <> lower(NEW.assignee))
  EXECUTE FUNCTION arc_handles_lower();
