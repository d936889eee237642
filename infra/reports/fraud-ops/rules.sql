-- Each rule, typology and screening code: how often it fired, and how often the labels
-- confirmed it.
SELECT
  h.code,
  COUNT(*) AS hits,
  CAST(COUNT(*) AS DOUBLE) / (SELECT COUNT(*) FROM period) AS hit_rate,
  COUNT(*) FILTER (WHERE p.alerted) AS alerts,
  COUNT(*) FILTER (WHERE p.confirmed_fraud) AS confirmed,
  CAST(COUNT(*) FILTER (WHERE p.confirmed_fraud) AS DOUBLE) / COUNT(*) AS precision
FROM rule_hits_as_of h
JOIN period p ON p.transaction_id = h.transaction_id
GROUP BY h.code
ORDER BY hits DESC, h.code
