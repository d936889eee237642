//! Builders shared by unit tests.

use crate::model::{Contribution, FraudModel, ModelError};
use crate::store::{BatchKey, Changes, DecisionRecord, MemoryStateStore, StateStore, States, StoreError};
use crate::{Amount, Currency, CustomerId, Features, TerminalId, Transaction, TransactionId};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// A USD transaction; panics on malformed test input.
pub fn tx(id: &str, customer: &str, terminal: &str, amount: &str, at: &str) -> Transaction {
    Transaction {
        id: TransactionId::parse(id).unwrap(),
        customer: CustomerId::parse(customer).unwrap(),
        terminal: TerminalId::parse(terminal).unwrap(),
        amount: Amount::parse(amount).unwrap(),
        currency: Currency::USD,
        at: at.parse().unwrap(),
    }
}

/// An in-memory store whose saves can be made to fail: the first `conflicts` lose an
/// optimistic-concurrency race, and every save fails as throttled while `down` is set.
#[derive(Default)]
pub struct FaultyStore {
    pub inner: MemoryStateStore,
    pub conflicts: AtomicU32,
    pub down: AtomicBool,
    /// `previous` of the last save that went through.
    pub previous: std::sync::Mutex<States>,
}

impl FaultyStore {
    pub fn conflicting(times: u32) -> Self {
        Self { conflicts: AtomicU32::new(times), ..Self::default() }
    }
}

impl StateStore for FaultyStore {
    async fn load_records(
        &self,
        batch: &BatchKey,
        ids: &[TransactionId],
    ) -> Result<FxHashMap<TransactionId, DecisionRecord>, StoreError> {
        self.inner.load_records(batch, ids).await
    }

    async fn load_states(
        &self,
        batch: &BatchKey,
        c: &[CustomerId],
        t: &[TerminalId],
    ) -> Result<States, StoreError> {
        self.inner.load_states(batch, c, t).await
    }

    async fn save(&self, changes: Changes) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Transient("throttled".into()));
        }
        if self.conflicts.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(StoreError::Conflict("a terminal".into()));
        }
        *self.previous.lock().unwrap() = changes.previous.clone();
        self.inner.save(changes).await
    }
}

/// Scores by amount (feature 0): 1000 → 1.0. Explains everything by the amount.
pub struct AmountModel;

impl FraudModel for AmountModel {
    fn score(&self, rows: &[Features]) -> Result<Vec<f32>, ModelError> {
        Ok(rows.iter().map(|f| (f.0[0] / 1000.0).min(1.0)).collect())
    }
    fn explain(&self, _: &Features, score: f32, _: usize) -> Result<Vec<Contribution>, ModelError> {
        Ok(vec![Contribution { feature: 0, weight: score }])
    }
}
