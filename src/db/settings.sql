-- Playbook settings the rules read.  The pool sets arc.* in every session
-- from ARC_* variables; these are the defaults when a session has none.
CREATE FUNCTION arc_setting_int(name text, fallback integer) RETURNS integer
LANGUAGE sql STABLE AS
$$ SELECT coalesce(nullif(current_setting('arc.' || name, true), '')::integer, fallback) $$;

-- Text playbook settings (the handle management escalations go to).
CREATE FUNCTION arc_setting_text(name text) RETURNS text
LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('arc.' || name, true), '') $$;

-- The playbook settings in force, as the keys of openapi's Meta.playbook:
-- GET /v1/meta shows them, and a sweep under other ones runs every rule
-- (arc_sweep_basis).
CREATE FUNCTION arc_playbook_json() RETURNS json
LANGUAGE sql STABLE AS
$$
  SELECT row_to_json(p) FROM (SELECT
       arc_setting_int('cadence_days', 3) AS cadence_days,
       arc_setting_int('promise_grace_days', 1) AS promise_grace_days,
       arc_setting_int('confirm_receipt_days', 2) AS confirm_receipt_days,
       arc_setting_int('plan_grace_days', 3) AS plan_grace_days,
       arc_setting_int('plan_max_missed', 2) AS plan_max_missed,
       arc_setting_int('escalate_sales_attempts', 5) AS escalate_sales_attempts,
       arc_setting_int('escalate_management_days', 45) AS escalate_management_days,
       arc_setting_int('escalate_legal_days', 90) AS escalate_legal_days,
       arc_setting_text('management_assignee') AS management_assignee,
       arc_setting_int('consumer_max_attempts', 7) AS consumer_max_attempts,
       arc_setting_int('consumer_window_days', 7) AS consumer_window_days,
       arc_setting_int('consumer_quiet_days', 7) AS consumer_quiet_days,
       arc_setting_int('business_hours_start', 8) AS business_hours_start,
       arc_setting_int('business_hours_end', 18) AS business_hours_end,
       arc_setting_int('receivables_goal_pct', 70) AS receivables_goal_pct) p
$$;
