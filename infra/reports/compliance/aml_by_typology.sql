-- AML typology hits: how many transactions, subjects and how much money each pattern saw.
SELECT
  h.code AS typology,
  COUNT(*) AS transactions,
  COUNT(DISTINCT p.subject) AS subjects,
  SUM(p.amount) AS amount,
  COUNT(*) FILTER (WHERE p.verdict = 'BLOCK') AS blocked
FROM rule_hits_as_of h
JOIN period p ON p.transaction_id = h.transaction_id
WHERE h.code LIKE 'AML%'
GROUP BY h.code
ORDER BY transactions DESC, typology
