-- Written by infra/model/baseline.py (called by train.py): each model's score distribution
-- over its training window, as the share of card payments per tenth of the score range.
-- The model-monitoring report's PSI compares a period's scores with the baseline of the
-- model version that scored them. One block of rows per model version; keep old ones.
score_baseline AS (
  SELECT model_version, bucket, CAST(share AS DOUBLE) AS share
  FROM (VALUES
    ('lgbm-2018-08-01', 0, 0.9913448776),
    ('lgbm-2018-08-01', 1, 0.0010927875),
    ('lgbm-2018-08-01', 2, 0.0004334314),
    ('lgbm-2018-08-01', 3, 0.0002566209),
    ('lgbm-2018-08-01', 4, 0.0002013676),
    ('lgbm-2018-08-01', 5, 0.0001976840),
    ('lgbm-2018-08-01', 6, 0.0002431145),
    ('lgbm-2018-08-01', 7, 0.0003241527),
    ('lgbm-2018-08-01', 8, 0.0005120139),
    ('lgbm-2018-08-01', 9, 0.0053939499)
  ) AS b (model_version, bucket, share)
)
