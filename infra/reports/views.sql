-- Time travel (README, Reports): every report sees the lake as it stood at :as_of. A row
-- counts from its ingested_at, a label once known; a batch redelivered in another shape
-- repeats rows later, and each transaction keeps its first ingestion; compaction copies
-- rows (archive::compact), so every view keeps one copy of each. Put before each
-- report's SQL as one WITH list; Athena binds the parameters, `vigil report` inlines them.
decisions_as_of AS (
  SELECT transaction_id, channel, customer_id, terminal_id, account_id, counterparty,
         counterparty_country, tx_time, amount, currency, score, verdict, reasons,
         rule_codes, model_version, rules_version, list_version, ingested_at, dt
  FROM (
    SELECT d.*,
           ROW_NUMBER() OVER (PARTITION BY transaction_id ORDER BY ingested_at, verdict, score) AS rn
    FROM decisions d
    WHERE ingested_at <= :as_of AND dt >= :from_day AND dt < :to_day
  ) first_copy
  WHERE rn = 1
),
-- The latest label known at :as_of (a chargeback may be reversed).
labels_as_of AS (
  SELECT transaction_id, fraud, known_at
  FROM (
    SELECT transaction_id, fraud, known_at,
           ROW_NUMBER() OVER (PARTITION BY transaction_id ORDER BY known_at DESC, ingested_at DESC, fraud DESC) AS rn
    FROM labels
    WHERE known_at <= :as_of AND ingested_at <= :as_of
  ) latest
  WHERE rn = 1
),
-- The period's transactions, [:from, :to), with what was known of them at :as_of.
period AS (
  SELECT d.*,
         d.verdict <> 'ACCEPT' AS alerted,
         COALESCE(l.fraud, FALSE) AS confirmed_fraud,
         l.known_at,
         d.dt < :mature_day AS label_mature,
         COALESCE(d.customer_id, d.account_id) AS subject
  FROM decisions_as_of d
  LEFT JOIN labels_as_of l ON l.transaction_id = d.transaction_id
  WHERE d.tx_time >= :from AND d.tx_time < :to
),
rule_hits_as_of AS (
  SELECT transaction_id, code, detail, verdict, tx_time
  FROM (
    SELECT h.*, ROW_NUMBER() OVER (PARTITION BY transaction_id, code ORDER BY ingested_at, detail) AS rn
    FROM rule_hits h
    WHERE ingested_at <= :as_of AND dt >= :from_day AND dt < :to_day
  ) first_copy
  WHERE rn = 1 AND tx_time >= :from AND tx_time < :to
),
alerts_as_of AS (
  SELECT alert_id, audience, transaction_id, severity, verdict, score, alert_time, channel,
         codes, accounts, amount, list_version
  FROM (
    SELECT a.*, ROW_NUMBER() OVER (PARTITION BY alert_id ORDER BY ingested_at) AS rn
    FROM alerts a
    WHERE ingested_at <= :as_of AND dt >= :from_day AND dt < :to_day
  ) first_copy
  WHERE rn = 1 AND alert_time >= :from AND alert_time < :to
),
-- Each CTR filing's latest revision filed by :as_of.
filings_as_of AS (
  SELECT owner, business_day, direction, total, count, revision, transactions, ingested_at
  FROM (
    SELECT f.*,
           ROW_NUMBER() OVER (PARTITION BY owner, business_day, direction ORDER BY revision DESC, ingested_at) AS rn
    FROM ctr_filings f
    WHERE ingested_at <= :as_of AND dt >= :from_day AND dt < :to_day
  ) latest
  WHERE rn = 1
),
-- Counts per batch and code: a batch's object and its compacted copy count once.
quarantine_as_of AS (
  SELECT code, records
  FROM (
    SELECT q.*, ROW_NUMBER() OVER (PARTITION BY batch, code ORDER BY ingested_at) AS rn
    FROM quarantine q
    WHERE ingested_at <= :as_of AND ingested_at >= :from AND ingested_at < :to
  ) first_copy
  WHERE rn = 1
)
