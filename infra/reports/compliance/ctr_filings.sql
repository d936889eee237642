-- Currency transaction reports due: per customer, business day and direction, the latest
-- revision filed by :as_of.
SELECT owner, business_day, direction, total, count, revision, transactions
FROM filings_as_of
ORDER BY business_day, owner, direction
