-- Loss totals per currency: events, gross loss, and what blocking prevented.
SELECT
  currency,
  COUNT(*) AS events,
  SUM(CASE WHEN verdict = 'BLOCK' THEN 0 ELSE amount END) AS gross_loss,
  SUM(CASE WHEN verdict = 'BLOCK' THEN amount ELSE 0 END) AS prevented
FROM period
WHERE confirmed_fraud
GROUP BY currency
ORDER BY currency
