-- Screening hits: the list entry, program and score, and what was decided.
SELECT h.transaction_id, p.channel, h.detail, h.verdict, p.list_version, h.tx_time
FROM rule_hits_as_of h
JOIN period p ON p.transaction_id = h.transaction_id
WHERE h.code = 'SANCTIONS_HIT'
ORDER BY h.tx_time, h.transaction_id
