-- Amounts as people read them, for messages: "USD 12,500.00", "JPY 5,000",
-- "KWD 1.250" (the currency's decimals, currency_decimals; 2 when it is
-- not listed).  The API's amounts stay integers of minor units.
CREATE FUNCTION arc_currency_decimals(p_currency text) RETURNS integer
LANGUAGE sql STABLE AS
$$ SELECT coalesce((SELECT d.decimals FROM currency_decimals d WHERE d.code = p_currency), 2) $$;

CREATE FUNCTION arc_money(p_amount numeric, p_currency text) RETURNS text
LANGUAGE sql STABLE AS
$$
  SELECT p_currency || ' ' || CASE WHEN p_amount < 0 THEN '-' ELSE '' END
         || to_char(abs(p_amount) / (10::numeric ^ k.d),
                    'FM999,999,999,999,999,990' || CASE WHEN k.d > 0 THEN '.' || repeat('0', k.d) ELSE '' END)
  FROM (SELECT arc_currency_decimals(p_currency) AS d) k
$$;
