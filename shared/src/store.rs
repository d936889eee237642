//! The state port. A batch loads what it needs in one read, works in memory, and writes
//! back in *units*. A unit is what one customer's new transactions change (their decision
//! records, the customer's state, the terminals' hourly counts, confirmed frauds), or what
//! one label changes; a store applies each unit entirely or not at all.
//!
//! Correctness never rests on which batch a record arrives in: a transaction's decision
//! record is written in the same unit as every count it moves, on the condition that the
//! record is still as loaded (absent, for a new one). So a retried, bisected or
//! redelivered batch, or one that carries newer records after a checkpoint, finds what an
//! earlier attempt applied and applies only the rest; a crash between units leaves each
//! unit whole or absent. Counts many writers share (terminals) are commutative additions
//! without a version; a customer's state has one writer (the stream's partition key) and
//! a version guard; a unit whose condition failed is redone from fresh state.

use crate::aml::{AccountState, CashDay};
use crate::compliance::Finding;
use crate::decision::Decision;
use crate::features::{CustomerState, TerminalState, hour_of};
use crate::ids::{AccountId, CustomerId, TerminalId, TransactionId};
use crate::label::LabelEvent;
use crate::money::Amount;
use chrono::{DateTime, Duration, Utc};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

/// How long a confirmed fraud, and the record a chargeback must find, are kept: chargebacks
/// arrive up to 120 days after the payment, and a fraud then still has to move the terminal's
/// and customer's counts.
pub const FRAUD_RETENTION: Duration = Duration::days(180);

/// A label as recorded on its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub fraud: bool,
    pub known_at: DateTime<Utc>,
}

impl Label {
    pub fn of(event: &LabelEvent) -> Self {
        Self { fraud: event.fraud, known_at: event.known_at }
    }

    /// Whether `self` replaces `recorded`. Labels are ordered by when they became known, a
    /// confirmed fraud first among equals: the greatest is the verdict whatever order they
    /// arrive in (a redelivered original after its correction, halves of a bisected batch).
    /// A later label with the same verdict replaces too (nothing moves, but a correction
    /// known between the two no longer wins).
    pub fn replaces(&self, recorded: Option<Label>) -> bool {
        recorded.is_none_or(|r| (self.known_at, self.fraud) > (r.known_at, r.fraud))
    }

    pub fn is_fraud(label: Option<Label>) -> bool {
        label.is_some_and(|l| l.fraud)
    }
}

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
    /// The confirmed label, once known (the latest, after corrections).
    pub label: Option<Label>,
}

/// What the store holds under a transaction id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RecordState {
    Decided(DecisionRecord),
    /// A label that arrived before its transaction (it travels keyed by transaction, the
    /// transaction by customer: another shard), kept until the transaction is scored.
    Parked(ParkedLabel),
    /// A transfer, cash movement or customer profile, judged by AML monitoring and
    /// screening: what it found, so a redelivery repeats it (alerts included).
    Monitored(MonitoredRecord),
}

/// What is remembered of a monitored transfer, cash movement or profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoredRecord {
    pub finding: Finding,
    pub at: DateTime<Utc>,
    /// A confirmed label (a reported fraud or mule payment), recorded for the lake: AML
    /// state keeps no fraud counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
}

/// An item read and written whole, with the version a write must find (0: none stored).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Versioned<T> {
    pub version: u64,
    pub state: T,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParkedLabel {
    pub label: Label,
    /// When it was parked: after [`PARKED_RETENTION`] it is reported as unmatched.
    pub parked_at: DateTime<Utc>,
}

/// How long a label waits for its transaction before it is reported as unmatched.
pub const PARKED_RETENTION: Duration = Duration::days(7);

/// A record with its version: 0 when nothing is stored; each write adds one.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub version: u64,
    pub state: RecordState,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, timeouts, unavailability, an undecodable item: retry later.
    #[error("state store unavailable: {0}")]
    Transient(String),
}

/// Hours `(from, to]` of a terminal's history a batch needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub from: i64,
    pub to: i64,
}

impl Span {
    /// What a transaction at `at` (epoch seconds) needs: the terminal horizon before it.
    pub fn before(at: i64) -> Self {
        let hour = hour_of(at);
        Span { from: hour - TerminalState::HORIZON_HOURS, to: hour }
    }

    fn contains(&self, hour: i64) -> bool {
        hour > self.from && hour <= self.to
    }
}

/// What a batch reads.
#[derive(Debug, Default)]
pub struct LoadRequest {
    pub records: Vec<TransactionId>,
    pub customers: Vec<CustomerId>,
    /// Terminals with the hours needed; a terminal may come with several spans.
    pub terminals: Vec<(TerminalId, Span)>,
    /// AML state of the accounts transfers, cash and profiles touch.
    pub accounts: Vec<AccountId>,
    /// Cash owners' business days (by [`crate::aml::CashOwner::key`]).
    pub cash_days: Vec<String>,
}

impl LoadRequest {
    /// Each terminal with every span asked for it.
    pub fn terminal_spans(&self) -> FxHashMap<&TerminalId, Vec<Span>> {
        let mut out: FxHashMap<&TerminalId, Vec<Span>> = FxHashMap::default();
        for (t, span) in &self.terminals {
            out.entry(t).or_default().push(*span);
        }
        out
    }
}

/// Whether `hour` lies in any of `spans`.
pub fn covered(spans: &[Span], hour: i64) -> bool {
    spans.iter().any(|s| s.contains(hour))
}

/// What the store holds of a request; absent entities are missing from the maps.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub records: FxHashMap<TransactionId, Record>,
    /// Each customer's state stamped with its version, confirmed frauds included.
    pub customers: FxHashMap<CustomerId, CustomerState>,
    pub terminals: FxHashMap<TerminalId, TerminalState>,
    pub accounts: FxHashMap<AccountId, Versioned<AccountState>>,
    pub cash_days: FxHashMap<String, Versioned<CashDay>>,
}

/// A change to one terminal hour's counts: commutative, applied without a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalDelta {
    pub hour: i64,
    pub count: i64,
    pub frauds: i64,
}

/// A confirmed fraud on a customer (`at` = the transaction's time), or one withdrawn by a
/// correction (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudMark {
    pub customer: CustomerId,
    pub transaction: TransactionId,
    pub at: Option<i64>,
}

/// A record write, on the condition that the stored version is still `expected`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordWrite {
    pub id: TransactionId,
    pub expected: u64,
    pub state: RecordState,
}

/// Written entirely or not at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Unit {
    /// The customer's new state, on the condition that the stored version is still
    /// `state.version` (0: none stored).
    pub customer: Option<(CustomerId, CustomerState)>,
    pub records: Vec<RecordWrite>,
    pub terminals: Vec<(TerminalId, TerminalDelta)>,
    pub frauds: Vec<FraudMark>,
    /// Accounts' new AML states, each on the condition that its stored version is still
    /// the one given.
    pub accounts: Vec<(AccountId, Versioned<AccountState>)>,
    pub cash_days: Vec<(String, Versioned<CashDay>)>,
}

pub trait StateStore: Send + Sync {
    fn load(&self, request: &LoadRequest) -> impl Future<Output = Result<Snapshot, StoreError>> + Send;

    /// Applies each unit entirely or not at all, and says which were applied. A unit whose
    /// conditions no longer hold (its customer or a record moved since the load) is not:
    /// the caller redoes it from fresh state. Units of one customer are applied in order.
    /// On an error some units may be applied: redoing the whole batch is then safe.
    fn commit(&self, units: Vec<Unit>) -> impl Future<Output = Result<Vec<bool>, StoreError>> + Send;

    /// Most new transactions one unit may carry (a store's transaction size limit).
    fn unit_limit(&self) -> usize {
        usize::MAX
    }

    /// Labels parked before `cutoff` that are still waiting, with their record versions.
    fn parked_before(
        &self,
        cutoff: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<(TransactionId, u64, ParkedLabel)>, StoreError>> + Send;

    /// Forgets a parked label if it is still as read (its transaction may have come since):
    /// true if it was forgotten.
    fn forget_parked(
        &self,
        id: &TransactionId,
        version: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// In-process state: replays, the demo and unit tests. Laid out as the DynamoDB adapter
/// lays it out (customer state, frauds apart, terminal counts per hour), with the same
/// conditions, so the scorer behaves the same over either.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    inner: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    records: FxHashMap<TransactionId, Record>,
    customers: FxHashMap<CustomerId, CustomerState>,
    frauds: FxHashMap<CustomerId, BTreeMap<TransactionId, i64>>,
    terminals: FxHashMap<TerminalId, BTreeMap<i64, (i64, i64)>>,
    accounts: FxHashMap<AccountId, Versioned<AccountState>>,
    cash_days: FxHashMap<String, Versioned<CashDay>>,
}

impl Memory {
    fn customer(&self, id: &CustomerId) -> Option<CustomerState> {
        let frauds = self.frauds.get(id);
        if !self.customers.contains_key(id) && frauds.is_none() {
            return None;
        }
        let mut state = self.customers.get(id).cloned().unwrap_or_default();
        state.fraud_tx_at = frauds.map(|f| f.values().copied().collect()).unwrap_or_default();
        state.fraud_tx_at.sort_unstable();
        Some(state)
    }

    fn terminal(&self, id: &TerminalId, spans: &[Span]) -> Option<TerminalState> {
        let hours = self.terminals.get(id)?;
        let from = spans.iter().map(|s| s.from).min()?;
        let to = spans.iter().map(|s| s.to).max()?;
        let within = hours.range(from + 1..=to).filter(|(h, _)| covered(spans, **h));
        Some(TerminalState::from_hours(within.map(|(&h, &c)| (h, c))))
    }

    /// Whether every condition of `unit` holds.
    fn admits(&self, unit: &Unit) -> bool {
        let stored_customer = |id| self.customers.get(id).map_or(0, |s: &CustomerState| s.version);
        let stored_record = |id| self.records.get(id).map_or(0, |r: &Record| r.version);
        let stored_account = |id| self.accounts.get(id).map_or(0, |a: &Versioned<_>| a.version);
        let stored_day = |key| self.cash_days.get(key).map_or(0, |d: &Versioned<_>| d.version);
        unit.customer.as_ref().is_none_or(|(id, s)| stored_customer(id) == s.version)
            && unit.records.iter().all(|r| stored_record(&r.id) == r.expected)
            && unit.accounts.iter().all(|(id, a)| stored_account(id) == a.version)
            && unit.cash_days.iter().all(|(key, d)| stored_day(key) == d.version)
    }

    fn apply(&mut self, unit: Unit) {
        if let Some((id, mut state)) = unit.customer {
            state.version += 1;
            state.fraud_tx_at.clear(); // kept apart, as in DynamoDB
            // Frauds past their retention leave with the customer's next write, as there.
            let oldest = state.last_tx_at.unwrap_or(i64::MIN).saturating_sub(FRAUD_RETENTION.num_seconds());
            if let Some(frauds) = self.frauds.get_mut(&id) {
                frauds.retain(|_, at| *at > oldest);
            }
            self.customers.insert(id, state);
        }
        for r in unit.records {
            self.records.insert(r.id, Record { version: r.expected + 1, state: r.state });
        }
        for (id, d) in unit.terminals {
            let c = self.terminals.entry(id).or_default().entry(d.hour).or_default();
            c.0 += d.count;
            c.1 += d.frauds;
        }
        for m in unit.frauds {
            let frauds = self.frauds.entry(m.customer).or_default();
            match m.at {
                Some(at) => frauds.insert(m.transaction, at),
                None => frauds.remove(&m.transaction),
            };
        }
        for (id, a) in unit.accounts {
            self.accounts.insert(id, Versioned { version: a.version + 1, state: a.state });
        }
        for (key, d) in unit.cash_days {
            self.cash_days.insert(key, Versioned { version: d.version + 1, state: d.state });
        }
    }
}

/// Customers, accounts and cash days with a unit refused in a commit: their later units
/// were built on it and are refused too, whatever their version condition says (another
/// writer may have moved the item to exactly the version they expect).
#[derive(Debug, Default)]
pub struct Refused(rustc_hash::FxHashSet<String>);

impl Refused {
    /// The versioned items a unit writes on top of, by a key of their own.
    fn versioned(unit: &Unit) -> impl Iterator<Item = String> + '_ {
        let customer = unit.customer.iter().map(|(id, _)| format!("c#{}", id.as_str()));
        let accounts = unit.accounts.iter().map(|(id, _)| format!("a#{}", id.as_str()));
        let days = unit.cash_days.iter().map(|(key, _)| format!("d#{key}"));
        customer.chain(accounts).chain(days)
    }

    pub fn add(&mut self, unit: &Unit) {
        self.0.extend(Self::versioned(unit));
    }

    pub fn follows(&self, unit: &Unit) -> bool {
        Self::versioned(unit).any(|k| self.0.contains(&k))
    }
}

impl MemoryStateStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        // A panic elsewhere cannot leave the maps half-written (a unit is checked before
        // it is applied), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A customer's stored state (confirmed frauds included).
    pub fn customer(&self, id: &CustomerId) -> Option<CustomerState> {
        self.lock().customer(id)
    }

    /// A terminal's whole stored history.
    pub fn terminal(&self, id: &TerminalId) -> Option<TerminalState> {
        self.lock().terminal(id, &[Span { from: i64::MIN, to: i64::MAX - 1 }])
    }

    pub fn record(&self, id: &TransactionId) -> Option<Record> {
        self.lock().records.get(id).cloned()
    }

    /// A transaction's decision record, if it was scored.
    pub fn decided(&self, id: &TransactionId) -> Option<DecisionRecord> {
        match self.record(id)?.state {
            RecordState::Decided(r) => Some(r),
            RecordState::Parked(_) | RecordState::Monitored(_) => None,
        }
    }

    /// An account's stored AML state.
    pub fn account(&self, id: &AccountId) -> Option<AccountState> {
        self.lock().accounts.get(id).map(|a| a.state.clone())
    }

    /// A cash owner's stored business day.
    pub fn cash_day(&self, key: &str) -> Option<CashDay> {
        self.lock().cash_days.get(key).map(|d| d.state.clone())
    }

    /// Customers, terminals and records stored.
    pub fn len(&self) -> (usize, usize, usize) {
        let m = self.lock();
        (m.customers.len(), m.terminals.len(), m.records.len())
    }
}

impl StateStore for MemoryStateStore {
    async fn load(&self, request: &LoadRequest) -> Result<Snapshot, StoreError> {
        let m = self.lock();
        let mut out = Snapshot::default();
        for id in &request.records {
            if let Some(r) = m.records.get(id) {
                out.records.insert(id.clone(), r.clone());
            }
        }
        for id in &request.customers {
            if let Some(c) = m.customer(id) {
                out.customers.insert(id.clone(), c);
            }
        }
        for (id, spans) in request.terminal_spans() {
            if let Some(t) = m.terminal(id, &spans) {
                out.terminals.insert(id.clone(), t);
            }
        }
        for id in &request.accounts {
            if let Some(a) = m.accounts.get(id) {
                out.accounts.insert(id.clone(), a.clone());
            }
        }
        for key in &request.cash_days {
            if let Some(d) = m.cash_days.get(key) {
                out.cash_days.insert(key.clone(), d.clone());
            }
        }
        Ok(out)
    }

    async fn parked_before(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<(TransactionId, u64, ParkedLabel)>, StoreError> {
        let m = self.lock();
        let mut out: Vec<_> = m
            .records
            .iter()
            .filter_map(|(id, r)| match &r.state {
                RecordState::Parked(p) if p.parked_at < cutoff => Some((id.clone(), r.version, p.clone())),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn forget_parked(&self, id: &TransactionId, version: u64) -> Result<bool, StoreError> {
        let mut m = self.lock();
        let waiting = m
            .records
            .get(id)
            .is_some_and(|r| r.version == version && matches!(r.state, RecordState::Parked(_)));
        if waiting {
            m.records.remove(id);
        }
        Ok(waiting)
    }

    async fn commit(&self, units: Vec<Unit>) -> Result<Vec<bool>, StoreError> {
        let mut m = self.lock();
        let mut refused = Refused::default();
        Ok(units
            .into_iter()
            .map(|unit| {
                let admitted = !refused.follows(&unit) && m.admits(&unit);
                if admitted {
                    m.apply(unit);
                } else {
                    refused.add(&unit);
                }
                admitted
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollster::block_on;

    fn cust(id: &str) -> CustomerId {
        CustomerId::parse(id).unwrap()
    }

    #[test]
    fn a_unit_with_a_stale_customer_version_is_refused_whole() {
        let store = MemoryStateStore::default();
        let t = TerminalId::parse("p1").unwrap();
        let unit = Unit {
            customer: Some((cust("c1"), CustomerState::default())),
            terminals: vec![(t.clone(), TerminalDelta { hour: 5, count: 1, frauds: 0 })],
            ..Unit::default()
        };
        assert_eq!(block_on(store.commit(vec![unit.clone(), unit])).unwrap(), [true, false]);
        assert_eq!(store.customer(&cust("c1")).unwrap().version, 1);
        assert_eq!(store.terminal(&t).unwrap().counts(5, 1).count, 1, "the refused unit moved nothing");
    }

    #[test]
    fn frauds_are_kept_apart_and_can_be_withdrawn() {
        let store = MemoryStateStore::default();
        let tx = TransactionId::parse("t1").unwrap();
        let mark = |at| FraudMark { customer: cust("c1"), transaction: tx.clone(), at };
        let unit = |at| Unit { frauds: vec![mark(at)], ..Unit::default() };
        block_on(store.commit(vec![unit(Some(100))])).unwrap();
        assert_eq!(store.customer(&cust("c1")).unwrap().fraud_tx_at, [100]);
        block_on(store.commit(vec![unit(None)])).unwrap();
        assert!(store.customer(&cust("c1")).unwrap().fraud_tx_at.is_empty());
    }

    #[test]
    fn a_correction_replaces_a_label_and_a_redelivered_original_does_not() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let fraud = Label { fraud: true, known_at: at("2018-04-08T00:00:00Z") };
        let cleared = Label { fraud: false, known_at: at("2018-04-20T00:00:00Z") };
        assert!(fraud.replaces(None));
        assert!(cleared.replaces(Some(fraud)));
        assert!(!fraud.replaces(Some(cleared)), "older than the correction");
        assert!(!fraud.replaces(Some(fraud)), "the same label again");
        let again = Label { fraud: true, known_at: at("2018-05-01T00:00:00Z") };
        assert!(again.replaces(Some(fraud)), "the same verdict, known later: recorded");
        assert!(!cleared.replaces(Some(again)), "so a correction known before it no longer wins");
        let tie = Label { fraud: false, known_at: fraud.known_at };
        assert!(fraud.replaces(Some(tie)) && !tie.replaces(Some(fraud)), "a fraud wins a tie, either order");
    }
}
