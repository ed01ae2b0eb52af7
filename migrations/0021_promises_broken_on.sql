-- The business day a promise broke (issue 13): the day of the evaluation
-- that found it broken (a sweep's as_of, or the day of the payment or
-- reversal that decided it).  broken_at says when that was recorded, in
-- real time, also in a sweep replayed for another day; the sweep's rules go
-- by this day (src/schedule/rules/promise_broken.sql).  Existing broken
-- promises take the day of their broken_at, without events or new versions
-- (user triggers off for the backfill).
ALTER TABLE promises ADD COLUMN broken_on date;
ALTER TABLE promises DISABLE TRIGGER USER;
UPDATE promises SET broken_on = (broken_at AT TIME ZONE current_setting('TimeZone'))::date
WHERE status = 'broken';
ALTER TABLE promises ENABLE TRIGGER USER;
CREATE INDEX promises_broken_idx ON promises (broken_on) WHERE status = 'broken';
