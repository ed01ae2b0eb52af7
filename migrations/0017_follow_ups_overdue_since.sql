-- How long the account of a follow-up has been overdue (issue 14: the
-- worklist shows days_overdue): the due date of its oldest dunnable invoice
-- past due, kept by the sweep beside amount_overdue (rule refresh); NULL
-- when nothing is overdue.  Filled by the next sweep.
ALTER TABLE follow_ups ADD COLUMN overdue_since date;
