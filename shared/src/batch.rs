//! A stream batch (Kinesis records, Kafka messages) end to end: parse each record,
//! quarantine what cannot be parsed, score the rest in one go, and say what the event
//! source must redeliver. The Lambda functions only translate their event types to and
//! from these.

use crate::alert::Alert;
use crate::aml::CtrFiling;
use crate::archive::LakeRow;
use crate::compliance::Finding;
use crate::decision::Decision;
use crate::label::LabelEvent;
use crate::model::FraudModel;
use crate::money::Currency;
use crate::privacy::{Privacy, SealError};
use crate::scorer::{Outcome, Scorer};
use crate::store::{StateStore, StoreError};
use crate::transaction::RejectReason;
use crate::transaction::Transaction;
use crate::wire::{Event, Flow};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::Mutex;

/// One record as the event source delivered it.
#[derive(Debug, Clone, Copy)]
pub struct StreamRecord<'a> {
    /// Where it sits in the stream: a Kinesis sequence number, a Kafka `partition@offset`.
    pub position: &'a str,
    pub payload: &'a [u8],
}

/// A record that failed validation, kept with its reason so it can be inspected and replayed.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    pub position: String,
    pub code: &'static str,
    pub reason: String,
    pub payload: Vec<u8>,
}

/// Where bad records go (an S3 prefix in production).
pub trait Quarantine: Send + Sync {
    /// Stores a batch's bad records. Must be safe to repeat: a retried batch quarantines
    /// the same records again.
    fn put(&self, records: Vec<Quarantined>) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// In-process quarantine for tests and the CLI.
#[derive(Debug, Default)]
pub struct MemoryQuarantine(Mutex<Vec<Quarantined>>);

impl MemoryQuarantine {
    pub fn records(&self) -> Vec<Quarantined> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Quarantine for MemoryQuarantine {
    async fn put(&self, records: Vec<Quarantined>) -> Result<(), StoreError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend(records);
        Ok(())
    }
}

/// A valid record and what became of it.
#[derive(Debug, Clone)]
pub struct Scored {
    pub position: String,
    pub event: Event,
    pub outcome: Outcome,
}

/// What became of a batch.
#[derive(Debug, Default)]
pub struct BatchReport {
    /// Each valid record in order, with its outcome.
    pub scored: Vec<Scored>,
    pub quarantined: usize,
    /// Each quarantined record's position and reject code.
    pub rejected: Vec<(String, &'static str)>,
    /// Set when the batch must be redelivered from this record on (a Kinesis batch item
    /// failure, a Kafka error). Nothing was applied in that case, so the first record.
    pub retry_from: Option<String>,
    /// Why, when `retry_from` is set.
    pub error: Option<String>,
}

impl BatchReport {
    /// Asks for the whole batch again: nothing in it counts as done.
    pub fn failed(records: &[StreamRecord<'_>], error: String) -> Self {
        BatchReport {
            retry_from: records.first().map(|r| r.position.to_owned()),
            error: Some(error),
            ..BatchReport::default()
        }
    }

    /// A batch of events the scorer decided outside a stream (a replay, a test): each at its
    /// index as position, nothing quarantined.
    pub fn of(events: Vec<Event>, outcomes: Vec<Outcome>) -> Self {
        let scored = events
            .into_iter()
            .zip(outcomes)
            .enumerate()
            .map(|(i, (event, outcome))| Scored { position: i.to_string(), event, outcome })
            .collect();
        BatchReport { scored, ..BatchReport::default() }
    }

    /// The lake's decision rows: card payments (with the features a new decision saw),
    /// transfers and cash (with the lists screened against).
    pub fn lake_rows(&self) -> Vec<LakeRow<'_>> {
        let cards = self.scored.iter().filter_map(|s| match (&s.event, &s.outcome) {
            (Event::Transaction(tx), Outcome::Decided(d, f)) => {
                Some(LakeRow { features: Some(f), ..LakeRow::card(tx, d) })
            }
            (Event::Transaction(tx), Outcome::Duplicate(d)) => Some(LakeRow::card(tx, d)),
            _ => None,
        });
        let flows = self.flows().map(|(f, finding)| LakeRow {
            list_version: finding.list_version.as_deref(),
            ..LakeRow::flow(f, &finding.decision)
        });
        cards.chain(flows).collect()
    }

    /// Transactions decided (new or redelivered), with their decisions.
    pub fn decisions(&self) -> impl Iterator<Item = (&Transaction, &Decision)> {
        self.scored.iter().filter_map(|s| match (&s.event, s.outcome.decision()) {
            (Event::Transaction(tx), Some(d)) => Some((tx, d)),
            _ => None,
        })
    }

    /// Labels this batch carried.
    pub fn labels(&self) -> impl Iterator<Item = &LabelEvent> {
        self.scored.iter().filter_map(|s| match &s.event {
            Event::Label(l) => Some(l),
            _ => None,
        })
    }

    /// Transfers and cash movements with what monitoring found (repeats included).
    pub fn flows(&self) -> impl Iterator<Item = (&Flow, &Finding)> {
        self.scored.iter().filter_map(|s| match (&s.event, &s.outcome) {
            (Event::Flow(f), Outcome::Monitored { finding, .. }) => Some((f, &**finding)),
            _ => None,
        })
    }

    /// Every finding of a monitored event: transfers, cash and profiles.
    fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.scored.iter().filter_map(|s| match &s.outcome {
            Outcome::Monitored { finding, .. } => Some(&**finding),
            _ => None,
        })
    }

    /// Alerts for every REVIEW or BLOCK in the batch — fraud alerts for card payments,
    /// compliance alerts for AML and sanctions — redelivered ones included (the fan-out
    /// drops duplicates), so a retry after a failed send loses none.
    pub fn alerts(&self) -> Vec<Alert> {
        let fraud = self.decisions().filter_map(|(tx, d)| Alert::for_decision(d, tx));
        fraud.chain(self.findings().flat_map(|f| f.alerts.iter().cloned())).collect()
    }

    /// CTR filings the batch's cash made (repeats included: a filing's row is keyed by
    /// owner, day and revision).
    pub fn filings(&self) -> impl Iterator<Item = &CtrFiling> {
        self.findings().flat_map(|f| &f.filings)
    }
}

/// Processes `records` in order. Invalid records are quarantined and count as done;
/// a failure to score or to quarantine asks for the whole batch again, which is safe
/// because scoring is idempotent.
#[tracing::instrument(skip_all, fields(records = records.len()))]
pub async fn process_batch<S: StateStore, M: FraudModel, Q: Quarantine>(
    scorer: &Scorer<S, M>,
    privacy: &Privacy,
    quarantine: &Q,
    records: &[StreamRecord<'_>],
    default_currency: Currency,
    now: DateTime<Utc>,
) -> BatchReport {
    let mut events = Vec::with_capacity(records.len());
    let mut positions = Vec::with_capacity(records.len());
    let mut bad = Vec::new();
    let quarantined = |r: &StreamRecord<'_>, reason: &RejectReason| {
        tracing::warn!(position = r.position, code = reason.code(), %reason, "quarantined");
        Quarantined {
            position: r.position.to_owned(),
            code: reason.code(),
            reason: reason.to_string(),
            payload: r.payload.to_vec(),
        }
    };
    for r in records {
        // Protected as it arrives: an upstream system that writes to the stream directly
        // sends numbers and names in the clear (the producer has protected its own).
        let event = match Event::from_json(r.payload, default_currency, now) {
            Ok(event) => privacy.protect(event).await,
            Err(reason) => {
                bad.push(quarantined(r, &reason));
                continue;
            }
        };
        let mut event = match event {
            Ok(event) => event,
            Err(e) => return BatchReport::failed(records, format!("protecting a record: {e}")),
        };
        match privacy.open_names(&mut event).await {
            Ok(()) => {
                events.push(event);
                positions.push(r.position);
            }
            Err(SealError::KeyService(e)) => {
                return BatchReport::failed(records, format!("opening a name: {e}"));
            }
            Err(e @ (SealError::Forged | SealError::Malformed(_))) => {
                bad.push(quarantined(r, &RejectReason::Unreadable(e.to_string())))
            }
        }
    }
    let retry = |error: String| BatchReport::failed(records, error);
    let outcomes = match scorer.process(&events, now).await {
        Ok(outcomes) => outcomes,
        Err(e) => return retry(e.to_string()),
    };
    let quarantined = bad.len();
    let rejected = bad.iter().map(|q| (q.position.clone(), q.code)).collect();
    if !bad.is_empty()
        && let Err(e) = quarantine.put(bad).await
    {
        return retry(format!("quarantine: {e}"));
    }
    let scored = positions
        .into_iter()
        .zip(events)
        .zip(outcomes)
        .map(|((position, event), outcome)| Scored { position: position.to_owned(), event, outcome })
        .collect();
    BatchReport { scored, quarantined, rejected, retry_from: None, error: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;
    use crate::model::NoModel;
    use crate::store::MemoryStateStore;
    use crate::test_support::FaultyStore;
    use pollster::block_on;
    use std::sync::atomic::Ordering;

    const GOOD: &str = r#"{"transaction_id":"t1","customer_id":"c1","terminal_id":"p1","amount":"12.50","timestamp":"2018-04-01T10:00:00Z"}"#;
    const GOOD2: &str = r#"{"transaction_id":"t2","customer_id":"c1","terminal_id":"p1","amount":"7","timestamp":"2018-04-01T11:00:00Z"}"#;
    const LABEL: &str =
        r#"{"type":"label","transaction_id":"t1","fraud":true,"known_at":"2018-04-08T10:00:00Z"}"#;
    const BAD: &str = r#"{"transaction_id":"t3","customer_id":"c1","terminal_id":"p1","amount":"-1","timestamp":"2018-04-01T12:00:00Z"}"#;

    fn records() -> Vec<StreamRecord<'static>> {
        [("1", GOOD), ("2", "{not json"), ("3", GOOD2), ("4", BAD), ("5", LABEL)]
            .into_iter()
            .map(|(position, p)| StreamRecord { position, payload: p.as_bytes() })
            .collect()
    }

    /// The test batch through `process_batch`, with the test keys.
    fn run<S: StateStore>(scorer: &Scorer<S, NoModel>, q: &MemoryQuarantine) -> BatchReport {
        block_on(process_batch(
            scorer,
            &crate::privacy::Privacy::for_tests(),
            q,
            &records(),
            Currency::USD,
            now(),
        ))
    }

    fn now() -> DateTime<Utc> {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn every_record_ends_scored_or_quarantined_with_its_reason() {
        let scorer = Scorer::new(MemoryStateStore::default(), NoModel, Policy::default());
        let q = MemoryQuarantine::default();
        let report = run(&scorer, &q);

        assert_eq!(report.retry_from, None);
        let positions: Vec<&str> = report.scored.iter().map(|s| s.position.as_str()).collect();
        assert_eq!(positions, ["1", "3", "5"]);
        assert!(matches!(report.scored[2].outcome, Outcome::Labelled { fraud: true, .. }));
        assert_eq!(report.decisions().count(), 2);
        assert_eq!(report.labels().count(), 1);
        let bad = q.records();
        assert_eq!(report.quarantined, 2);
        assert_eq!(
            bad.iter().map(|b| (b.position.as_str(), b.code)).collect::<Vec<_>>(),
            [("2", "MALFORMED"), ("4", "INVALID_AMOUNT")]
        );
        assert_eq!(bad[1].payload, BAD.as_bytes(), "the raw record is kept for replay");
    }

    #[test]
    fn a_transient_failure_asks_for_the_whole_batch_and_the_retry_completes() {
        let scorer = Scorer::new(FaultyStore::default(), NoModel, Policy::default());
        let q = MemoryQuarantine::default();
        scorer.store().down.store(true, Ordering::SeqCst);
        let failed = run(&scorer, &q);
        assert_eq!(failed.retry_from.as_deref(), Some("1"));
        assert!(failed.error.unwrap().contains("throttled"));
        assert!(q.records().is_empty(), "nothing half-done");

        scorer.store().down.store(false, Ordering::SeqCst);
        let retried = run(&scorer, &q);
        assert_eq!(retried.retry_from, None);
        assert!(matches!(retried.scored[0].outcome, Outcome::Decided(..)));
        assert_eq!(q.records().len(), 2);
    }
}
