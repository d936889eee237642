-- Basel III operational-risk loss events, event type External fraud: each confirmed fraud
-- known at :as_of, its gross loss (nothing when blocked), occurrence and discovery dates.
SELECT
  'External fraud' AS event_type,
  transaction_id,
  channel,
  subject,
  currency,
  CASE WHEN verdict = 'BLOCK' THEN 0 ELSE amount END AS gross_loss,
  amount,
  verdict,
  CAST(tx_time AS DATE) AS occurrence_date,
  CAST(known_at AS DATE) AS discovery_date
FROM period
WHERE confirmed_fraud
ORDER BY tx_time, transaction_id
