-- Suspicious activity report candidates: compliance alerts of 5,000 or more, due 30 days
-- after detection.
SELECT
  alert_id, transaction_id, channel, severity, verdict, score, codes, accounts, amount,
  CAST(alert_time AS DATE) AS detected,
  CAST(alert_time AS DATE) + INTERVAL '30' DAY AS due
FROM alerts_as_of
WHERE audience = 'compliance' AND amount >= 5000
ORDER BY alert_time, alert_id
