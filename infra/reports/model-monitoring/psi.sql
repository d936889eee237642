-- Population stability index of card scores against the training baseline of the model
-- version that scored them: the sum over score tenths of (actual - expected) * ln(actual /
-- expected), each share floored at 0.0001 so an empty tenth counts without a division by
-- zero. Under 0.1 the population is stable, 0.1 to 0.25 drifting, above 0.25 shifted: the
-- model's scores no longer mean what they meant in training. No baseline: psi is NULL.
WITH observed AS (
  SELECT model_version, LEAST(CAST(FLOOR(score * 10) AS INTEGER), 9) AS bucket, COUNT(*) AS n
  FROM period
  WHERE channel = 'card'
  GROUP BY model_version, LEAST(CAST(FLOOR(score * 10) AS INTEGER), 9)
),
versions AS (
  SELECT model_version, SUM(n) AS transactions FROM observed GROUP BY model_version
),
terms AS (
  SELECT v.model_version,
         (GREATEST(COALESCE(o.n, 0) / CAST(v.transactions AS DOUBLE), 1E-4) - GREATEST(b.share, 1E-4))
           * LN(GREATEST(COALESCE(o.n, 0) / CAST(v.transactions AS DOUBLE), 1E-4) / GREATEST(b.share, 1E-4))
           AS term
  FROM versions v
  JOIN score_baseline b ON b.model_version = v.model_version
  LEFT JOIN observed o ON o.model_version = v.model_version AND o.bucket = b.bucket
),
psi AS (
  SELECT model_version, ROUND(SUM(term), 6) AS psi FROM terms GROUP BY model_version
)
SELECT v.model_version,
       v.transactions,
       p.psi,
       CASE
         WHEN p.psi IS NULL THEN 'no baseline'
         WHEN p.psi < 0.1 THEN 'stable'
         WHEN p.psi <= 0.25 THEN 'drifting'
         ELSE 'shifted'
       END AS population
FROM versions v
LEFT JOIN psi p ON p.model_version = v.model_version
ORDER BY v.model_version
