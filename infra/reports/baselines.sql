-- Written by infra/model/baseline.py (called by train.py): each model's score distribution
-- over its training window, as the share of card payments per tenth of the score range.
-- The model-monitoring report's PSI compares a period's scores with the baseline of the
-- model version that scored them. One block of rows per model version; keep old ones.
score_baseline AS (
  SELECT model_version, bucket, CAST(share AS DOUBLE) AS share
  FROM (VALUES
    ('lgbm-2018-08-01', 0, 0.9913451114),
    ('lgbm-2018-08-01', 1, 0.0010927580),
    ('lgbm-2018-08-01', 2, 0.0004334197),
    ('lgbm-2018-08-01', 3, 0.0002566139),
    ('lgbm-2018-08-01', 4, 0.0002013621),
    ('lgbm-2018-08-01', 5, 0.0001976787),
    ('lgbm-2018-08-01', 6, 0.0002431080),
    ('lgbm-2018-08-01', 7, 0.0003241439),
    ('lgbm-2018-08-01', 8, 0.0005120001),
    ('lgbm-2018-08-01', 9, 0.0053938042)
  ) AS b (model_version, bucket, share)
)
