-- Handles are case-insensitive (issue 14; src/util/handles.sql keeps them
-- in lower case from now on): the ones already stored, in lower case.
UPDATE customers SET collector = lower(collector), salesperson = lower(salesperson)
WHERE collector <> lower(collector) OR salesperson <> lower(salesperson);
UPDATE escalations SET assignee = lower(assignee) WHERE assignee <> lower(assignee);
UPDATE follow_ups SET assignee = lower(assignee) WHERE assignee <> lower(assignee);
