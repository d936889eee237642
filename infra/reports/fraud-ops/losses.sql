-- Fraud losses in basis points of volume, per currency: confirmed fraud, and the part no
-- BLOCK stopped.
SELECT
  currency,
  SUM(amount) AS volume,
  COALESCE(SUM(amount) FILTER (WHERE confirmed_fraud), 0) AS fraud_amount,
  COALESCE(SUM(amount) FILTER (WHERE confirmed_fraud AND verdict <> 'BLOCK'), 0) AS loss_amount,
  10000 * CAST(COALESCE(SUM(amount) FILTER (WHERE confirmed_fraud AND verdict <> 'BLOCK'), 0) AS DOUBLE)
    / NULLIF(CAST(SUM(amount) AS DOUBLE), 0) AS loss_bps
FROM period
GROUP BY currency
ORDER BY currency
