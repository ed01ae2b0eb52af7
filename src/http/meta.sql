-- GET /v1/meta: what a client needs to know of this service to show its
-- data right: the business day and its time zone (ARC_TIMEZONE: "today",
-- "overdue" and every date the API takes are in it), the playbook settings
-- in force (the arc.* settings the rules read, src/db/settings.sql), and
-- who the caller is.  Keys in the order of openapi's Meta.
CREATE FUNCTION arc_meta_json(p_role text, p_actor text, p_key_id text) RETURNS json
LANGUAGE sql STABLE AS
$$
  SELECT row_to_json(d) FROM (SELECT
    current_date AS today,
    current_setting('TimeZone') AS timezone,
    arc_ts(now()) AS now,
    (SELECT row_to_json(p) FROM (SELECT
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
       arc_setting_int('receivables_goal_pct', 70) AS receivables_goal_pct) p) AS playbook,
    (SELECT row_to_json(c) FROM (SELECT p_key_id AS key_id, p_role AS role, p_actor AS actor) c) AS caller) d
$$;
