//! Replays history through the scorer: transactions and labels merged in time order,
//! in batches, exactly as the stream would deliver them.

use crate::alert::DeliveryError;
use crate::archive::{Clock, DecisionArchive};
use crate::batch::BatchReport;
use crate::label::LabelEvent;
use crate::model::FraudModel;
use crate::scorer::{Outcome, ScoreError, Scorer};
use crate::store::StateStore;
use crate::transaction::Transaction;
use crate::wire::Event;

/// A label is applied before any transaction at or after its `known_at`; events are
/// otherwise in time order (ties keep input order). Returns the events and, for each
/// transaction event, its position in `transactions`.
pub fn merge(
    transactions: Vec<Transaction>,
    mut labels: Vec<LabelEvent>,
) -> (Vec<Event>, Vec<Option<usize>>) {
    let mut txs: Vec<(usize, Transaction)> = transactions.into_iter().enumerate().collect();
    txs.sort_by_key(|(i, tx)| (tx.at, *i));
    labels.sort_by_key(|l| l.known_at);
    let mut events = Vec::with_capacity(txs.len() + labels.len());
    let mut origin = Vec::with_capacity(txs.len() + labels.len());
    let mut labels = labels.into_iter().peekable();
    for (i, tx) in txs {
        while let Some(label) = labels.next_if(|l| l.known_at <= tx.at) {
            events.push(Event::Label(label));
            origin.push(None);
        }
        events.push(Event::Transaction(tx));
        origin.push(Some(i));
    }
    for label in labels {
        events.push(Event::Label(label));
        origin.push(None);
    }
    (events, origin)
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Score(#[from] ScoreError),
    #[error("writing the lake: {0}")]
    Lake(#[from] DeliveryError),
}

/// Runs `events` through `scorer` in batches of `batch`, calling `each(origin, outcome)`
/// per event, and stores each batch in `lake` if given, as the scorer function does, on
/// the replay's clock: a transaction is ingested at its own time, a label at its
/// `known_at`. The scorer's futures complete at once for in-memory state.
pub fn run<S: StateStore, M: FraudModel, A: DecisionArchive>(
    scorer: &Scorer<S, M>,
    events: &[Event],
    origin: &[Option<usize>],
    batch: usize,
    lake: Option<&A>,
    mut each: impl FnMut(Option<usize>, Outcome),
) -> Result<(), ReplayError> {
    for (chunk, origins) in events.chunks(batch.max(1)).zip(origin.chunks(batch.max(1))) {
        // The replay's own clock: a label that must wait is parked at the time it arrives.
        let now = chunk.iter().map(Event::time).max().unwrap_or_default();
        let outcomes = pollster::block_on(scorer.process(chunk, now))?;
        let outcomes = match lake {
            None => outcomes,
            Some(lake) => {
                let report = BatchReport::of(chunk.to_vec(), outcomes);
                let alerts = report.alerts();
                pollster::block_on(crate::pipeline::archive(
                    lake,
                    &report,
                    &alerts,
                    scorer.versions(),
                    Clock::EventTime,
                ))?;
                report.scored.into_iter().map(|s| s.outcome).collect()
            }
        };
        for (o, outcome) in origins.iter().zip(outcomes) {
            each(*o, outcome);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TransactionId;

    fn tx(id: &str, at: &str) -> Transaction {
        crate::test_support::tx(id, "c", "t", "1", at)
    }

    fn label(id: &str, known_at: &str) -> LabelEvent {
        LabelEvent {
            transaction_id: TransactionId::parse(id).unwrap(),
            fraud: true,
            known_at: known_at.parse().unwrap(),
        }
    }

    #[test]
    fn labels_go_before_transactions_at_or_after_their_known_at() {
        let txs = vec![
            tx("b", "2018-01-08T00:00:00Z"),
            tx("a", "2018-01-01T00:00:00Z"),
            tx("c", "2018-01-09T00:00:00Z"),
        ];
        let labels = vec![label("late", "2018-02-01T00:00:00Z"), label("a", "2018-01-08T00:00:00Z")];
        let (events, origin) = merge(txs, labels);
        let order: Vec<String> = events
            .iter()
            .map(|e| match e {
                Event::Label(l) => format!("label:{}", l.transaction_id),
                other => other.subject().to_string(),
            })
            .collect();
        assert_eq!(order, ["a", "label:a", "b", "c", "label:late"]);
        assert_eq!(origin, [Some(1), None, Some(0), Some(2), None]);
    }
}
