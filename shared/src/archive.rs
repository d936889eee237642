//! The decision lake: every decision and label, for reports, audits and retraining.

use crate::alert::DeliveryError;
use crate::decision::Decision;
use crate::label::LabelEvent;
use crate::transaction::Transaction;
use std::future::Future;
use std::sync::Mutex;

#[cfg(feature = "aws")]
pub mod parquet;

/// Names a batch by its content: the same events in the same order give the same key,
/// whichever process or attempt handles them, so a redelivered batch overwrites its own
/// lake objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BatchKey(String);

impl BatchKey {
    /// 128-bit FNV-1a over each event's kind and subject (stable across builds, unlike
    /// the std hasher).
    pub fn of<'a>(events: impl IntoIterator<Item = &'a crate::wire::Event>) -> Self {
        const PRIME: u128 = 0x0000000001000000000000000000013B;
        let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
        for e in events {
            for b in e.kind().bytes().chain([0]).chain(e.subject().as_str().bytes()).chain([0]) {
                h = (h ^ u128::from(b)).wrapping_mul(PRIME);
            }
        }
        Self(format!("{h:032x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub trait DecisionArchive: Send + Sync {
    /// Stores one batch's decisions and labels under its key. Storing the same batch again
    /// replaces what it stored, so a retried batch leaves no duplicate rows.
    fn put(
        &self,
        batch: &BatchKey,
        decisions: &[(&Transaction, &Decision)],
        labels: &[&LabelEvent],
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// Decisions and labels archived under each batch key.
pub type Batches = std::collections::BTreeMap<String, (Vec<Decision>, Vec<LabelEvent>)>;

/// In-process archive for tests: what each batch key holds.
#[derive(Debug, Default)]
pub struct MemoryArchive(Mutex<Batches>);

impl MemoryArchive {
    pub fn batches(&self) -> Batches {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl DecisionArchive for MemoryArchive {
    async fn put(
        &self,
        batch: &BatchKey,
        decisions: &[(&Transaction, &Decision)],
        labels: &[&LabelEvent],
    ) -> Result<(), DeliveryError> {
        let row = (
            decisions.iter().map(|(_, d)| (*d).clone()).collect(),
            labels.iter().map(|l| (*l).clone()).collect(),
        );
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(batch.as_str().to_owned(), row);
        Ok(())
    }
}
