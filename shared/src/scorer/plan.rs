//! One attempt at a batch, in memory: events applied in order to the state the batch
//! loaded, new transactions scored, and what the store must write grouped into units
//! (see [`crate::store`]), each event tied to the unit its outcome depends on.

use super::{Outcome, Policy};
use crate::aml::{AccountState, CashDay, CashOwner, FlowEvent};
use crate::customer::CustomerProfile;
use crate::decision::Decision;
use crate::features::{CustomerState, Features, TerminalState, hour_of};
use crate::ids::{AccountId, CustomerId, TerminalId, TransactionId};
use crate::label::LabelEvent;
use crate::model::{FraudModel, ModelError};
use crate::store::{
    DecisionRecord, FraudMark, Label, LoadRequest, MonitoredRecord, ParkedLabel, Record, RecordState,
    RecordWrite, Snapshot, Span, TerminalDelta, Unit, Versioned,
};
use crate::transaction::Transaction;
use crate::wire::{Event, Flow};
use chrono::{DateTime, Utc};
use rustc_hash::{FxHashMap, FxHashSet};

/// What the events at `todo` need loaded: their records, and the customers and terminal
/// histories their transactions are scored against. Labels need no entity: their effect
/// is written as commutative changes, and applied in memory only to entities the batch's
/// transactions loaded anyway.
pub fn request(events: &[Event], todo: &[usize]) -> LoadRequest {
    let mut records = FxHashSet::default();
    let mut customers = FxHashSet::default();
    let mut terminals: FxHashSet<(&TerminalId, Span)> = FxHashSet::default();
    let mut accounts: FxHashSet<&AccountId> = FxHashSet::default();
    let mut cash_days = FxHashSet::default();
    for event in todo.iter().map(|&i| &events[i]) {
        records.insert(event.subject());
        match event {
            Event::Transaction(tx) => {
                customers.insert(&tx.customer);
                // Each transaction's own horizon, not their union: one payment dated years
                // earlier must not make the batch read every week in between.
                terminals.insert((&tx.terminal, Span::before(tx.at.timestamp())));
            }
            Event::Flow(flow) => match &flow.event {
                FlowEvent::Transfer(t) => accounts.extend([&t.payer, &t.payee]),
                FlowEvent::Cash(c) => {
                    accounts.insert(&c.account);
                    // The owner is known once the account is read: see `cash_days_missing`.
                    cash_days.insert(CashOwner::Account(c.account.clone()).key());
                }
            },
            Event::Customer(p) => accounts.extend(&p.accounts),
            Event::Label(_) => {}
        }
    }
    LoadRequest {
        records: records.into_iter().cloned().collect(),
        customers: customers.into_iter().cloned().collect(),
        terminals: terminals.into_iter().map(|(t, s)| (t.clone(), s)).collect(),
        accounts: accounts.into_iter().cloned().collect(),
        cash_days: cash_days.into_iter().collect(),
    }
}

/// Cash owners' days the events at `todo` need that `request` did not ask for: cash is
/// aggregated per owning customer, which the account's state (or a profile earlier in the
/// batch) names.
pub fn cash_days_missing(
    events: &[Event],
    todo: &[usize],
    loaded: &Snapshot,
    request: &LoadRequest,
) -> Vec<String> {
    let mut owners: FxHashMap<&AccountId, &CustomerId> = FxHashMap::default();
    let mut missing = Vec::new();
    for event in todo.iter().map(|&i| &events[i]) {
        match event {
            Event::Customer(p) => owners.extend(p.accounts.iter().map(|a| (a, &p.customer))),
            Event::Flow(Flow { event: FlowEvent::Cash(c), .. }) => {
                let stored = loaded.accounts.get(&c.account).and_then(|a| a.state.profile.owner.as_ref());
                if let Some(owner) = owners.get(&c.account).copied().or(stored) {
                    let key = CashOwner::Customer(owner.clone()).key();
                    if !request.cash_days.contains(&key) && !missing.contains(&key) {
                        missing.push(key);
                    }
                }
            }
            _ => {}
        }
    }
    missing
}

/// What an attempt wants written, and each event's outcome should its unit be applied.
pub struct Plan {
    pub units: Vec<Unit>,
    /// `(event index, outcome, unit)`: no unit means nothing to write (a duplicate).
    pub outcomes: Vec<(usize, Outcome, Option<usize>)>,
}

/// A transaction first seen in this batch.
struct Pending<'a> {
    tx: &'a Transaction,
    features: Features,
    /// Version of what is stored under its id (0, or a parked label's).
    expected: u64,
    label: Option<Label>,
    unit: usize,
}

enum Draft {
    /// Some of one customer's new transactions, and its state after them (taken when the
    /// unit is full or the batch ends).
    Customer { id: CustomerId, state: Option<CustomerState>, pending: Vec<usize> },
    /// A label on a transaction decided earlier.
    Relabel { record: DecisionRecord, expected: u64, initial: Option<Label> },
    /// A label waiting for its transaction.
    Park { id: TransactionId, expected: u64, parked: ParkedLabel },
    /// A parked label whose transaction came later in the batch: written with it.
    Folded,
    /// A transfer, cash movement or profile with the states it left, each on the version
    /// it was built on.
    Monitored {
        id: TransactionId,
        expected: u64,
        record: MonitoredRecord,
        accounts: Vec<(AccountId, Versioned<AccountState>)>,
        cash_days: Vec<(String, Versioned<CashDay>)>,
    },
    /// A label on a transfer or cash movement monitored earlier.
    RelabelMonitored { id: TransactionId, expected: u64, record: MonitoredRecord },
}

/// A transfer, cash movement or profile: first seen (the version its record must find, a
/// label that came ahead of it), or a repeat with its outcome.
enum Sight {
    First(u64, Option<Label>),
    Repeat(Slot, Option<usize>),
}

enum Slot {
    Done(Outcome),
    New(usize),
    /// A second copy of a transaction first seen earlier in the batch.
    SameAs(usize),
}

pub struct Planner<'a> {
    policy: &'a Policy,
    unit_limit: usize,
    now: DateTime<Utc>,
    records: FxHashMap<TransactionId, Record>,
    customers: FxHashMap<CustomerId, CustomerState>,
    terminals: FxHashMap<TerminalId, TerminalState>,
    pending: Vec<Pending<'a>>,
    new_ids: FxHashMap<&'a TransactionId, usize>,
    drafts: Vec<Draft>,
    /// The unit a customer's next new transaction joins.
    open: FxHashMap<CustomerId, usize>,
    /// The relabel or park unit of a transaction id.
    labelled: FxHashMap<TransactionId, usize>,
    /// Units folded into another: the events tied to them follow it.
    moved: FxHashMap<usize, usize>,
    accounts: FxHashMap<AccountId, Versioned<AccountState>>,
    cash_days: FxHashMap<String, Versioned<CashDay>>,
    /// The unit of each transfer, cash movement or profile first seen in this batch.
    monitored: FxHashMap<TransactionId, usize>,
}

impl<'a> Planner<'a> {
    pub fn new(policy: &'a Policy, unit_limit: usize, now: DateTime<Utc>, loaded: Snapshot) -> Self {
        Planner {
            policy,
            unit_limit: unit_limit.max(1),
            now,
            records: loaded.records,
            customers: loaded.customers,
            terminals: loaded.terminals,
            pending: Vec::new(),
            new_ids: FxHashMap::default(),
            drafts: Vec::new(),
            open: FxHashMap::default(),
            labelled: FxHashMap::default(),
            moved: FxHashMap::default(),
            accounts: loaded.accounts,
            cash_days: loaded.cash_days,
            monitored: FxHashMap::default(),
        }
    }

    /// Applies the events at `todo` in order, scores the new transactions, and groups the
    /// writes.
    pub fn plan(
        mut self,
        events: &'a [Event],
        todo: &[usize],
        model: &impl FraudModel,
    ) -> Result<Plan, ModelError> {
        let mut slots = Vec::with_capacity(todo.len());
        for &i in todo {
            let (slot, unit) = match &events[i] {
                Event::Transaction(tx) => self.transaction(tx),
                Event::Label(label) => self.label(label),
                Event::Flow(flow) => self.flow(flow),
                Event::Customer(profile) => self.profile(profile),
            };
            slots.push((i, slot, unit));
        }
        let decisions = self.decide(model)?;
        let outcomes = slots
            .into_iter()
            .map(|(i, slot, unit)| {
                let outcome = match slot {
                    Slot::Done(o) => o,
                    Slot::New(p) => Outcome::Decided(decisions[p].clone(), self.pending[p].features),
                    Slot::SameAs(p) => Outcome::Duplicate(decisions[p].clone()),
                };
                (i, outcome, unit.map(|u| self.moved.get(&u).copied().unwrap_or(u)))
            })
            .collect();
        let units = self.units(decisions);
        Ok(Plan { units, outcomes })
    }

    fn transaction(&mut self, tx: &'a Transaction) -> (Slot, Option<usize>) {
        if let Some(&p) = self.new_ids.get(&tx.id) {
            return (Slot::SameAs(p), Some(self.pending[p].unit));
        }
        let (expected, parked) = match self.records.get(&tx.id) {
            Some(Record { state: RecordState::Decided(r), .. }) => {
                return (Slot::Done(Outcome::Duplicate(r.decision.clone())), None);
            }
            Some(Record { state: RecordState::Monitored(r), .. }) => {
                return (Slot::Done(Outcome::Duplicate(r.finding.decision.clone())), None);
            }
            Some(Record { version, state: RecordState::Parked(p) }) => (*version, Some(p.label)),
            None => (0, None),
        };
        let unit = self.customer_unit(&tx.customer);
        // A label that arrived earlier in this batch and was to wait: it joins the transaction
        // instead (two writes of the record would cancel each other), and its outcome now
        // depends on the transaction's unit.
        let (expected, parked) = match self.labelled.remove(&tx.id) {
            Some(u) => match std::mem::replace(&mut self.drafts[u], Draft::Folded) {
                Draft::Park { expected, parked, .. } => {
                    self.moved.insert(u, unit);
                    (expected, Some(parked.label))
                }
                other => {
                    self.drafts[u] = other;
                    self.labelled.insert(tx.id.clone(), u);
                    (expected, parked)
                }
            },
            None => (expected, parked),
        };
        let customer = self.customers.entry(tx.customer.clone()).or_default();
        let terminal = self.terminals.entry(tx.terminal.clone()).or_default();
        let features = self.policy.engine.observe(tx, customer, terminal);
        if Label::is_fraud(parked) {
            customer.confirm_fraud(tx.at.timestamp());
            terminal.confirm_fraud(tx.at.timestamp());
        }
        let p = self.pending.len();
        self.pending.push(Pending { tx, features, expected, label: parked, unit });
        self.new_ids.insert(&tx.id, p);
        if let Draft::Customer { pending, .. } = &mut self.drafts[unit] {
            pending.push(p);
        }
        (Slot::New(p), Some(unit))
    }

    /// The customer's open unit, a new one when it has none or it is full.
    fn customer_unit(&mut self, customer: &CustomerId) -> usize {
        if let Some(&u) = self.open.get(customer)
            && let Draft::Customer { pending, .. } = &self.drafts[u]
            && pending.len() < self.unit_limit
        {
            return u;
        }
        if let Some(full) = self.open.remove(customer) {
            // The next unit writes on top of this one: its state as of now, then one version on.
            if let (Draft::Customer { state, .. }, Some(current)) =
                (&mut self.drafts[full], self.customers.get_mut(customer))
            {
                *state = Some(current.clone());
                current.version += 1;
            }
        }
        self.drafts.push(Draft::Customer { id: customer.clone(), state: None, pending: Vec::new() });
        let u = self.drafts.len() - 1;
        self.open.insert(customer.clone(), u);
        u
    }

    fn label(&mut self, event: &LabelEvent) -> (Slot, Option<usize>) {
        let id = &event.transaction_id;
        let label = Label::of(event);
        // Recorded, it moves the counts only if it changes the verdict.
        let applied = |before: Option<Label>| match before {
            Some(b) if b.fraud == label.fraud => {
                Slot::Done(Outcome::LabelDuplicate { transaction_id: id.clone() })
            }
            _ => Slot::Done(Outcome::Labelled {
                transaction_id: id.clone(),
                fraud: label.fraud,
                corrected: before.is_some(),
            }),
        };
        let duplicate = Slot::Done(Outcome::LabelDuplicate { transaction_id: id.clone() });
        let parked = Slot::Done(Outcome::LabelParked { transaction_id: id.clone() });

        if let Some(&u) = self.monitored.get(id) {
            let Draft::Monitored { record, .. } = &mut self.drafts[u] else { return (duplicate, Some(u)) };
            let recorded = record.label;
            if !label.replaces(recorded) {
                return (duplicate, Some(u));
            }
            record.label = Some(label);
            return (applied(recorded), Some(u));
        }
        if let Some(&p) = self.new_ids.get(id) {
            let Pending { tx, label: recorded, unit, .. } = self.pending[p];
            if !label.replaces(recorded) {
                return (duplicate, Some(unit));
            }
            self.shift(&tx.customer, &tx.terminal, tx.at.timestamp(), recorded, label);
            self.pending[p].label = Some(label);
            return (applied(recorded), Some(unit));
        }
        if let Some(&u) = self.labelled.get(id) {
            return match &mut self.drafts[u] {
                Draft::Relabel { record, .. } => {
                    let recorded = record.label;
                    if !label.replaces(recorded) {
                        return (duplicate, Some(u));
                    }
                    record.label = Some(label);
                    let (c, t, at) =
                        (record.customer.clone(), record.terminal.clone(), record.at.timestamp());
                    self.shift(&c, &t, at, recorded, label);
                    (applied(recorded), Some(u))
                }
                Draft::Park { parked: p, .. } if label.replaces(Some(p.label)) => {
                    p.label = label;
                    (parked, Some(u))
                }
                Draft::RelabelMonitored { record, .. } if label.replaces(record.label) => {
                    let recorded = record.label;
                    record.label = Some(label);
                    (applied(recorded), Some(u))
                }
                _ => (duplicate, Some(u)),
            };
        }
        let draft = match self.records.get(id).cloned() {
            Some(Record { version, state: RecordState::Decided(mut record) }) => {
                let initial = record.label;
                if !label.replaces(initial) {
                    return (duplicate, None);
                }
                record.label = Some(label);
                self.shift(&record.customer, &record.terminal, record.at.timestamp(), initial, label);
                (Draft::Relabel { record, expected: version, initial }, applied(initial))
            }
            Some(Record { version, state: RecordState::Monitored(mut record) }) => {
                let initial = record.label;
                if !label.replaces(initial) {
                    return (duplicate, None);
                }
                record.label = Some(label);
                (Draft::RelabelMonitored { id: id.clone(), expected: version, record }, applied(initial))
            }
            Some(Record { version, state: RecordState::Parked(p) }) => {
                if !label.replaces(Some(p.label)) {
                    return (duplicate, None);
                }
                let kept = ParkedLabel { label, parked_at: p.parked_at };
                (Draft::Park { id: id.clone(), expected: version, parked: kept }, parked)
            }
            None => {
                let new = ParkedLabel { label, parked_at: self.now };
                (Draft::Park { id: id.clone(), expected: 0, parked: new }, parked)
            }
        };
        self.drafts.push(draft.0);
        let u = self.drafts.len() - 1;
        self.labelled.insert(id.clone(), u);
        (draft.1, Some(u))
    }

    /// Moves a transaction's fraud from `before` to `after` in the states this batch holds,
    /// so later transactions of the batch see it.
    fn shift(
        &mut self,
        customer: &CustomerId,
        terminal: &TerminalId,
        at: i64,
        before: Option<Label>,
        after: Label,
    ) {
        let (was, is) = (Label::is_fraud(before), after.fraud);
        if was == is {
            return;
        }
        if let Some(c) = self.customers.get_mut(customer) {
            if is { c.confirm_fraud(at) } else { c.withdraw_fraud(at) }
        }
        if let Some(t) = self.terminals.get_mut(terminal) {
            if is { t.confirm_fraud(at) } else { t.withdraw_fraud(at) }
        }
    }

    /// Scores all new transactions in one model call, then applies bands and rules.
    fn decide(&self, model: &impl FraudModel) -> Result<Vec<Decision>, ModelError> {
        let features: Vec<Features> = self.pending.iter().map(|p| p.features).collect();
        let scores = model.score(&features)?;
        let policy = self.policy;
        self.pending
            .iter()
            .zip(scores)
            .map(|(p, score)| {
                let hits = policy.rules.check(p.tx, &p.features);
                let alert = !hits.is_empty() || policy.thresholds.verdict(score) != crate::Verdict::Accept;
                let contributions =
                    if alert { model.explain(&p.features, score, policy.model_reasons)? } else { Vec::new() };
                Ok(policy.thresholds.decide(p.tx.id.clone(), score, hits, &p.features, &contributions))
            })
            .collect()
    }

    fn units(mut self, decisions: Vec<Decision>) -> Vec<Unit> {
        let mut decisions: Vec<Option<Decision>> = decisions.into_iter().map(Some).collect();
        let drafts = std::mem::take(&mut self.drafts);
        drafts
            .into_iter()
            .map(|draft| match draft {
                Draft::Customer { id, state, pending } => {
                    let state = state.or_else(|| self.customers.get(&id).cloned()).unwrap_or_default();
                    let mut unit = Unit { customer: Some((id, state)), ..Unit::default() };
                    for p in pending {
                        let Pending { tx, expected, label, .. } = self.pending[p];
                        let fraud = Label::is_fraud(label);
                        let record = DecisionRecord {
                            decision: decisions[p]
                                .take()
                                .unwrap_or_else(|| unreachable!("one unit per transaction")),
                            customer: tx.customer.clone(),
                            terminal: tx.terminal.clone(),
                            at: tx.at,
                            amount: tx.amount,
                            label,
                        };
                        unit.records.push(RecordWrite {
                            id: tx.id.clone(),
                            expected,
                            state: RecordState::Decided(record),
                        });
                        let at = tx.at.timestamp();
                        add(
                            &mut unit.terminals,
                            &tx.terminal,
                            TerminalDelta { hour: hour_of(at), count: 1, frauds: i64::from(fraud) },
                        );
                        if fraud {
                            unit.frauds.push(FraudMark {
                                customer: tx.customer.clone(),
                                transaction: tx.id.clone(),
                                at: Some(at),
                            });
                        }
                    }
                    unit
                }
                Draft::Relabel { record, expected, initial } => {
                    let mut unit = Unit::default();
                    let (was, is) = (Label::is_fraud(initial), Label::is_fraud(record.label));
                    if was != is {
                        let at = record.at.timestamp();
                        let delta =
                            TerminalDelta { hour: hour_of(at), count: 0, frauds: if is { 1 } else { -1 } };
                        unit.terminals.push((record.terminal.clone(), delta));
                        unit.frauds.push(FraudMark {
                            customer: record.customer.clone(),
                            transaction: record.decision.transaction_id.clone(),
                            at: is.then_some(at),
                        });
                    }
                    let id = record.decision.transaction_id.clone();
                    unit.records.push(RecordWrite { id, expected, state: RecordState::Decided(record) });
                    unit
                }
                Draft::Park { id, expected, parked } => Unit {
                    records: vec![RecordWrite { id, expected, state: RecordState::Parked(parked) }],
                    ..Unit::default()
                },
                Draft::Folded => Unit::default(),
                Draft::Monitored { id, expected, record, accounts, cash_days } => Unit {
                    records: vec![RecordWrite { id, expected, state: RecordState::Monitored(record) }],
                    accounts,
                    cash_days,
                    ..Unit::default()
                },
                Draft::RelabelMonitored { id, expected, record } => Unit {
                    records: vec![RecordWrite { id, expected, state: RecordState::Monitored(record) }],
                    ..Unit::default()
                },
            })
            .collect()
    }

    /// A transfer or cash movement: judged on its accounts' states as this batch left them,
    /// in one unit with the states it moves.
    fn flow(&mut self, flow: &'a Flow) -> (Slot, Option<usize>) {
        let id = flow.event.id();
        let (expected, label) = match self.first_sight(id) {
            Sight::First(expected, label) => (expected, label),
            Sight::Repeat(slot, unit) => return (slot, unit),
        };
        let compliance = &self.policy.compliance;
        let (finding, touched, days) = match &flow.event {
            FlowEvent::Transfer(t) if t.payer != t.payee => {
                let mut payer = self.accounts.remove(&t.payer).unwrap_or_default();
                let payee = self.accounts.entry(t.payee.clone()).or_default();
                let finding = compliance.flow(flow, &mut payer.state, Some(&mut payee.state), None);
                self.accounts.insert(t.payer.clone(), payer);
                (finding, vec![&t.payer, &t.payee], Vec::new())
            }
            FlowEvent::Transfer(t) => {
                let account = self.accounts.entry(t.payer.clone()).or_default();
                (compliance.flow(flow, &mut account.state, None, None), vec![&t.payer], Vec::new())
            }
            FlowEvent::Cash(c) => {
                let account = self.accounts.entry(c.account.clone()).or_default();
                let owner = CashOwner::of(&c.account, &account.state);
                let day = self.cash_days.entry(owner.key()).or_default();
                let finding = compliance.flow(flow, &mut account.state, None, Some((&owner, &mut day.state)));
                (finding, vec![&c.account], vec![owner.key()])
            }
        };
        let record = MonitoredRecord { finding, at: flow.event.at(), label };
        self.push_monitored(id, expected, record, &touched, &days)
    }

    /// A customer profile: screened, and each listed account learns its owner.
    fn profile(&mut self, profile: &'a CustomerProfile) -> (Slot, Option<usize>) {
        let expected = match self.first_sight(&profile.id) {
            Sight::First(expected, _) => expected,
            Sight::Repeat(slot, unit) => return (slot, unit),
        };
        for account in &profile.accounts {
            let state = &mut self.accounts.entry(account.clone()).or_default().state;
            state.profile = profile.account_profile(state.profile.opening_balance);
        }
        let finding = self.policy.compliance.profile(profile);
        let record = MonitoredRecord { finding, at: profile.updated_at, label: None };
        let touched: Vec<&AccountId> = profile.accounts.iter().collect();
        self.push_monitored(&profile.id, expected, record, &touched, &[])
    }

    /// For an event not seen before, the version its record must find and a label that
    /// came ahead of it; for a repeat (stored, or earlier in this batch), its outcome.
    fn first_sight(&mut self, id: &TransactionId) -> Sight {
        if let Some(&u) = self.monitored.get(id)
            && let Draft::Monitored { record, .. } = &self.drafts[u]
        {
            return Sight::Repeat(
                Slot::Done(Outcome::Monitored { finding: Box::new(record.finding.clone()), repeat: true }),
                Some(u),
            );
        }
        if let Some(&p) = self.new_ids.get(id) {
            return Sight::Repeat(Slot::SameAs(p), Some(self.pending[p].unit));
        }
        let stored = match self.records.get(id).map(|r| (r.version, &r.state)) {
            Some((_, RecordState::Monitored(r))) => {
                return Sight::Repeat(
                    Slot::Done(Outcome::Monitored { finding: Box::new(r.finding.clone()), repeat: true }),
                    None,
                );
            }
            Some((_, RecordState::Decided(r))) => {
                return Sight::Repeat(Slot::Done(Outcome::Duplicate(r.decision.clone())), None);
            }
            Some((version, RecordState::Parked(p))) => (version, Some(p.label)),
            None => (0, None),
        };
        // A label that was to wait, earlier in this batch, joins the record instead (two
        // writes of the record would cancel each other); its outcome follows the unit.
        if let Some(u) = self.labelled.get(id).copied()
            && matches!(self.drafts[u], Draft::Park { .. })
            && let Draft::Park { expected, parked, .. } =
                std::mem::replace(&mut self.drafts[u], Draft::Folded)
        {
            self.labelled.remove(id);
            self.moved.insert(u, self.drafts.len());
            return Sight::First(expected, Some(parked.label));
        }
        Sight::First(stored.0, stored.1)
    }

    /// Records the monitored event's unit: its record, and the states it touched as they
    /// are now, each on the version it was built on (the next unit on the same item
    /// expects one more).
    fn push_monitored(
        &mut self,
        id: &TransactionId,
        expected: u64,
        record: MonitoredRecord,
        touched: &[&AccountId],
        days: &[String],
    ) -> (Slot, Option<usize>) {
        let mut accounts = Vec::with_capacity(touched.len());
        for &account in touched {
            let entry = self.accounts.entry(account.clone()).or_default();
            accounts.push((account.clone(), entry.clone()));
            entry.version += 1;
        }
        let mut cash_days = Vec::with_capacity(days.len());
        for key in days {
            let entry = self.cash_days.entry(key.clone()).or_default();
            cash_days.push((key.clone(), entry.clone()));
            entry.version += 1;
        }
        let outcome = Outcome::Monitored { finding: Box::new(record.finding.clone()), repeat: false };
        self.drafts.push(Draft::Monitored { id: id.clone(), expected, record, accounts, cash_days });
        let u = self.drafts.len() - 1;
        self.monitored.insert(id.clone(), u);
        (Slot::Done(outcome), Some(u))
    }
}

/// Adds `delta` to the unit's change of the same terminal hour, or as a new one.
fn add(changes: &mut Vec<(TerminalId, TerminalDelta)>, terminal: &TerminalId, delta: TerminalDelta) {
    match changes.iter_mut().find(|(t, d)| t == terminal && d.hour == delta.hour) {
        Some((_, d)) => {
            d.count += delta.count;
            d.frauds += delta.frauds;
        }
        None => changes.push((terminal.clone(), delta)),
    }
}
