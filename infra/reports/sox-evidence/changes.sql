-- Every model, rule-set and list version that decided in the period, first and last seen:
-- a change of model, rules, thresholds or lists is a new row.
SELECT
  model_version,
  rules_version,
  COALESCE(list_version, '') AS list_version,
  MIN(tx_time) AS first_seen,
  MAX(tx_time) AS last_seen,
  COUNT(*) AS decisions
FROM period
GROUP BY model_version, rules_version, COALESCE(list_version, '')
ORDER BY first_seen, model_version, rules_version
