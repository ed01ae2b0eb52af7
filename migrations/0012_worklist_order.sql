-- The worklist order (SPEC P9) kept on the follow-up, so that a page of
-- GET /v1/follow-ups is an index range scan instead of a sort of every open
-- follow-up.  The order is (-amount_overdue, NOT preferred, priority,
-- due_on, id), ascending; the page cursor is that key of the last row.
-- Who keeps the two new columns true is said at the top of
-- src/schedule/follow_ups.sql; the statements are in follow_ups_repo.c.

-- priority: arc_follow_up_priority(reason), set when the row is written.
-- preferred: whether the customer's contact days include the day
-- worklist_order.preferred_on, kept for open and snoozed follow-ups.
-- No defaults: the sweep's rules write both, and a row written without
-- them gets them from a trigger.  Follow-ups made before this migration
-- get 0 and false: the closed ones are in no worklist, and the first sweep
-- sets both on every open and snoozed one.
ALTER TABLE follow_ups
  ADD COLUMN priority  smallint NOT NULL DEFAULT 0,
  ADD COLUMN preferred boolean NOT NULL DEFAULT false;
ALTER TABLE follow_ups
  ALTER COLUMN priority DROP DEFAULT,
  ALTER COLUMN preferred DROP DEFAULT;

-- The day the follow-ups' preferred is for: the business day of the last
-- sweep (its refresh rule sets it).  NULL until a sweep ran, and again after
-- the code is reloaded (the functions the order comes from may have
-- changed).  A worklist listed for any other day computes the order per
-- request instead.  One row.
CREATE TABLE worklist_order (
  one          boolean PRIMARY KEY DEFAULT true CONSTRAINT worklist_order_one_check CHECK (one),
  preferred_on date
);
INSERT INTO worklist_order DEFAULT VALUES;

-- The order itself, partial on open follow-ups: the whole list, a
-- collector's (assignee) and one reason's.  A customer's list uses
-- follow_ups_customer_idx: at most one open follow-up per reason.
CREATE INDEX follow_ups_worklist_order_idx ON follow_ups
  ((-amount_overdue), (NOT preferred), priority, due_on, id) WHERE status = 'open';
CREATE INDEX follow_ups_worklist_assignee_idx ON follow_ups
  (assignee, (-amount_overdue), (NOT preferred), priority, due_on, id) WHERE status = 'open';
CREATE INDEX follow_ups_worklist_reason_idx ON follow_ups
  (reason, (-amount_overdue), (NOT preferred), priority, due_on, id) WHERE status = 'open';
