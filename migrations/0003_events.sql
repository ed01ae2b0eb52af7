-- Events: an append-only record of every change, written in the same
-- transaction as the change, read as a feed (GET /v1/events) and later
-- pushed to webhooks.
--
-- Order and completeness.  Ids come from a sequence, and transactions commit
-- in any order, so "id > cursor" alone would skip an event whose transaction
-- commits after a later id was read.  Each event records its transaction id
-- (xid8, never wraps); the feed orders by (txid, id) and only shows events of
-- transactions older than the oldest one still running
-- (pg_snapshot_xmin).  Any event that becomes visible later belongs to a
-- transaction at or past that horizon, so it sorts after everything already
-- read: a reader following next_cursor never skips one.

CREATE TABLE events (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
  type          text NOT NULL,
  resource_type text NOT NULL,
  resource_id   text NOT NULL,
  customer_id   bigint,
  actor         text NOT NULL,
  request_id    text,
  occurred_at   timestamptz NOT NULL DEFAULT now(),
  data          jsonb NOT NULL
);
CREATE INDEX events_feed_idx ON events (txid, id);
CREATE INDEX events_customer_idx ON events (customer_id, txid, id);
-- Whether this transaction already recorded an event for a row
-- (arc_event_written, asked by every deferred row trigger).  The feed
-- index (txid, id) matches the same txid condition and PostgreSQL cannot
-- tell the two apart by cost, so a cached plan could take it and filter
-- every event of the transaction for each row.  This index holds the
-- transaction id as text, which only that lookup asks for, so it is the
-- one index that fits.  (Leading with the resource instead costs a first
-- sweep 0.8 s: its entries land all over the index instead of at the end
-- of the transaction's range.)
CREATE INDEX events_written_idx ON events ((txid::text), resource_type, resource_id);
-- Written-off invoices, for the aging report (the first event that shows
-- an invoice written off): only those events, so the lookup never scans
-- the feed.
CREATE INDEX events_invoice_written_off_idx ON events (resource_id, occurred_at)
  WHERE resource_type = 'invoice' AND data->>'status' = 'written_off';
