//! Labels that waited in vain. A label whose transaction has not been scored is parked
//! (it usually travels on another shard and its transaction arrives within seconds); one
//! still waiting after [`PARKED_RETENTION`] is reported: quarantined with the reason
//! `LABEL_UNMATCHED` and its payload, so it can be inspected and replayed, then forgotten.

use crate::batch::{Quarantine, Quarantined};
use crate::label::LabelEvent;
use crate::store::{PARKED_RETENTION, StateStore, StoreError};
use crate::wire::Event;
use chrono::{DateTime, Utc};

pub const UNMATCHED: &str = "LABEL_UNMATCHED";

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Labels reported as unmatched (quarantined and forgotten).
    pub unmatched: usize,
    /// Labels whose transaction arrived while the sweep ran: left to the scorer.
    pub matched_meanwhile: usize,
}

/// Reports every label parked longer than [`PARKED_RETENTION`] before `now`. Safe to repeat:
/// a label is quarantined before it is forgotten, so a failure in between quarantines it
/// again at the next sweep rather than losing it.
pub async fn sweep_parked_labels(
    store: &impl StateStore,
    quarantine: &impl Quarantine,
    now: DateTime<Utc>,
) -> Result<Swept, StoreError> {
    let stale = store.parked_before(now - PARKED_RETENTION).await?;
    if stale.is_empty() {
        return Ok(Swept::default());
    }
    let records = stale
        .iter()
        .map(|(id, _, parked)| {
            let event = Event::Label(LabelEvent {
                transaction_id: id.clone(),
                fraud: parked.label.fraud,
                known_at: parked.label.known_at,
            });
            Quarantined {
                position: format!("label:{id}"),
                code: UNMATCHED,
                reason: format!(
                    "no transaction {id} was scored within {} days of its label (parked {})",
                    PARKED_RETENTION.num_days(),
                    parked.parked_at.to_rfc3339()
                ),
                payload: event.to_json().into_bytes(),
            }
        })
        .collect();
    quarantine.put(records).await?;
    let mut swept = Swept::default();
    for (id, version, _) in &stale {
        if store.forget_parked(id, *version).await? {
            swept.unmatched += 1;
        } else {
            swept.matched_meanwhile += 1;
        }
    }
    tracing::info!(unmatched = swept.unmatched, "labels without a transaction reported");
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::MemoryQuarantine;
    use crate::scorer::{Policy, Scorer};
    use crate::store::MemoryStateStore;
    use crate::test_support::AmountModel;
    use pollster::block_on;

    #[test]
    fn a_label_waiting_longer_than_its_retention_is_quarantined_once() {
        let s = Scorer::new(MemoryStateStore::default(), AmountModel, Policy::default());
        let q = MemoryQuarantine::default();
        let parked_at: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        let label =
            r#"{"type":"label","transaction_id":"gone","fraud":true,"known_at":"2023-12-31T00:00:00Z"}"#;
        let event = Event::from_json(label.as_bytes(), crate::Currency::USD, parked_at).unwrap();
        block_on(s.process(&[event], parked_at)).unwrap();

        let early = block_on(sweep_parked_labels(s.store(), &q, parked_at + PARKED_RETENTION)).unwrap();
        assert_eq!(early, Swept::default(), "not older than its retention yet");
        let later = parked_at + PARKED_RETENTION + chrono::Duration::hours(1);
        let swept = block_on(sweep_parked_labels(s.store(), &q, later)).unwrap();
        assert_eq!(swept.unmatched, 1);
        let bad = q.records();
        assert_eq!((bad.len(), bad[0].code), (1, UNMATCHED));
        assert_eq!(bad[0].payload, label.as_bytes(), "replayable as it arrived");
        assert_eq!(block_on(sweep_parked_labels(s.store(), &q, later)).unwrap(), Swept::default());
    }
}
