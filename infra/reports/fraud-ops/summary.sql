-- The period's volumes, verdicts and how the alerts fared against the labels known at
-- :as_of (all channels; alerts are REVIEW and BLOCK). Ratios are null without a denominator.
SELECT
  COUNT(*) AS transactions,
  COUNT(*) FILTER (WHERE verdict = 'ACCEPT') AS "verdicts.ACCEPT",
  COUNT(*) FILTER (WHERE verdict = 'REVIEW') AS "verdicts.REVIEW",
  COUNT(*) FILTER (WHERE verdict = 'BLOCK') AS "verdicts.BLOCK",
  COUNT(*) FILTER (WHERE alerted) AS alerts,
  COUNT(*) FILTER (WHERE confirmed_fraud) AS confirmed_frauds,
  COUNT(*) FILTER (WHERE alerted AND confirmed_fraud) AS alerts_confirmed,
  CAST(COUNT(*) FILTER (WHERE alerted AND confirmed_fraud) AS DOUBLE)
    / NULLIF(COUNT(*) FILTER (WHERE alerted), 0) AS alert_precision,
  CAST(COUNT(*) FILTER (WHERE alerted AND confirmed_fraud) AS DOUBLE)
    / NULLIF(COUNT(*) FILTER (WHERE confirmed_fraud), 0) AS fraud_recall
FROM period
