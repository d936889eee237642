//! The state port. The scorer loads everything a batch needs up front, works in memory,
//! and writes back once: two reads and one write per batch, whatever the adapter.
//!
//! A store that cannot write a whole batch atomically (DynamoDB: at most 100 items per
//! transaction) tags what it writes with the batch's [`BatchKey`] and makes the writes
//! visible only once the batch commits; the key lets it recognise a half-written attempt of
//! the same batch (to roll it back) and tell it from another writer's batch in flight.

use crate::decision::Decision;
use crate::features::{CustomerState, TerminalState};
use crate::ids::{CustomerId, TerminalId, TransactionId};
use crate::money::Amount;
use crate::wire::Event;
use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::Mutex;

/// What is remembered of a scored transaction: its decision (idempotency: a redelivered
/// transaction gets the same answer and moves no feature twice) and where it happened
/// (so a late label can find its customer, terminal and time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub decision: Decision,
    pub customer: CustomerId,
    pub terminal: TerminalId,
    pub at: DateTime<Utc>,
    pub amount: Amount,
    /// The confirmed label, once known.
    pub label: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer changed an entity since it was loaded: reload and redo the batch.
    #[error("concurrent update of {0}")]
    Conflict(String),
    /// Throttling, timeouts, unavailability: retry later.
    #[error("state store unavailable: {0}")]
    Transient(String),
}

/// Names a batch by its content: the same events in the same order give the same key,
/// whichever process or attempt handles them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BatchKey(String);

impl BatchKey {
    /// 128-bit FNV-1a over each event's kind and subject (stable across builds, unlike
    /// the std hasher).
    pub fn of<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
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

/// Everything a batch changed, written back in one go.
#[derive(Debug, Default)]
pub struct Changes {
    pub batch: BatchKey,
    pub customers: FxHashMap<CustomerId, CustomerState>,
    pub terminals: FxHashMap<TerminalId, TerminalState>,
    /// Transactions first seen in this batch.
    pub records: Vec<DecisionRecord>,
    /// Records of earlier batches that this batch labelled (now carrying the label).
    pub labelled: Vec<DecisionRecord>,
    /// The changed entities as the batch loaded them (absent: new), for stores that must
    /// be able to undo a half-written batch.
    pub previous: States,
}

pub type States = (FxHashMap<CustomerId, CustomerState>, FxHashMap<TerminalId, TerminalState>);

pub trait StateStore: Send + Sync {
    /// Decision records of `ids` that exist (`batch` is the batch asking).
    fn load_records(
        &self,
        batch: &BatchKey,
        ids: &[TransactionId],
    ) -> impl Future<Output = Result<FxHashMap<TransactionId, DecisionRecord>, StoreError>> + Send;

    /// States of the given entities; absent ones are simply missing from the maps.
    fn load_states(
        &self,
        batch: &BatchKey,
        customers: &[CustomerId],
        terminals: &[TerminalId],
    ) -> impl Future<Output = Result<States, StoreError>> + Send;

    /// Writes all changes, or none if any entity's `version` is not the stored one.
    /// Stored versions are then one more than the ones written.
    fn save(&self, changes: Changes) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// In-process state: replays, the demo and unit tests.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    inner: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    customers: FxHashMap<CustomerId, CustomerState>,
    terminals: FxHashMap<TerminalId, TerminalState>,
    records: FxHashMap<TransactionId, DecisionRecord>,
}

fn pick<K: std::hash::Hash + Eq + Clone, V: Clone>(from: &FxHashMap<K, V>, keys: &[K]) -> FxHashMap<K, V> {
    keys.iter().filter_map(|k| from.get(k).map(|v| (k.clone(), v.clone()))).collect()
}

/// Optimistic concurrency: the version a batch loaded must still be the stored one
/// (0 for an entity it saw as new).
fn check_version<K: std::hash::Hash + Eq + std::fmt::Debug, V>(
    stored: &FxHashMap<K, V>,
    key: &K,
    loaded: u64,
    version: impl Fn(&V) -> u64,
) -> Result<(), StoreError> {
    if stored.get(key).map_or(0, version) == loaded {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!("{key:?}")))
    }
}

impl MemoryStateStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        // A panic elsewhere cannot leave the maps half-written (save checks before it
        // writes), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn customer(&self, id: &CustomerId) -> Option<CustomerState> {
        self.lock().customers.get(id).cloned()
    }

    pub fn terminal(&self, id: &TerminalId) -> Option<TerminalState> {
        self.lock().terminals.get(id).cloned()
    }

    pub fn record(&self, id: &TransactionId) -> Option<DecisionRecord> {
        self.lock().records.get(id).cloned()
    }

    pub fn len(&self) -> (usize, usize, usize) {
        let m = self.lock();
        (m.customers.len(), m.terminals.len(), m.records.len())
    }
}

impl StateStore for MemoryStateStore {
    async fn load_records(
        &self,
        _: &BatchKey,
        ids: &[TransactionId],
    ) -> Result<FxHashMap<TransactionId, DecisionRecord>, StoreError> {
        Ok(pick(&self.lock().records, ids))
    }

    async fn load_states(
        &self,
        _: &BatchKey,
        customers: &[CustomerId],
        terminals: &[TerminalId],
    ) -> Result<States, StoreError> {
        let m = self.lock();
        Ok((pick(&m.customers, customers), pick(&m.terminals, terminals)))
    }

    async fn save(&self, changes: Changes) -> Result<(), StoreError> {
        let mut m = self.lock();
        for (k, s) in &changes.customers {
            check_version(&m.customers, k, s.version, |s| s.version)?;
        }
        for (k, s) in &changes.terminals {
            check_version(&m.terminals, k, s.version, |s| s.version)?;
        }
        for (k, mut s) in changes.customers {
            s.version += 1;
            m.customers.insert(k, s);
        }
        for (k, mut s) in changes.terminals {
            s.version += 1;
            m.terminals.insert(k, s);
        }
        for r in changes.records.into_iter().chain(changes.labelled) {
            m.records.insert(r.decision.transaction_id.clone(), r);
        }
        Ok(())
    }
}
