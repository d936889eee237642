//! The decision lake: every decision and label, for reports, audits and retraining.

use crate::alert::DeliveryError;
use crate::decision::Decision;
use crate::label::LabelEvent;
use crate::store::BatchKey;
use crate::transaction::Transaction;
use std::future::Future;
use std::sync::Mutex;

#[cfg(feature = "aws")]
pub mod parquet;

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
