//! The scorer function's work on one stream batch, whatever the event source: score,
//! quarantine, archive, alert. Every step is safe to repeat, so any failure asks for the
//! whole batch again.

use crate::alert::{AlertSink, Audience, DeliveryError};
use crate::archive::{BatchKey, Clock, DecisionArchive, Lake, Versions};
use crate::batch::{BatchReport, Quarantine, StreamRecord, process_batch};
use crate::decision::Verdict;
use crate::model::FraudModel;
use crate::money::Currency;
use crate::scorer::{Outcome, Scorer};
use crate::store::StateStore;
use chrono::{DateTime, Utc};

pub struct Pipeline<S, M, Q, A, L> {
    pub scorer: Scorer<S, M>,
    /// Protects each record as it arrives (tokens, sealed parties).
    pub privacy: std::sync::Arc<crate::privacy::Privacy>,
    pub quarantine: Q,
    pub archive: A,
    pub alerts: L,
    /// For transactions that name no currency.
    pub currency: Currency,
}

/// Counts of one batch, for metrics and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub records: usize,
    pub quarantined: usize,
    pub accepted: usize,
    pub reviewed: usize,
    pub blocked: usize,
    /// Transactions seen before (redelivery): decided earlier, counted in no verdict.
    pub duplicates: usize,
    pub labels: usize,
    /// Labels whose transaction was not scored yet: kept until it is (counted in `labels`).
    pub labels_parked: usize,
    /// Alerts sent, compliance alerts among them.
    pub alerts: usize,
    pub compliance_alerts: usize,
    /// CTR filings made.
    pub filings: usize,
    /// 1 when the batch must be redelivered.
    pub retried: usize,
}

impl Tally {
    pub fn of(records: usize, report: &BatchReport) -> Self {
        let mut t = Tally { records, quarantined: report.quarantined, ..Tally::default() };
        t.retried = usize::from(report.retry_from.is_some());
        for s in &report.scored {
            match &s.outcome {
                Outcome::Decided(d, _) => match d.verdict {
                    Verdict::Accept => t.accepted += 1,
                    Verdict::Review => t.reviewed += 1,
                    Verdict::Block => t.blocked += 1,
                },
                Outcome::Duplicate(_) => t.duplicates += 1,
                Outcome::Labelled { .. } | Outcome::LabelDuplicate { .. } => t.labels += 1,
                Outcome::LabelParked { .. } => {
                    t.labels += 1;
                    t.labels_parked += 1;
                }
                Outcome::Monitored { repeat: true, .. } => t.duplicates += 1,
                Outcome::Monitored { finding, repeat: false } => {
                    match finding.decision.verdict {
                        Verdict::Accept => t.accepted += 1,
                        Verdict::Review => t.reviewed += 1,
                        Verdict::Block => t.blocked += 1,
                    }
                    t.filings += finding.filings.len();
                }
            }
        }
        let alerts = report.alerts();
        t.alerts = alerts.len();
        t.compliance_alerts = alerts.iter().filter(|a| a.audience() == Audience::Compliance).count();
        t
    }
}

/// Stores what `report` adds to the lake (decisions, rule hits, labels, CTR filings,
/// `alerts`, quarantine counts) under the batch's key; the scorer and `vigil replay --lake`
/// both go through here, on their own clocks.
pub async fn archive<A: DecisionArchive>(
    archive: &A,
    report: &BatchReport,
    alerts: &[crate::alert::Alert],
    versions: &Versions,
    clock: Clock,
) -> Result<(), DeliveryError> {
    let rows = report.lake_rows();
    let labels: Vec<_> = report.labels().collect();
    let filings: Vec<_> = report.filings().collect();
    let lake = Lake {
        decisions: &rows,
        labels: &labels,
        filings: &filings,
        alerts,
        quarantined: &report.rejected,
        versions,
        clock,
    };
    if lake.is_empty() {
        return Ok(());
    }
    // The valid records by content, the quarantined ones by position (their content may
    // not even parse).
    let key = BatchKey::of(report.scored.iter().map(|s| &s.event))
        .and(report.rejected.iter().map(|(position, _)| position.as_str()));
    archive.put(&key, &lake).await
}

impl<S: StateStore, M: FraudModel, Q: Quarantine, A: DecisionArchive, L: AlertSink> Pipeline<S, M, Q, A, L> {
    #[tracing::instrument(skip_all, fields(records = records.len()))]
    pub async fn run(&self, records: &[StreamRecord<'_>], now: DateTime<Utc>) -> BatchReport {
        let report =
            process_batch(&self.scorer, &self.privacy, &self.quarantine, records, self.currency, now).await;
        if report.retry_from.is_some() {
            return report;
        }
        match self.deliver(&report, now).await {
            Ok(()) => report,
            Err(e) => {
                tracing::warn!(error = %e, "delivery failed, asking for the batch again");
                BatchReport::failed(records, e.to_string())
            }
        }
    }

    async fn deliver(&self, report: &BatchReport, now: DateTime<Utc>) -> Result<(), DeliveryError> {
        let alerts = report.alerts();
        archive(&self.archive, report, &alerts, self.scorer.versions(), Clock::At(now)).await?;
        if !alerts.is_empty() {
            self.alerts.send(&alerts).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;
    use crate::alert::{Alert, MemoryAlerts};
    use crate::archive::MemoryArchive;
    use crate::batch::MemoryQuarantine;
    use crate::store::MemoryStateStore;
    use crate::test_support::AmountModel;
    use pollster::block_on;

    struct Down;
    impl AlertSink for Down {
        async fn send(&self, _: &[Alert]) -> Result<(), DeliveryError> {
            Err(DeliveryError { service: "EventBridge", message: "throttled".into() })
        }
    }

    fn payload(id: &str, amount: &str) -> String {
        format!(
            r#"{{"transaction_id":"{id}","customer_id":"c1","terminal_id":"p1","amount":"{amount}","timestamp":"2018-04-01T10:00:00Z"}}"#
        )
    }

    fn pipeline<L: AlertSink>(
        alerts: L,
    ) -> Pipeline<MemoryStateStore, AmountModel, MemoryQuarantine, MemoryArchive, L> {
        Pipeline {
            scorer: Scorer::new(MemoryStateStore::default(), AmountModel, Policy::default()),
            privacy: std::sync::Arc::new(crate::privacy::Privacy::for_tests()),
            quarantine: MemoryQuarantine::default(),
            archive: MemoryArchive::default(),
            alerts,
            currency: Currency::USD,
        }
    }

    #[test]
    fn a_batch_is_archived_once_and_its_alerts_sent() {
        let payloads = [payload("t1", "10"), payload("t2", "950"), payload("t3", "800"), "oops".to_owned()];
        let records: Vec<_> =
            payloads.iter().enumerate().map(|(i, p)| (i.to_string(), p)).collect::<Vec<_>>();
        let records: Vec<StreamRecord<'_>> =
            records.iter().map(|(pos, p)| StreamRecord { position: pos, payload: p.as_bytes() }).collect();
        let p = pipeline(MemoryAlerts::default());
        let now = "2024-01-01T00:00:00Z".parse().unwrap();
        let report = block_on(p.run(&records, now));
        let tally = Tally::of(records.len(), &report);
        assert_eq!(
            tally,
            Tally {
                records: 4,
                quarantined: 1,
                accepted: 1,
                reviewed: 1,
                blocked: 1,
                alerts: 2,
                ..Tally::default()
            }
        );
        let again = block_on(p.run(&records, now));
        assert_eq!(Tally::of(4, &again).duplicates, 3);
        assert_eq!(p.archive.batches().len(), 1, "a redelivered batch replaces its archive object");
        let sent: Vec<String> = p.alerts.sent().into_iter().map(|a| a.id).collect();
        assert_eq!(
            sent,
            ["vigil:t2", "vigil:t3", "vigil:t2", "vigil:t3"],
            "resent, for the fan-out to dedupe"
        );
    }

    #[test]
    fn a_failed_alert_send_asks_for_the_batch_again() {
        let p = pipeline(Down);
        let one = payload("t9", "990");
        let records = [StreamRecord { position: "7", payload: one.as_bytes() }];
        let report = block_on(p.run(&records, "2024-01-01T00:00:00Z".parse().unwrap()));
        assert_eq!(report.retry_from.as_deref(), Some("7"));
        assert!(report.error.unwrap().contains("EventBridge"));
    }
}
