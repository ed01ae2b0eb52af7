-- Rule 1 (P5): promises kept or broken as of AS_OF.  Promises are not
-- follow-ups: nothing to count here; promise_broken follows from them.
CREATE FUNCTION arc_rule_promises(p_as_of timestamptz, p_run bigint)
RETURNS TABLE (reason text, created integer, closed integer)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS
$$
BEGIN
  PERFORM arc_promises_evaluate(p_as_of, NULL, arc_sweep_scope_ids());
END
$$;
