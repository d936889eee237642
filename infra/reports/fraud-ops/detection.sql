-- Detection per defrauded customer (or account): how many were caught, the frauds no
-- alert caught, and hours from the first fraud to the first alert.
SELECT
  COUNT(*) AS subjects_defrauded,
  COUNT(first_alert) AS subjects_detected,
  AVG(CAST(missed AS DOUBLE)) AS frauds_missed_per_subject,
  AVG(CAST(to_unixtime(first_alert) - to_unixtime(first_fraud) AS DOUBLE)) / 3600 AS hours_to_detection
FROM (
  SELECT
    f.subject,
    MIN(f.tx_time) AS first_fraud,
    MIN(f.tx_time) FILTER (WHERE f.alerted) AS first_alert,
    COUNT(*) FILTER (WHERE NOT f.alerted) AS missed
  FROM period f
  WHERE f.confirmed_fraud
  GROUP BY f.subject
) per_subject
