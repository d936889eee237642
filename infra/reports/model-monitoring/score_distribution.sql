-- Card scores by tenth of the score range, with each bucket's share of the period.
SELECT
  bucket,
  COUNT(*) AS transactions,
  CAST(COUNT(*) AS DOUBLE) / (SELECT COUNT(*) FROM period WHERE channel = 'card') AS share
FROM (
  SELECT LEAST(CAST(FLOOR(score * 10) AS INTEGER), 9) AS bucket
  FROM period
  WHERE channel = 'card'
) scored
GROUP BY bucket
ORDER BY bucket
