-- The same measures on label-mature cohorts only: days at least the label delay before
-- :as_of, whose chargebacks have had time to arrive.
SELECT
  COUNT(*) AS transactions,
  COUNT(*) FILTER (WHERE alerted) AS alerts,
  COUNT(*) FILTER (WHERE confirmed_fraud) AS confirmed_frauds,
  COUNT(*) FILTER (WHERE alerted AND confirmed_fraud) AS alerts_confirmed,
  CAST(COUNT(*) FILTER (WHERE alerted AND confirmed_fraud) AS DOUBLE)
    / NULLIF(COUNT(*) FILTER (WHERE alerted), 0) AS alert_precision,
  CAST(COUNT(*) FILTER (WHERE alerted AND confirmed_fraud) AS DOUBLE)
    / NULLIF(COUNT(*) FILTER (WHERE confirmed_fraud), 0) AS fraud_recall
FROM period
WHERE label_mature
