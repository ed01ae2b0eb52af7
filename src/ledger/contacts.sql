CREATE FUNCTION arc_contact_json(k contacts) RETURNS json
LANGUAGE plpgsql STABLE AS
$$
BEGIN
  RETURN (SELECT row_to_json(d) FROM (SELECT
    k.id::text AS id,
    k.customer_id::text AS customer_id,
    k.name,
    k.role,
    k.email,
    k.phone,
    k.is_primary,
    k.version,
    arc_ts(k.created_at) AS created_at,
    arc_ts(k.updated_at) AS updated_at) d);
END
$$;

-- A new contact of customer CUSTOMER_ID from a validated body P.  A new
-- primary contact first takes the flag from the customer's current one
-- (the caller holds the customer's row lock, so two cannot race).
CREATE FUNCTION arc_contact_insert(customer_id bigint, p jsonb) RETURNS SETOF contacts
LANGUAGE sql AS
$$
  UPDATE contacts AS o SET is_primary = false
  WHERE o.customer_id = arc_contact_insert.customer_id AND o.is_primary
    AND p->'is_primary' = 'true'::jsonb;
  INSERT INTO contacts AS k (customer_id, name, role, email, phone, is_primary)
  VALUES (arc_contact_insert.customer_id, p->>'name', coalesce(p->>'role', 'other'), p->>'email',
          p->>'phone', coalesce((p->>'is_primary')::boolean, false))
  RETURNING k.*;
$$;

-- Applies the fields present in P to contact ID of customer CUSTOMER_ID;
-- becoming primary unsets the customer's other primary contact.
CREATE FUNCTION arc_contact_update(customer_id bigint, id bigint, p jsonb) RETURNS SETOF contacts
LANGUAGE sql AS
$$
  UPDATE contacts AS o SET is_primary = false
  WHERE o.customer_id = arc_contact_update.customer_id AND o.is_primary
    AND o.id <> arc_contact_update.id AND p->'is_primary' = 'true'::jsonb;
  UPDATE contacts AS k SET
    name       = CASE WHEN p ? 'name' THEN p->>'name' ELSE k.name END,
    role       = CASE WHEN p ? 'role' THEN p->>'role' ELSE k.role END,
    email      = CASE WHEN p ? 'email' THEN p->>'email' ELSE k.email END,
    phone      = CASE WHEN p ? 'phone' THEN p->>'phone' ELSE k.phone END,
    is_primary = CASE WHEN p ? 'is_primary' THEN (p->>'is_primary')::boolean ELSE k.is_primary END
  WHERE k.id = arc_contact_update.id AND k.customer_id = arc_contact_update.customer_id
  RETURNING k.*;
$$;
