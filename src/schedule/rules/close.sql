-- Rule 3: open and snoozed follow-ups whose cause is gone close
-- (closed_reason cause_gone, closed_at the real time: arc_recorded_at):
--   overdue, retry      nothing dunnable overdue, or a promise keeps quiet;
--   promise_broken      nothing dunnable overdue;
--   confirm_receipt     none of its invoices still to be confirmed;
--   resolve_dispute     its dispute is no longer open;
--   check_in            something overdue, or check_in_days unset;
--   thank_you           its payment was reversed;
-- and every contact reason when the customer asked us to stop (P15) or the
-- account is handed off (an open escalation at legal or agency, P8).
-- Each create rule below asks for the opposite of these, so a sweep never
-- closes what it would make again.
CREATE FUNCTION arc_rule_close(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off SET plan_cache_mode = force_custom_plan AS
$$
DECLARE
  v_scope bigint[] := arc_sweep_scope_ids();
  v_gone bigint[];
BEGIN
  PERFORM arc_sweep_accounts(p_as_of, p_run);
  WITH quiet AS (SELECT q.customer_id FROM arc_promise_quiet(p_as_of) q),
  asking AS (
    SELECT DISTINCT f.id
    FROM follow_ups f
    JOIN arc_receipts_to_confirm(p_as_of) r ON r.customer_id = f.customer_id AND r.invoice_id = ANY (f.invoice_ids)
    WHERE f.reason = 'confirm_receipt' AND f.status IN ('open', 'snoozed')
      AND (v_scope IS NULL OR f.customer_id = ANY (v_scope))
      AND (v_scope IS NULL OR r.customer_id = ANY (v_scope))),
  handed AS (SELECT DISTINCT h.customer_id FROM arc_handed_off_customers() h)
  SELECT array_agg(f.id) INTO v_gone
  FROM follow_ups f
  JOIN customers c ON c.id = f.customer_id
  LEFT JOIN pg_temp.arc_sweep_accounts s ON s.customer_id = f.customer_id
  LEFT JOIN quiet q ON q.customer_id = f.customer_id
  LEFT JOIN asking a ON a.id = f.id
  LEFT JOIN handed h ON h.customer_id = f.customer_id
  WHERE f.status IN ('open', 'snoozed')
    AND (v_scope IS NULL OR f.customer_id = ANY (v_scope))
    AND ((c.cease_communication AND f.reason = ANY (arc_contact_reasons()))
         -- installment_missed: its own rule (installment_missed.sql) closes it for a hand-off,
         -- releasing the cause so that it comes back afterwards.
         OR (h.customer_id IS NOT NULL AND f.reason = ANY (arc_contact_reasons())
             AND f.reason <> 'installment_missed')
         OR CASE f.reason
              WHEN 'overdue' THEN s.first_due IS NULL OR q.customer_id IS NOT NULL
              WHEN 'retry' THEN s.first_due IS NULL OR q.customer_id IS NOT NULL
              WHEN 'promise_broken' THEN s.first_due IS NULL
              WHEN 'confirm_receipt' THEN a.id IS NULL
              -- Probes by primary key, for these reasons only (scalar
              -- subqueries: never a hash of every payment).
              WHEN 'resolve_dispute' THEN (SELECT d.status FROM disputes d WHERE d.id = f.dispute_id)
                                          IS DISTINCT FROM 'open'
              WHEN 'check_in' THEN s.first_due IS NOT NULL OR c.check_in_days IS NULL
              WHEN 'thank_you' THEN (SELECT p.status FROM payments p WHERE p.id = f.payment_id)
                                    IS DISTINCT FROM 'received'
              ELSE false
            END);

  RETURN QUERY
  WITH done AS (
    UPDATE follow_ups f SET
      status = 'done', snoozed_until = NULL,
      closed_reason = 'cause_gone', closed_at = arc_recorded_at(), closed_by = NULL,
      cause_key = CASE WHEN f.reason IN ('overdue', 'retry', 'promise_broken', 'check_in')
                       THEN f.cause_key || ' (closed as ' || f.id || ')' ELSE f.cause_key END
    WHERE f.id = ANY (v_gone)
    RETURNING f.reason)
  SELECT x.reason, 0, count(*)::integer FROM done x GROUP BY x.reason;
END
$$;
