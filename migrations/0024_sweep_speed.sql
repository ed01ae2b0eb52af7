-- The sweep's speed (issue 5: a full sweep of bench/sweep_bench's book in
-- under 10 s).  Nothing here changes what the sweep decides or what any
-- document says; only how much the same work costs.
--
-- Most of a first sweep goes into writing and rendering event documents
-- (one per follow-up made, one per escalation proposed: ~245k on the bench
-- book).  arc_id_strings (0008), in every one of those documents, was
-- declared IMMUTABLE over to_jsonb, which is only STABLE, so PostgreSQL
-- never inlined it: one SQL function call per document (0.47 s of a first
-- sweep).  Declared STABLE, what it is, it is inlined.

CREATE OR REPLACE FUNCTION arc_id_strings(ids bigint[]) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(to_jsonb(ids::text[]), '[]'::jsonb) $$;

-- The accounts handed off (an open escalation at legal or agency, 0016):
-- every dunnable-invoice test and several rules ask for them.  Once the
-- sweep has proposed an escalation for most overdue accounts, finding the
-- few hundred handed off by a scan of all escalations costs each of those
-- statements a pass over the table; this index holds only them.
CREATE INDEX escalations_handed_off_idx ON escalations (customer_id)
  WHERE status = 'open' AND level IN ('legal', 'agency');
