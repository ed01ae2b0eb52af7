-- Indexes for the filtered lists (issue 12).  A list with a selective
-- filter runs a statement of its own in which that filter leads, as the
-- range of an index (e.g. invoices_select_page_by_status, LIST_BY in
-- include/arc/statements.h, the conventions' "list statement"), so even a
-- generic plan, made without the filter's value, looks it up.  Each
-- index is (filter, id): the page, ORDER BY id after the keyset cursor,
-- is then a range of the index, read in order and cut at LIMIT, whether
-- the value is rare (no walk of the table to find nothing) or common (no
-- sort).  Filters that already had such an index: customers.collector,
-- invoices.customer_id (invoices_customer_idx: the plan reads the
-- customer's invoices there and sorts them by id, which on the bench book
-- it preferred to a (customer_id, id) index),
-- customers/invoices/payments external_id and invoices.number (unique),
-- payments/promises/disputes/payment_plans/escalations customer_id,
-- payment_plans and call_logs invoice_ids (GIN), promises.call_log_id
-- (unique), events (customer_id, txid, id).

-- A low-cardinality filter too: a rare status (void, written_off) must not
-- walk a million invoices to find a page.
CREATE INDEX invoices_status_list_idx ON invoices (status, id);
CREATE INDEX payments_status_list_idx ON payments (status, id);
CREATE INDEX customers_salesperson_idx ON customers (salesperson, id);
-- call_logs_customer_idx is newest first (the call sheet's); the list is by id.
CREATE INDEX call_logs_customer_list_idx ON call_logs (customer_id, id);
CREATE INDEX call_logs_logged_by_idx ON call_logs (logged_by, id);
CREATE INDEX promises_status_idx ON promises (status, id);
-- ?invoice_id: the promises covering the invoice (invoice_ids @> ARRAY[id]).
CREATE INDEX promises_invoice_ids_idx ON promises USING gin (invoice_ids);
-- disputes_invoice_id_key holds open disputes only; the list shows all.
CREATE INDEX disputes_invoice_idx ON disputes (invoice_id, id);
CREATE INDEX disputes_status_idx ON disputes (status, id);
CREATE INDEX payment_plans_status_idx ON payment_plans (status, id);
CREATE INDEX escalations_status_idx ON escalations (status, id);
CREATE INDEX escalations_assignee_idx ON escalations (assignee, id);
