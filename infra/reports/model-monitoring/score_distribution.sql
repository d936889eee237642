-- Card scores by tenth of the score range, per model version: each tenth's share of what
-- that version scored in the period, beside its share in the version's training baseline
-- (NULL for a version without one). Every tenth is listed, empty ones too.
WITH scored AS (
  SELECT model_version, LEAST(CAST(FLOOR(score * 10) AS INTEGER), 9) AS bucket
  FROM period
  WHERE channel = 'card'
),
versions AS (
  SELECT model_version, COUNT(*) AS total FROM scored GROUP BY model_version
),
observed AS (
  SELECT model_version, bucket, COUNT(*) AS transactions FROM scored GROUP BY model_version, bucket
),
tenths AS (
  SELECT bucket FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS t (bucket)
)
SELECT v.model_version,
       t.bucket,
       COALESCE(o.transactions, 0) AS transactions,
       CAST(COALESCE(o.transactions, 0) AS DOUBLE) / v.total AS share,
       b.share AS baseline_share
FROM versions v
CROSS JOIN tenths t
LEFT JOIN observed o ON o.model_version = v.model_version AND o.bucket = t.bucket
LEFT JOIN score_baseline b ON b.model_version = v.model_version AND b.bucket = t.bucket
ORDER BY v.model_version, t.bucket
