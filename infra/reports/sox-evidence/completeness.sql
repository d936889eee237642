-- SOX completeness evidence: what was decided, archived (rows as ingested, redelivered
-- copies included; a compacted copy of an object is the same ingestion), quarantined, and
-- whether every alerting decision's alert was archived.
SELECT
  (SELECT COUNT(*) FROM (
     SELECT DISTINCT transaction_id, ingested_at FROM decisions
     WHERE ingested_at <= :as_of AND dt >= :from_day AND dt < :to_day
       AND tx_time >= :from AND tx_time < :to) ingestions) AS archived_rows,
  (SELECT COUNT(*) FROM period) AS decided,
  (SELECT COALESCE(SUM(records), 0) FROM quarantine_as_of) AS quarantined,
  (SELECT COUNT(*) FROM period WHERE alerted) AS alerting_decisions,
  (SELECT COUNT(DISTINCT transaction_id) FROM alerts_as_of) AS alerted_transactions
