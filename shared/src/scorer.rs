//! The scoring core every entry point shares (scorer Lambda, `vigil replay`, the demo):
//! a batch of validated events in, one outcome per event out.

use crate::decision::{Decision, Thresholds, Verdict};
use crate::features::{CustomerState, FeatureEngine, Features, TerminalState};
use crate::ids::{CustomerId, TerminalId, TransactionId};
use crate::label::LabelEvent;
use crate::model::{FraudModel, Model, ModelError};
use crate::rules::RuleSet;
use crate::store::{BatchKey, Changes, DecisionRecord, StateStore, States, StoreError};
use crate::transaction::Transaction;
use crate::wire::Event;
use rustc_hash::{FxHashMap, FxHashSet};

/// Attempts at a batch whose state another writer changed meanwhile.
const MAX_ATTEMPTS: u32 = 5;

/// What became of one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A new transaction, scored and recorded, with the features the model saw.
    Decided(Decision, Features),
    /// Seen before (redelivery, retry): the recorded decision, no state moved.
    Duplicate(Decision),
    Labelled {
        transaction_id: TransactionId,
        fraud: bool,
    },
    /// The transaction already had a label: nothing moved.
    LabelDuplicate {
        transaction_id: TransactionId,
    },
    /// No such transaction was ever scored (or its record expired): nothing moved.
    LabelUnmatched {
        transaction_id: TransactionId,
    },
}

impl Outcome {
    pub fn decision(&self) -> Option<&Decision> {
        match self {
            Outcome::Decided(d, _) | Outcome::Duplicate(d) => Some(d),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("scoring failed: {0}")]
    Model(#[from] ModelError),
    #[error("state kept changing under the batch: gave up after {MAX_ATTEMPTS} attempts")]
    Contended,
}

/// How a deployment decides: thresholds, rules, how many model reasons an alert carries.
pub struct Policy {
    pub engine: FeatureEngine,
    pub thresholds: Thresholds,
    pub rules: RuleSet,
    pub model_reasons: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            engine: FeatureEngine::default(),
            thresholds: Thresholds::default(),
            rules: RuleSet::default(),
            model_reasons: 3,
        }
    }
}

pub struct Scorer<S, M = Model> {
    store: S,
    model: M,
    policy: Policy,
}

enum Slot {
    Done(Outcome),
    New(usize),
    /// A second copy of a transaction first seen earlier in the same batch.
    SameAs(usize),
}

/// A transaction first seen in this batch, waiting for its score.
struct Pending<'a> {
    tx: &'a Transaction,
    features: Features,
    label: Option<bool>,
}

/// Customer and terminal states of one batch, and which of them changed.
#[derive(Default)]
struct Working {
    customers: FxHashMap<CustomerId, CustomerState>,
    terminals: FxHashMap<TerminalId, TerminalState>,
    dirty_customers: FxHashSet<CustomerId>,
    dirty_terminals: FxHashSet<TerminalId>,
    /// Each changed entity as loaded, copied when the batch first touches it.
    previous: States,
}

impl Working {
    fn states(
        &mut self,
        customer: &CustomerId,
        terminal: &TerminalId,
    ) -> (&mut CustomerState, &mut TerminalState) {
        if self.dirty_customers.insert(customer.clone())
            && let Some(loaded) = self.customers.get(customer)
        {
            self.previous.0.insert(customer.clone(), loaded.clone());
        }
        if self.dirty_terminals.insert(terminal.clone())
            && let Some(loaded) = self.terminals.get(terminal)
        {
            self.previous.1.insert(terminal.clone(), loaded.clone());
        }
        (
            self.customers.entry(customer.clone()).or_default(),
            self.terminals.entry(terminal.clone()).or_default(),
        )
    }

    fn confirm_fraud(&mut self, customer: &CustomerId, terminal: &TerminalId, tx_at: i64) {
        let (c, t) = self.states(customer, terminal);
        c.confirm_fraud(tx_at);
        t.confirm_fraud(tx_at);
    }

    fn into_changes(
        mut self,
        batch: BatchKey,
        records: Vec<DecisionRecord>,
        labelled: Vec<DecisionRecord>,
    ) -> Changes {
        Changes {
            batch,
            previous: self.previous,
            customers: take_dirty(&mut self.customers, self.dirty_customers),
            terminals: take_dirty(&mut self.terminals, self.dirty_terminals),
            records,
            labelled,
        }
    }
}

fn take_dirty<K: std::hash::Hash + Eq, V>(map: &mut FxHashMap<K, V>, dirty: FxHashSet<K>) -> FxHashMap<K, V> {
    dirty.into_iter().filter_map(|k| map.remove(&k).map(|v| (k, v))).collect()
}

impl<S: StateStore, M: FraudModel> Scorer<S, M> {
    pub fn new(store: S, model: M, policy: Policy) -> Self {
        Self { store, model, policy }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn model(&self) -> &M {
        &self.model
    }

    /// Processes `events` in order. Idempotent: events already applied (a retried or
    /// redelivered batch) change nothing and get their recorded outcome.
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    pub async fn process(&self, events: &[Event]) -> Result<Vec<Outcome>, ScoreError> {
        let batch = BatchKey::of(events);
        for attempt in 1..=MAX_ATTEMPTS {
            match self.attempt(&batch, events).await {
                Err(ScoreError::Store(StoreError::Conflict(what))) => {
                    tracing::debug!(attempt, %what, "state changed under the batch, retrying");
                }
                result => return result,
            }
        }
        Err(ScoreError::Contended)
    }

    async fn attempt(&self, batch: &BatchKey, events: &[Event]) -> Result<Vec<Outcome>, ScoreError> {
        let ids: Vec<TransactionId> =
            events.iter().map(Event::subject).collect::<FxHashSet<_>>().into_iter().cloned().collect();
        let mut records = self.store.load_records(batch, &ids).await?;

        let mut customers = FxHashSet::default();
        let mut terminals = FxHashSet::default();
        for event in events {
            match event {
                Event::Transaction(tx) => {
                    customers.insert(tx.customer.clone());
                    terminals.insert(tx.terminal.clone());
                }
                Event::Label(l) => {
                    if let Some(r) = records.get(&l.transaction_id) {
                        customers.insert(r.customer.clone());
                        terminals.insert(r.terminal.clone());
                    }
                }
            }
        }
        let customers: Vec<_> = customers.into_iter().collect();
        let terminals: Vec<_> = terminals.into_iter().collect();
        let (customers, terminals) = self.store.load_states(batch, &customers, &terminals).await?;
        let mut work = Working { customers, terminals, ..Working::default() };

        let mut pending: Vec<Pending<'_>> = Vec::new();
        let mut new_ids: FxHashMap<&TransactionId, usize> = FxHashMap::default();
        let mut relabelled: Vec<DecisionRecord> = Vec::new();
        let mut slots = Vec::with_capacity(events.len());
        for event in events {
            let slot = match event {
                Event::Transaction(tx) => {
                    if let Some(&p) = new_ids.get(&tx.id) {
                        Slot::SameAs(p)
                    } else if let Some(r) = records.get(&tx.id) {
                        Slot::Done(Outcome::Duplicate(r.decision.clone()))
                    } else {
                        let (c, t) = work.states(&tx.customer, &tx.terminal);
                        let features = self.policy.engine.observe(tx, c, t);
                        new_ids.insert(&tx.id, pending.len());
                        pending.push(Pending { tx, features, label: None });
                        Slot::New(pending.len() - 1)
                    }
                }
                Event::Label(l) => Slot::Done(self.apply_label(
                    l,
                    &new_ids,
                    &mut pending,
                    &mut records,
                    &mut relabelled,
                    &mut work,
                )),
            };
            slots.push(slot);
        }

        let decisions = self.decide(&pending)?;
        let mut outcomes = Vec::with_capacity(slots.len());
        for slot in slots {
            outcomes.push(match slot {
                Slot::Done(o) => o,
                Slot::New(p) => Outcome::Decided(decisions[p].clone(), pending[p].features),
                Slot::SameAs(p) => Outcome::Duplicate(decisions[p].clone()),
            });
        }

        let new_records: Vec<DecisionRecord> = pending
            .iter()
            .zip(decisions)
            .map(|(p, decision)| DecisionRecord {
                decision,
                customer: p.tx.customer.clone(),
                terminal: p.tx.terminal.clone(),
                at: p.tx.at,
                amount: p.tx.amount,
                label: p.label,
            })
            .collect();
        self.store.save(work.into_changes(batch.clone(), new_records, relabelled)).await?;
        Ok(outcomes)
    }

    fn apply_label(
        &self,
        label: &LabelEvent,
        new_ids: &FxHashMap<&TransactionId, usize>,
        pending: &mut [Pending<'_>],
        records: &mut FxHashMap<TransactionId, DecisionRecord>,
        relabelled: &mut Vec<DecisionRecord>,
        work: &mut Working,
    ) -> Outcome {
        let transaction_id = label.transaction_id.clone();
        // Where the labelled transaction happened, and its label slot.
        let (customer, terminal, at, slot) = if let Some(&p) = new_ids.get(&label.transaction_id) {
            let p = &mut pending[p];
            (&p.tx.customer, &p.tx.terminal, p.tx.at, &mut p.label)
        } else if let Some(r) = records.get_mut(&label.transaction_id) {
            (&r.customer, &r.terminal, r.at, &mut r.label)
        } else {
            return Outcome::LabelUnmatched { transaction_id };
        };
        if slot.is_some() {
            return Outcome::LabelDuplicate { transaction_id };
        }
        *slot = Some(label.fraud);
        if label.fraud {
            let (customer, terminal) = (customer.clone(), terminal.clone());
            work.confirm_fraud(&customer, &terminal, at.timestamp());
        }
        if let Some(r) = records.get(&label.transaction_id) {
            relabelled.push(r.clone());
        }
        Outcome::Labelled { transaction_id, fraud: label.fraud }
    }

    /// Scores all new transactions in one model call, then applies bands and rules.
    fn decide(&self, pending: &[Pending<'_>]) -> Result<Vec<Decision>, ModelError> {
        let features: Vec<Features> = pending.iter().map(|p| p.features).collect();
        let scores = self.model.score(&features)?;
        let policy = &self.policy;
        pending
            .iter()
            .zip(scores)
            .map(|(p, score)| {
                let hits = policy.rules.check(p.tx, &p.features);
                let alert = !hits.is_empty() || policy.thresholds.verdict(score) != Verdict::Accept;
                let contributions = if alert {
                    self.model.explain(&p.features, score, policy.model_reasons)?
                } else {
                    Vec::new()
                };
                Ok(policy.thresholds.decide(p.tx.id.clone(), score, hits, &p.features, &contributions))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStateStore;
    use crate::test_support::{AmountModel, FaultyStore};
    use pollster::block_on;

    fn tx(id: &str, customer: &str, terminal: &str, amount: &str, at: &str) -> Event {
        Event::Transaction(crate::test_support::tx(id, customer, terminal, amount, at))
    }

    fn label(id: &str, fraud: bool, known_at: &str) -> Event {
        Event::Label(LabelEvent {
            transaction_id: TransactionId::parse(id).unwrap(),
            fraud,
            known_at: known_at.parse().unwrap(),
        })
    }

    fn scorer() -> Scorer<MemoryStateStore, AmountModel> {
        Scorer::new(MemoryStateStore::default(), AmountModel, Policy::default())
    }

    fn cust(id: &str) -> CustomerId {
        CustomerId::parse(id).unwrap()
    }

    fn term(id: &str) -> TerminalId {
        TerminalId::parse(id).unwrap()
    }

    fn batch() -> Vec<Event> {
        vec![
            tx("t1", "c1", "p1", "50", "2018-04-01T10:00:00Z"),
            tx("t2", "c1", "p1", "800", "2018-04-01T11:00:00Z"),
            tx("t3", "c2", "p1", "950", "2018-04-01T12:00:00Z"),
        ]
    }

    #[test]
    fn a_save_carries_each_changed_entity_as_the_batch_loaded_it() {
        let s = Scorer::new(FaultyStore::default(), AmountModel, Policy::default());
        block_on(s.process(&batch())).unwrap();
        let first = s.store().previous.lock().unwrap().clone();
        assert!(first.0.is_empty() && first.1.is_empty(), "new entities have no earlier state");
        let p1 = s.store().inner.terminal(&term("p1")).unwrap();
        block_on(s.process(&[tx("t4", "c3", "p1", "10", "2018-04-01T13:00:00Z")])).unwrap();
        let second = s.store().previous.lock().unwrap().clone();
        assert_eq!(second.1.get(&term("p1")), Some(&p1));
        assert!(second.0.is_empty(), "c3 is new");
    }

    #[test]
    fn a_batch_is_decided_with_bands_and_reasons() {
        let s = scorer();
        let out = block_on(s.process(&batch())).unwrap();
        let verdicts: Vec<_> = out.iter().map(|o| o.decision().unwrap().verdict).collect();
        assert_eq!(verdicts, [Verdict::Accept, Verdict::Review, Verdict::Block]);
        let review = out[1].decision().unwrap();
        assert_eq!(review.reasons[0].code, "tx_amount");
        assert!(out[0].decision().unwrap().reasons.is_empty(), "accepts carry no reasons");
        let Outcome::Decided(_, f) = &out[1] else { panic!() };
        assert_eq!(f.get("customer_nb_tx_1day_window"), Some(2.0));
        assert_eq!(s.store().record(&TransactionId::parse("t3").unwrap()).unwrap().customer, cust("c2"));
    }

    #[test]
    fn a_replayed_batch_moves_no_state_and_repeats_its_decisions() {
        let s = scorer();
        let first = block_on(s.process(&batch())).unwrap();
        let before = (s.store().customer(&cust("c1")), s.store().terminal(&term("p1")));
        let again = block_on(s.process(&batch())).unwrap();
        assert!(again.iter().all(|o| matches!(o, Outcome::Duplicate(_))));
        assert_eq!(
            first.iter().map(|o| o.decision().cloned()).collect::<Vec<_>>(),
            again.iter().map(|o| o.decision().cloned()).collect::<Vec<_>>()
        );
        assert_eq!(before, (s.store().customer(&cust("c1")), s.store().terminal(&term("p1"))));
    }

    #[test]
    fn a_duplicate_inside_a_batch_counts_once() {
        let s = scorer();
        let mut events = batch();
        events.push(events[0].clone());
        let out = block_on(s.process(&events)).unwrap();
        assert_eq!(out[3], Outcome::Duplicate(out[0].decision().unwrap().clone()));
        assert_eq!(s.store().terminal(&term("p1")).unwrap().counts(i64::MAX / 2, i64::MAX / 2).count, 3);
    }

    #[test]
    fn labels_apply_once_and_unknown_ones_are_reported() {
        let s = scorer();
        block_on(s.process(&batch())).unwrap();
        let labels = [
            label("t2", true, "2018-04-08T11:00:00Z"),
            label("t2", true, "2018-04-08T11:00:00Z"),
            label("nope", true, "2018-04-08T11:00:00Z"),
            label("t1", false, "2018-04-08T11:00:00Z"),
        ];
        let out = block_on(s.process(&labels)).unwrap();
        assert!(matches!(out[0], Outcome::Labelled { fraud: true, .. }));
        assert!(matches!(out[1], Outcome::LabelDuplicate { .. }));
        assert!(matches!(out[2], Outcome::LabelUnmatched { .. }));
        assert!(matches!(out[3], Outcome::Labelled { fraud: false, .. }));
        let terminal = s.store().terminal(&term("p1")).unwrap();
        assert_eq!(terminal.buckets.iter().map(|b| b.counts.frauds).sum::<u32>(), 1);
        assert_eq!(s.store().customer(&cust("c1")).unwrap().fraud_tx_at.len(), 1);
        assert_eq!(s.store().record(&TransactionId::parse("t2").unwrap()).unwrap().label, Some(true));

        // Redelivering the labels changes nothing.
        let again = block_on(s.process(&labels)).unwrap();
        assert!(matches!(again[0], Outcome::LabelDuplicate { .. }));
        assert_eq!(s.store().terminal(&term("p1")).unwrap(), terminal);
    }

    #[test]
    fn a_label_for_a_transaction_in_the_same_batch_is_applied() {
        let s = scorer();
        let events =
            [tx("t1", "c1", "p1", "50", "2018-04-01T10:00:00Z"), label("t1", true, "2018-04-01T10:00:00Z")];
        let out = block_on(s.process(&events)).unwrap();
        assert!(matches!(out[1], Outcome::Labelled { fraud: true, .. }));
        assert_eq!(s.store().record(&TransactionId::parse("t1").unwrap()).unwrap().label, Some(true));
        assert_eq!(s.store().customer(&cust("c1")).unwrap().fraud_tx_at.len(), 1);
    }

    #[test]
    fn a_lost_race_is_retried_from_fresh_state() {
        let s = Scorer::new(FaultyStore::conflicting(2), AmountModel, Policy::default());
        let out = block_on(s.process(&batch())).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(s.store().inner.terminal(&term("p1")).unwrap().version, 1, "written once");

        let stuck = Scorer::new(FaultyStore::conflicting(99), AmountModel, Policy::default());
        assert!(matches!(block_on(stuck.process(&batch())), Err(ScoreError::Contended)));
    }

    #[test]
    fn memory_store_refuses_stale_versions() {
        let store = MemoryStateStore::default();
        let mut changes = Changes::default();
        changes.customers.insert(cust("c1"), CustomerState::default());
        block_on(store.save(changes)).unwrap();
        let mut stale = Changes::default();
        stale.customers.insert(cust("c1"), CustomerState::default()); // version 0, stored is 1
        assert!(matches!(block_on(store.save(stale)), Err(StoreError::Conflict(_))));
    }
}
