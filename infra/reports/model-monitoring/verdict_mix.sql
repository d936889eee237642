-- Verdict mix per day and model version (a model change shows as a new version's rows).
SELECT
  dt AS day,
  model_version,
  COUNT(*) AS transactions,
  COUNT(*) FILTER (WHERE verdict = 'ACCEPT') AS accept,
  COUNT(*) FILTER (WHERE verdict = 'REVIEW') AS review,
  COUNT(*) FILTER (WHERE verdict = 'BLOCK') AS block,
  AVG(CAST(score AS DOUBLE)) AS mean_score
FROM period
WHERE channel = 'card'
GROUP BY dt, model_version
ORDER BY dt, model_version
