-- Calibration on label-mature card cohorts: mean score against the fraud rate the labels
-- show, per score bucket.
SELECT
  LEAST(CAST(FLOOR(score * 10) AS INTEGER), 9) AS bucket,
  COUNT(*) AS transactions,
  AVG(CAST(score AS DOUBLE)) AS mean_score,
  AVG(CASE WHEN confirmed_fraud THEN 1.0 ELSE 0.0 END) AS fraud_rate
FROM period
WHERE channel = 'card' AND label_mature
GROUP BY LEAST(CAST(FLOOR(score * 10) AS INTEGER), 9)
ORDER BY bucket
