-- Verdicts and outcomes per day of the period (the report's chart of verdicts over time).
SELECT
  dt AS day,
  COUNT(*) AS transactions,
  COUNT(*) FILTER (WHERE verdict = 'ACCEPT') AS accept,
  COUNT(*) FILTER (WHERE verdict = 'REVIEW') AS review,
  COUNT(*) FILTER (WHERE verdict = 'BLOCK') AS block,
  COUNT(*) FILTER (WHERE confirmed_fraud) AS confirmed_frauds,
  COUNT(*) FILTER (WHERE alerted AND confirmed_fraud) AS alerts_confirmed,
  BOOL_AND(label_mature) AS label_mature
FROM period
GROUP BY dt
ORDER BY dt
