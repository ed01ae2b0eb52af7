-- Playbook settings the rules read.  The pool sets arc.* in every session
-- from ARC_* variables; these are the defaults when a session has none.
CREATE FUNCTION arc_setting_int(name text, fallback integer) RETURNS integer
LANGUAGE sql STABLE AS
$$ SELECT coalesce(nullif(current_setting('arc.' || name, true), '')::integer, fallback) $$;

-- Text playbook settings (the handle management escalations go to).
CREATE FUNCTION arc_setting_text(name text) RETURNS text
LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('arc.' || name, true), '') $$;
