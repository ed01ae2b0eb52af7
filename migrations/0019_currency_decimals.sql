-- Each currency's decimals, the digits of its minor unit (ISO 4217: JPY 0,
-- USD 2, KWD 3), as ICU knows them: written by every migrate
-- (src/util/currencies.c), read to write amounts as money in messages
-- (src/util/money.sql) and given to clients in GET /v1/meta.  A currency
-- not listed has 2.
CREATE TABLE currency_decimals (
  code     text PRIMARY KEY CONSTRAINT currency_decimals_code_check CHECK (code ~ '^[A-Z]{3}$'),
  decimals smallint NOT NULL CONSTRAINT currency_decimals_decimals_check CHECK (decimals BETWEEN 0 AND 4)
);
