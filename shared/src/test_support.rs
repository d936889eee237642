//! Builders shared by unit tests.

use crate::model::{Contribution, FraudModel, ModelError};
use crate::store::{LoadRequest, MemoryStateStore, Refused, Snapshot, StateStore, StoreError, Unit};
use crate::{Amount, Currency, CustomerId, Features, TerminalId, Transaction, TransactionId};
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

/// What Lambda sends again after a batch `head` failed: the same batch, its two halves
/// (bisection), the rest from a checkpoint with `newer` records, or the records in another
/// order (another shard's batch).
pub fn retry_shapes(head: &[crate::Event], newer: &[crate::Event]) -> [Vec<Vec<crate::Event>>; 4] {
    [
        vec![head.to_vec()],
        vec![head[..head.len() / 2].to_vec(), head[head.len() / 2..].to_vec()],
        vec![head[7..].iter().chain(newer).cloned().collect()],
        vec![head.iter().rev().cloned().collect()],
    ]
}

/// An in-memory store that can be made to fail: for the first `stale` units it is asked to
/// commit, another writer moves their customer one version on first (rewriting its state as
/// it is), so they are refused — and a later unit of that customer would find exactly the
/// version it expects; while `down` is set
/// every call fails as throttled; with `crash_after` set to k, a commit applies its first
/// k units and then fails, as a function killed mid-save would leave it; with `slow` set,
/// every load takes that long first.
#[derive(Default)]
pub struct FaultyStore {
    pub inner: MemoryStateStore,
    pub stale: AtomicU32,
    pub down: AtomicBool,
    pub crash_after: std::sync::Mutex<Option<usize>>,
    pub limit: Option<usize>,
    pub slow: std::sync::Mutex<Option<std::time::Duration>>,
}

impl FaultyStore {
    pub fn conflicting(times: u32) -> Self {
        Self { stale: AtomicU32::new(times), ..Self::default() }
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Transient("throttled".into()));
        }
        Ok(())
    }
}

impl StateStore for FaultyStore {
    async fn load(&self, request: &LoadRequest) -> Result<Snapshot, StoreError> {
        self.check()?;
        let slow = *self.slow.lock().unwrap();
        if let Some(delay) = slow {
            tokio::time::sleep(delay).await;
        }
        self.inner.load(request).await
    }

    async fn commit(&self, units: Vec<Unit>) -> Result<Vec<bool>, StoreError> {
        self.check()?;
        let crash = self.crash_after.lock().unwrap().take();
        let n = units.len();
        let mut applied = Vec::with_capacity(n);
        let mut refused = Refused::default();
        for (i, unit) in units.into_iter().enumerate() {
            if crash == Some(i) {
                return Err(StoreError::Transient(format!("killed after {i} of {n} units")));
            }
            if self.stale.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
                && let Some((id, _)) = &unit.customer
            {
                let mut state = self.inner.customer(id).unwrap_or_default();
                state.fraud_tx_at.clear();
                self.inner
                    .commit(vec![Unit { customer: Some((id.clone(), state)), ..Unit::default() }])
                    .await?;
            }
            let ok = !refused.follows(&unit) && self.inner.commit(vec![unit.clone()]).await?[0];
            if !ok {
                refused.add(&unit);
            }
            applied.push(ok);
        }
        Ok(applied)
    }

    fn unit_limit(&self) -> usize {
        self.limit.unwrap_or(usize::MAX)
    }

    async fn parked_before(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(TransactionId, u64, crate::store::ParkedLabel)>, StoreError> {
        self.check()?;
        self.inner.parked_before(cutoff).await
    }

    async fn forget_parked(&self, id: &TransactionId, version: u64) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.forget_parked(id, version).await
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

/// The default policy with screening against the demo sanctions lists.
pub fn screening_policy() -> crate::Policy {
    use crate::compliance::{Compliance, Screening};
    use crate::sanctions::{SanctionsLists, Screener};
    let lists = SanctionsLists::load(
        include_bytes!("../../infra/sanctions/demo/sdn.csv").as_slice(),
        include_bytes!("../../infra/sanctions/demo/alt.csv").as_slice(),
        None::<&[u8]>,
    )
    .expect("the demo lists load");
    let screening =
        Screening { screener: Screener::new(lists), block_at: crate::compliance::DEFAULT_BLOCK_AT };
    crate::Policy {
        compliance: Compliance { screening: Some(std::sync::Arc::new(screening)), ..Compliance::default() },
        ..crate::Policy::default()
    }
}
