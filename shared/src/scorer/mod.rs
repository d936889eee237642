//! The scoring core every entry point shares (scorer Lambda, `vigil replay`, the demo):
//! a batch of validated events in, one outcome per event out.

mod plan;

use crate::compliance::{Compliance, Finding};
use crate::decision::{Decision, Thresholds};
use crate::features::{FeatureEngine, Features};
use crate::ids::TransactionId;
use crate::model::{FraudModel, Model, ModelError};
use crate::rules::RuleSet;
use crate::store::{Snapshot, StateStore, StoreError};
use crate::wire::Event;
use chrono::{DateTime, Utc};
use plan::Planner;

/// Attempts at the part of a batch whose customer or records another writer moved meanwhile.
const MAX_ATTEMPTS: u32 = 5;

/// What became of one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A new transaction, scored and recorded, with the features the model saw.
    Decided(Decision, Features),
    /// Seen before (redelivery, retry): the recorded decision, no state moved.
    Duplicate(Decision),
    /// The label is recorded on its transaction and its counts moved; `corrected` when it
    /// replaced an earlier verdict (whose effect was reversed).
    Labelled { transaction_id: TransactionId, fraud: bool, corrected: bool },
    /// The same verdict was already recorded, or a later one replaced it: nothing moved.
    LabelDuplicate { transaction_id: TransactionId },
    /// Its transaction has not been scored yet (it may travel on another shard): the label
    /// is kept and applied when the transaction is.
    LabelParked { transaction_id: TransactionId },
    /// A transfer, cash movement or customer profile, judged by AML monitoring and
    /// screening; `repeat` when it was judged before (its recorded finding, no state moved).
    Monitored { finding: Box<Finding>, repeat: bool },
}

impl Outcome {
    pub fn decision(&self) -> Option<&Decision> {
        match self {
            Outcome::Decided(d, _) | Outcome::Duplicate(d) => Some(d),
            Outcome::Monitored { finding, .. } => Some(&finding.decision),
            _ => None,
        }
    }

    /// Seen before: decided or judged earlier, nothing moved this time.
    pub fn is_repeat(&self) -> bool {
        matches!(self, Outcome::Duplicate(_) | Outcome::Monitored { repeat: true, .. })
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
    #[error("an event of the batch got no outcome")]
    Incomplete,
}

/// How a deployment decides: thresholds, rules, how many model reasons an alert carries,
/// and the compliance configuration (AML typologies, sanctions lists).
pub struct Policy {
    pub engine: FeatureEngine,
    pub thresholds: Thresholds,
    pub rules: RuleSet,
    pub model_reasons: usize,
    pub compliance: Compliance,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            engine: FeatureEngine::default(),
            thresholds: Thresholds::default(),
            rules: RuleSet::default(),
            model_reasons: 3,
            compliance: Compliance::default(),
        }
    }
}

pub struct Scorer<S, M = Model> {
    store: S,
    model: M,
    policy: Policy,
    versions: crate::archive::Versions,
}

/// The decision configuration other than the model (see [`Scorer::configuration`]).
fn rules(p: &Policy) -> String {
    let aml = serde_json::to_string(p.compliance.aml.config()).unwrap_or_default();
    let lists = match &p.compliance.screening {
        Some(s) => format!("{} (block at {})", s.screener.version().as_str(), s.block_at),
        None => "none".to_owned(),
    };
    format!(
        "thresholds {:?}; rules {:?}; features {:?}; reasons {}; aml {aml}; lists {lists}",
        p.thresholds, p.rules, p.engine, p.model_reasons,
    )
}

fn short_digest(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect()
}

impl<S: StateStore, M: FraudModel> Scorer<S, M> {
    pub fn new(store: S, model: M, policy: Policy) -> Self {
        let versions = crate::archive::Versions {
            model: model.version().to_owned(),
            rules: short_digest(&rules(&policy)),
        };
        Self { store, model, policy, versions }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn model(&self) -> &M {
        &self.model
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What decides, as the audit trail records it at each cold start where it changed:
    /// the model, score thresholds, rules, feature windows, AML parameters and sanctions
    /// lists. Any change to one of them changes this text and so its digest.
    pub fn configuration(&self) -> String {
        format!("model {}; {}", self.model.version(), rules(&self.policy))
    }

    /// What the lake records beside each decision: the model's version, and the first 12
    /// hex digits of the SHA-256 of the rest of [`Self::configuration`].
    pub fn versions(&self) -> &crate::archive::Versions {
        &self.versions
    }

    /// Processes `events` in order (`now`: when, for labels that must wait). Idempotent:
    /// events already applied — by an identical retry, a bisected half, a batch that
    /// restarts at a checkpoint with newer records, a crashed attempt — change nothing and
    /// get their recorded outcome.
    ///
    /// One read, then units written concurrently. A unit whose customer or record another
    /// writer moved since the read is redone, with the events tied to it, from fresh state;
    /// everything else is final.
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    pub async fn process(&self, events: &[Event], now: DateTime<Utc>) -> Result<Vec<Outcome>, ScoreError> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; events.len()];
        let mut todo: Vec<usize> = (0..events.len()).collect();
        for attempt in 1..=MAX_ATTEMPTS {
            let mut request = plan::request(events, &todo);
            let mut loaded = self.store.load(&request).await?;
            let missing = plan::cash_days_missing(events, &todo, &loaded, &request);
            if !missing.is_empty() {
                // Cash aggregates per owning customer, named by the account just read.
                request.cash_days.extend(missing);
                loaded = self.store.load(&request).await?;
            }
            let planner = Planner::new(&self.policy, self.store.unit_limit(), now, loaded);
            let plan = planner.plan(events, &todo, &self.model)?;
            let applied = self.store.commit(plan.units).await?;
            let mut redo = Vec::new();
            for (i, outcome, unit) in plan.outcomes {
                match unit {
                    Some(u) if !applied.get(u).copied().unwrap_or(false) => redo.push(i),
                    _ => outcomes[i] = Some(outcome),
                }
            }
            if redo.is_empty() {
                // Every event got its outcome in some attempt (each one planned is either final
                // or redone): a missing one would misalign outcomes with events downstream.
                return outcomes.into_iter().collect::<Option<Vec<_>>>().ok_or(ScoreError::Incomplete);
            }
            tracing::debug!(attempt, events = redo.len(), "state moved under part of the batch: redoing it");
            todo = redo;
        }
        Err(ScoreError::Contended)
    }

    /// Scores the transactions among `events` on themselves alone, as if their customer and
    /// terminal had no history, and writes nothing: the decision API's answer when the
    /// store is too slow to wait for. Labels get no outcome.
    pub fn score_alone(
        &self,
        events: &[Event],
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<Decision>>, ModelError> {
        let todo: Vec<usize> =
            (0..events.len()).filter(|&i| matches!(events[i], Event::Transaction(_))).collect();
        let planner = Planner::new(&self.policy, self.store.unit_limit(), now, Snapshot::default());
        let plan = planner.plan(events, &todo, &self.model)?;
        let mut decisions = vec![None; events.len()];
        for (i, outcome, _) in plan.outcomes {
            decisions[i] = outcome.decision().cloned();
        }
        Ok(decisions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Verdict;
    use crate::ids::{CustomerId, TerminalId};
    use crate::label::LabelEvent;
    use crate::store::{Label, MemoryStateStore, RecordState};
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

    fn now() -> DateTime<Utc> {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }

    fn scorer() -> Scorer<MemoryStateStore, AmountModel> {
        Scorer::new(MemoryStateStore::default(), AmountModel, Policy::default())
    }

    fn faulty() -> Scorer<FaultyStore, AmountModel> {
        Scorer::new(FaultyStore::default(), AmountModel, Policy::default())
    }

    fn cust(id: &str) -> CustomerId {
        CustomerId::parse(id).unwrap()
    }

    fn term(id: &str) -> TerminalId {
        TerminalId::parse(id).unwrap()
    }

    fn txid(id: &str) -> TransactionId {
        TransactionId::parse(id).unwrap()
    }

    fn batch() -> Vec<Event> {
        vec![
            tx("t1", "c1", "p1", "50", "2018-04-01T10:00:00Z"),
            tx("t2", "c1", "p1", "800", "2018-04-01T11:00:00Z"),
            tx("t3", "c2", "p1", "950", "2018-04-01T12:00:00Z"),
        ]
    }

    /// Transactions and frauds a terminal's stored counts hold, over all hours.
    fn terminal_totals(store: &MemoryStateStore, id: &str) -> (u32, u32) {
        let t = store.terminal(&term(id)).unwrap_or_default();
        t.buckets.iter().fold((0, 0), |(n, f), b| (n + b.counts.count, f + b.counts.frauds))
    }

    fn customer_count(store: &MemoryStateStore, id: &str) -> u32 {
        store.customer(&cust(id)).map_or(0, |c| c.buckets.iter().map(|b| b.spend.count).sum())
    }

    #[test]
    fn a_batch_is_decided_with_bands_and_reasons() {
        let s = scorer();
        let out = block_on(s.process(&batch(), now())).unwrap();
        let verdicts: Vec<_> = out.iter().map(|o| o.decision().unwrap().verdict).collect();
        assert_eq!(verdicts, [Verdict::Accept, Verdict::Review, Verdict::Block]);
        let review = out[1].decision().unwrap();
        assert_eq!(review.reasons[0].code, "tx_amount");
        assert!(out[0].decision().unwrap().reasons.is_empty(), "accepts carry no reasons");
        let Outcome::Decided(_, f) = &out[1] else { panic!() };
        assert_eq!(f.get("customer_nb_tx_1day_window"), Some(2.0));
        assert_eq!(s.store().decided(&txid("t3")).unwrap().customer, cust("c2"));
        assert_eq!(terminal_totals(s.store(), "p1"), (3, 0));
    }

    #[test]
    fn a_replayed_batch_moves_no_state_and_repeats_its_decisions() {
        let s = scorer();
        let first = block_on(s.process(&batch(), now())).unwrap();
        let before = (s.store().customer(&cust("c1")), s.store().terminal(&term("p1")));
        let again = block_on(s.process(&batch(), now())).unwrap();
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
        let out = block_on(s.process(&events, now())).unwrap();
        assert_eq!(out[3], Outcome::Duplicate(out[0].decision().unwrap().clone()));
        assert_eq!(terminal_totals(s.store(), "p1"), (3, 0));
    }

    #[test]
    fn labels_apply_once_and_unknown_ones_wait() {
        let s = scorer();
        block_on(s.process(&batch(), now())).unwrap();
        let labels = [
            label("t2", true, "2018-04-08T11:00:00Z"),
            label("t2", true, "2018-04-08T11:00:00Z"),
            label("nope", true, "2018-04-08T11:00:00Z"),
            label("t1", false, "2018-04-08T11:00:00Z"),
        ];
        let out = block_on(s.process(&labels, now())).unwrap();
        assert!(matches!(out[0], Outcome::Labelled { fraud: true, corrected: false, .. }));
        assert!(matches!(out[1], Outcome::LabelDuplicate { .. }));
        assert!(matches!(out[2], Outcome::LabelParked { .. }));
        assert!(matches!(out[3], Outcome::Labelled { fraud: false, .. }));
        assert_eq!(terminal_totals(s.store(), "p1"), (3, 1));
        assert_eq!(s.store().customer(&cust("c1")).unwrap().fraud_tx_at.len(), 1);
        assert_eq!(s.store().decided(&txid("t2")).unwrap().label.map(|l| l.fraud), Some(true));
        assert!(matches!(s.store().record(&txid("nope")).unwrap().state, RecordState::Parked(_)));

        // Redelivering the labels changes nothing.
        let terminal = s.store().terminal(&term("p1"));
        let again = block_on(s.process(&labels, now())).unwrap();
        assert!(matches!(again[0], Outcome::LabelDuplicate { .. }));
        assert!(matches!(again[2], Outcome::LabelDuplicate { .. }), "already waiting");
        assert_eq!(s.store().terminal(&term("p1")), terminal);
    }

    #[test]
    fn a_correction_reverses_a_fraud_exactly_once() {
        let s = scorer();
        block_on(s.process(&batch(), now())).unwrap();
        let fraud = label("t2", true, "2018-04-08T11:00:00Z");
        let cleared = label("t2", false, "2018-04-20T09:00:00Z");
        block_on(s.process(std::slice::from_ref(&fraud), now())).unwrap();
        assert_eq!(terminal_totals(s.store(), "p1"), (3, 1));

        let out = block_on(s.process(&[cleared.clone(), fraud.clone(), cleared], now())).unwrap();
        assert!(matches!(out[0], Outcome::Labelled { fraud: false, corrected: true, .. }));
        assert!(
            matches!(out[1], Outcome::LabelDuplicate { .. }),
            "the original is older than its correction"
        );
        assert!(matches!(out[2], Outcome::LabelDuplicate { .. }));
        assert_eq!(terminal_totals(s.store(), "p1"), (3, 0));
        assert!(s.store().customer(&cust("c1")).unwrap().fraud_tx_at.is_empty());

        // And back again, later: counted once more.
        let back = label("t2", true, "2018-05-01T00:00:00Z");
        block_on(s.process(&[back.clone(), back], now())).unwrap();
        assert_eq!(terminal_totals(s.store(), "p1"), (3, 1));
        let recorded = s.store().decided(&txid("t2")).unwrap().label;
        assert_eq!(recorded, Some(Label { fraud: true, known_at: "2018-05-01T00:00:00Z".parse().unwrap() }));
    }

    #[test]
    fn a_label_before_its_transaction_waits_and_is_applied_when_it_is_scored() {
        let s = scorer();
        let out = block_on(s.process(&[label("t2", true, "2018-04-08T11:00:00Z")], now())).unwrap();
        assert!(matches!(out[0], Outcome::LabelParked { .. }));
        assert_eq!(s.store().len().0, 0, "no customer moved");

        let out = block_on(s.process(&batch(), now())).unwrap();
        assert!(matches!(out[1], Outcome::Decided(..)), "a parked label is no decision");
        assert_eq!(terminal_totals(s.store(), "p1"), (3, 1));
        assert_eq!(s.store().customer(&cust("c1")).unwrap().fraud_tx_at.len(), 1);
        assert_eq!(s.store().decided(&txid("t2")).unwrap().label.map(|l| l.fraud), Some(true));
        let again = block_on(s.process(&[label("t2", true, "2018-04-08T11:00:00Z")], now())).unwrap();
        assert!(matches!(again[0], Outcome::LabelDuplicate { .. }));
        assert_eq!(terminal_totals(s.store(), "p1"), (3, 1));
    }

    #[test]
    fn a_label_for_a_transaction_in_the_same_batch_is_applied_and_seen_by_later_ones() {
        let s = scorer();
        let events = [
            tx("t1", "c1", "p1", "50", "2018-04-01T10:00:00Z"),
            label("t1", true, "2018-04-01T10:30:00Z"),
            tx("t2", "c1", "p1", "60", "2018-04-01T11:00:00Z"),
        ];
        let out = block_on(s.process(&events, now())).unwrap();
        assert!(matches!(out[1], Outcome::Labelled { fraud: true, .. }));
        let Outcome::Decided(_, f) = &out[2] else { panic!() };
        assert_eq!(f.get("customer_known_frauds_30day"), Some(1.0));
        assert_eq!(s.store().decided(&txid("t1")).unwrap().label.map(|l| l.fraud), Some(true));
        assert_eq!(s.store().customer(&cust("c1")).unwrap().fraud_tx_at.len(), 1);
        assert_eq!(terminal_totals(s.store(), "p1"), (2, 1));
    }

    #[test]
    fn a_unit_another_writer_moved_is_redone_from_fresh_state() {
        let s = Scorer::new(FaultyStore::conflicting(2), AmountModel, Policy::default());
        let out = block_on(s.process(&batch(), now())).unwrap();
        assert!(out.iter().all(|o| matches!(o, Outcome::Decided(..))));
        assert_eq!(terminal_totals(&s.store().inner, "p1"), (3, 0));
        assert_eq!(customer_count(&s.store().inner, "c1"), 2);

        let stuck = Scorer::new(FaultyStore::conflicting(99), AmountModel, Policy::default());
        assert!(matches!(block_on(stuck.process(&batch(), now())), Err(ScoreError::Contended)));
    }

    /// 12 customers with 5 transactions each over 3 terminals, interleaved as a stream
    /// keyed by customer delivers them, and some labels (a few before their transaction).
    fn stream() -> Vec<Event> {
        let mut events = Vec::new();
        for i in 0..60 {
            let at = format!("2018-04-01T{:02}:{:02}:00Z", i / 6, (i % 6) * 10);
            events.push(tx(&format!("x{i}"), &format!("c{}", i % 12), &format!("p{}", i % 3), "20", &at));
            if i % 7 == 3 {
                events.push(label(&format!("x{}", i + 2), true, "2018-04-02T00:00:00Z"));
                events.push(label(&format!("x{}", i - 3), true, "2018-04-02T00:00:00Z"));
            }
        }
        events
    }

    /// Everything the stream implies, counted once: per customer and terminal.
    fn check_exactly_once(store: &MemoryStateStore, events: &[Event]) {
        let reference = scorer();
        block_on(reference.process(events, now())).unwrap();
        for c in 0..12 {
            let id = format!("c{c}");
            assert_eq!(customer_count(store, &id), 5, "{id}");
            assert_eq!(
                store.customer(&cust(&id)).map(|c| c.fraud_tx_at),
                reference.store().customer(&cust(&id)).map(|c| c.fraud_tx_at),
                "{id}"
            );
        }
        for t in 0..3 {
            let id = format!("p{t}");
            assert_eq!(terminal_totals(store, &id), terminal_totals(reference.store(), &id), "{id}");
        }
    }

    /// A crash after k of n units, then each retry shape Lambda produces: the same batch
    /// again, its two halves (bisection), the rest from a checkpoint with newer records, or
    /// the records on another shard's batch. Every transaction counts exactly once.
    #[test]
    fn a_crash_after_k_units_then_any_retry_shape_counts_everything_once() {
        let events = stream();
        let (head, newer) = events.split_at(events.len() - 10);
        for k in [0, 1, 5, 11, 17] {
            let shapes = crate::test_support::retry_shapes(head, newer);
            for (shape, retries) in shapes.into_iter().enumerate() {
                let s = Scorer::new(
                    FaultyStore { limit: Some(2), ..FaultyStore::default() },
                    AmountModel,
                    Policy::default(),
                );
                *s.store().crash_after.lock().unwrap() = Some(k);
                assert!(block_on(s.process(head, now())).is_err(), "k={k}: crashed");
                for retry in retries {
                    block_on(s.process(&retry, now())).unwrap();
                }
                // Whatever the shape left out arrives later, as the stream goes on.
                block_on(s.process(&events, now())).unwrap();
                let out = block_on(s.process(&events, now())).unwrap();
                assert!(out.iter().all(|o| !matches!(o, Outcome::Decided(..))), "k={k} shape={shape}");
                check_exactly_once(&s.store().inner, &events);
            }
        }
    }

    #[test]
    fn a_customer_with_more_transactions_than_a_unit_holds_is_written_in_order() {
        let s = Scorer::new(
            FaultyStore { limit: Some(2), ..FaultyStore::default() },
            AmountModel,
            Policy::default(),
        );
        let events: Vec<Event> = (0..7)
            .map(|i| tx(&format!("t{i}"), "c1", "p1", "10", &format!("2018-04-01T0{i}:00:00Z")))
            .collect();
        *s.store().crash_after.lock().unwrap() = Some(2);
        assert!(block_on(s.process(&events, now())).is_err());
        assert_eq!(customer_count(&s.store().inner, "c1"), 4, "two whole units of two");
        let out = block_on(s.process(&events, now())).unwrap();
        assert_eq!(out.iter().filter(|o| matches!(o, Outcome::Duplicate(_))).count(), 4);
        assert_eq!(customer_count(&s.store().inner, "c1"), 7);
        assert_eq!(s.store().inner.customer(&cust("c1")).unwrap().version, 4, "units of 2, 2, 2, 1");
        assert_eq!(terminal_totals(&s.store().inner, "p1"), (7, 0));
    }

    /// Another writer moves a customer one version on while its first unit is in flight:
    /// the first is refused, and the second — which expects exactly that version — must not
    /// be written on top of transactions that were not.
    #[test]
    fn a_customers_later_units_are_not_written_after_an_earlier_one_was_refused() {
        let store = FaultyStore { limit: Some(2), ..FaultyStore::conflicting(1) };
        let s = Scorer::new(store, AmountModel, Policy::default());
        let events: Vec<Event> = (0..5)
            .map(|i| tx(&format!("t{i}"), "c1", "p1", "10", &format!("2018-04-01T0{i}:00:00Z")))
            .collect();
        let out = block_on(s.process(&events, now())).unwrap();
        assert!(out.iter().all(|o| matches!(o, Outcome::Decided(..))));
        assert_eq!(customer_count(&s.store().inner, "c1"), 5, "each transaction once");
        assert_eq!(terminal_totals(&s.store().inner, "p1"), (5, 0));
    }

    #[test]
    fn a_label_ahead_of_its_transaction_in_the_same_batch_is_written_with_it() {
        let s = scorer();
        let events =
            [label("t1", true, "2018-04-01T09:00:00Z"), tx("t1", "c1", "p1", "50", "2018-04-01T10:00:00Z")];
        let out = block_on(s.process(&events, now())).unwrap();
        assert!(matches!(out[0], Outcome::LabelParked { .. }));
        assert!(matches!(out[1], Outcome::Decided(..)));
        assert_eq!(s.store().decided(&txid("t1")).unwrap().label.map(|l| l.fraud), Some(true));
        assert_eq!(terminal_totals(s.store(), "p1"), (1, 1));
    }

    #[test]
    fn a_confirmed_fraud_is_kept_180_days_then_leaves_with_the_customers_next_write() {
        let s = scorer();
        block_on(s.process(&[tx("t1", "c1", "p1", "50", "2018-01-01T10:00:00Z")], now())).unwrap();
        block_on(s.process(&[label("t1", true, "2018-04-30T10:00:00Z")], now())).unwrap();
        block_on(s.process(&[tx("t2", "c1", "p1", "50", "2018-06-29T10:00:00Z")], now())).unwrap();
        assert_eq!(s.store().customer(&cust("c1")).unwrap().fraud_tx_at.len(), 1, "179 days on: kept");
        block_on(s.process(&[tx("t3", "c1", "p1", "50", "2018-07-01T10:00:00Z")], now())).unwrap();
        assert!(s.store().customer(&cust("c1")).unwrap().fraud_tx_at.is_empty());
    }

    #[test]
    fn the_latest_label_wins_whatever_order_they_arrive_in() {
        let (t1, t2, t3) = ("2018-04-08T00:00:00Z", "2018-04-10T00:00:00Z", "2018-04-12T00:00:00Z");
        let orders = [
            [label("t1", true, t1), label("t1", false, t2), label("t1", true, t3)],
            [label("t1", true, t3), label("t1", true, t1), label("t1", false, t2)],
            [label("t1", false, t2), label("t1", true, t3), label("t1", true, t1)],
        ];
        for order in orders {
            let s = scorer();
            block_on(s.process(&batch(), now())).unwrap();
            for l in order {
                block_on(s.process(&[l], now())).unwrap();
            }
            assert_eq!(terminal_totals(s.store(), "p1"), (3, 1), "fraud, as the latest says");
            assert_eq!(
                s.store().decided(&txid("t1")).unwrap().label.map(|l| l.known_at.to_rfc3339()),
                Some("2018-04-12T00:00:00+00:00".into())
            );
        }
    }

    #[test]
    fn an_unavailable_store_fails_the_batch() {
        let s = faulty();
        s.store().down.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(matches!(block_on(s.process(&batch(), now())), Err(ScoreError::Store(_))));
    }
}

#[cfg(test)]
mod monitoring;
