-- GET /v1/meta: what a client needs to know of this service to show its
-- data right: the business day and its time zone (ARC_TIMEZONE: "today",
-- "overdue" and every date the API takes are in it), the playbook settings
-- in force (the arc.* settings the rules read, src/db/settings.sql), each
-- currency's decimals (to format amounts: src/util/money.sql), and who the
-- caller is.  Keys in the order of openapi's Meta.
CREATE FUNCTION arc_meta_json(p_role text, p_actor text, p_key_id text) RETURNS json
LANGUAGE sql STABLE AS
$$
  SELECT row_to_json(d) FROM (SELECT
    current_date AS today,
    current_setting('TimeZone') AS timezone,
    arc_ts(now()) AS now,
    arc_playbook_json() AS playbook,
    (SELECT json_object_agg(d.code, d.decimals ORDER BY d.code) FROM currency_decimals d) AS currencies,
    (SELECT row_to_json(c) FROM (SELECT p_key_id AS key_id, p_role AS role, p_actor AS actor) c) AS caller) d
$$;
