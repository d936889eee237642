//! The AML engine: records an event in the states it touches, runs every typology, and
//! turns their hits into a decision, compliance alerts and CTR filings.
//!
//! [`AmlEngine`] is pure (states in, states out), so the scorer can load a batch's items
//! in one read; [`AmlMonitor`] drives it over an [`AmlStore`] one event at a time.

use super::alert::{AmlAlert, CashOwner, CtrFiling};
use super::config::{AmlConfig, AmlConfigError};
use super::event::{AccountProfile, CashMovement, FlowEvent, Transfer};
use super::state::{AccountState, CashDay, TAG_PATH_MAX, Tag, day_of};
use super::store::{AmlStore, AmlStoreError};
use super::typology::{self, CashCx, Hit, TransferCx, Typology, UNUSUAL};
use crate::alert::Audience;
use crate::alert::Severity;
use crate::decision::{Decision, Reason, Verdict};
use crate::ids::{AccountId, TransactionId};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

#[derive(Debug, thiserror::Error)]
pub enum AmlError {
    #[error(transparent)]
    Store(#[from] AmlStoreError),
    #[error("AML configuration: {0}")]
    Config(#[from] AmlConfigError),
}

/// What one event produced.
#[derive(Debug, Clone, PartialEq)]
pub struct AmlOutcome {
    /// The event's verdict: the strictest of its subjects'; ACCEPT with no reasons if
    /// nothing fired.
    pub decision: Decision,
    /// One per subject at REVIEW or BLOCK.
    pub alerts: Vec<AmlAlert>,
    pub filings: Vec<CtrFiling>,
    /// Every account some typology scored, with its score (also those below `alert`).
    pub subject_scores: Vec<(AccountId, f32)>,
}

pub struct AmlEngine {
    config: AmlConfig,
    typologies: Vec<Box<dyn Typology>>,
}

impl AmlEngine {
    pub fn new(config: AmlConfig) -> Result<Self, AmlConfigError> {
        config.validate()?;
        let typologies = typology::build(&config);
        Ok(Self { config, typologies })
    }

    pub fn config(&self) -> &AmlConfig {
        &self.config
    }

    /// Records `t` in the payer's and payee's states and judges it.
    pub fn transfer(&self, t: &Transfer, payer: &mut AccountState, payee: &mut AccountState) -> AmlOutcome {
        let at = t.at.timestamp();
        let amount = t.amount.value();
        let cycle = &self.config.cycle;
        let tag_secs = i64::from(cycle.window_hours) * 3600;
        payer.expire_tags(at, tag_secs);
        let payer_knew_payee = payer.has_paid(&t.payee);
        let payer_reference = payer.reference_payment(self.config.unusual_payment.min_history);
        let (payer_last_activity, payee_last_activity) = (payer.last_activity, payee.last_activity);
        payer.record_outflow(at, &t.payee, amount);
        payee.record_inflow(at, &t.payer, amount);

        let mut hits = Vec::new();
        let cx = TransferCx {
            transfer: t,
            at,
            payer,
            payee,
            payer_knew_payee,
            payer_reference,
            payer_last_activity,
            payee_last_activity,
        };
        for typology in &self.typologies {
            typology.on_transfer(&cx, &mut hits);
        }
        if !hits.iter().any(|h| h.code == UNUSUAL && h.subject == t.payer) {
            payer.learn_payment(amount);
        }

        // Provenance: the payee now holds money from the payer, and from wherever the
        // payer's recent inflows came from if this payment plausibly carries them on.
        let (lo, hi) = (
            Decimal::from_f64(cycle.carry_min).unwrap_or_default(),
            Decimal::from_f64(cycle.carry_max).unwrap_or(Decimal::ONE),
        );
        let max_path = (cycle.max_hops as usize).saturating_sub(2).min(TAG_PATH_MAX);
        let carried: Vec<Tag> = payer
            .tags
            .iter()
            .filter(|tag| {
                tag.origin != t.payee
                    && tag.path.len() < max_path
                    && !tag.path.contains(&t.payee)
                    && amount >= tag.carried * lo
                    && amount <= tag.carried * hi
            })
            .map(|tag| {
                let mut path = tag.path.clone();
                path.push(t.payer.clone());
                Tag { path, carried: amount, ..tag.clone() }
            })
            .collect();
        payee.expire_tags(at, tag_secs);
        for tag in carried {
            payee.add_tag(tag);
        }
        payee.add_tag(Tag {
            origin: t.payer.clone(),
            left_at: at,
            amount_left: amount,
            carried: amount,
            path: vec![],
        });

        self.decide(&t.id, t.at, hits, Vec::new())
    }

    /// Records `c` in its account's state and its owner's cash day, and judges it.
    pub fn cash(
        &self,
        c: &CashMovement,
        owner: &CashOwner,
        account: &mut AccountState,
        day: &mut CashDay,
    ) -> AmlOutcome {
        let at = c.at.timestamp();
        let last_activity = account.last_activity;
        account.record_cash(at, c.direction, c.amount.value());
        let mut hits = Vec::new();
        let cx = CashCx { cash: c, at, account, last_activity };
        for typology in &self.typologies {
            typology.on_cash(&cx, &mut hits);
        }
        let business_day = day_of(at);
        let total = day.add(business_day, c.direction, &c.id, c.amount.value());
        let mut filings = Vec::new();
        if total.total > self.config.ctr.threshold {
            total.filed += 1;
            filings.push(CtrFiling {
                owner: owner.clone(),
                business_day: c.at.date_naive(),
                direction: c.direction,
                total: total.total,
                count: total.count,
                transactions: total.listed.clone(),
                revision: total.filed,
            });
        }
        self.decide(&c.id, c.at, hits, filings)
    }

    /// The outcome of an event no typology looks at (a transfer between an account and
    /// itself): ACCEPT, nothing to report.
    pub fn quiet(&self, id: &TransactionId, at: DateTime<Utc>) -> AmlOutcome {
        self.decide(id, at, Vec::new(), Vec::new())
    }

    /// Tazama-style: each subject's score is the sum of its hits' weights (capped at 1);
    /// at `alert` it is reviewed, at `interdiction` blocked.
    fn decide(
        &self,
        id: &TransactionId,
        at: DateTime<Utc>,
        mut hits: Vec<Hit>,
        filings: Vec<CtrFiling>,
    ) -> AmlOutcome {
        hits.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        let mut subjects: Vec<&AccountId> = Vec::new();
        for h in &hits {
            if !subjects.contains(&&h.subject) {
                subjects.push(&h.subject);
            }
        }
        let mut alerts = Vec::new();
        let mut subject_scores = Vec::with_capacity(subjects.len());
        let (mut score, mut verdict) = (0.0f32, Verdict::Accept);
        for subject in subjects {
            let own: Vec<&Hit> = hits.iter().filter(|h| &h.subject == subject).collect();
            // Shapes together count at most `shape_cap`: busy ordinary accounts (merchants,
            // payroll) make them by the dozen; only an anomaly in the money lifts them to
            // an alert.
            let weight = |shape: bool| {
                own.iter().filter(move |h| is_shape(h.code) == shape).map(|h| f64::from(h.weight))
            };
            let shapes = weight(true).sum::<f64>().min(f64::from(self.config.shape_cap));
            let sum: f64 = shapes + weight(false).sum::<f64>();
            // Rounded so that 0.3 + 0.2 is exactly at a 0.5 threshold.
            let s = ((sum.min(1.0) * 1e4).round() / 1e4) as f32;
            let v = if s >= self.config.interdiction {
                Verdict::Block
            } else if s >= self.config.alert {
                Verdict::Review
            } else {
                Verdict::Accept
            };
            score = score.max(s);
            verdict = verdict.max(v);
            subject_scores.push((subject.clone(), s));
            if v == Verdict::Accept {
                continue;
            }
            // The whole pattern: the subject's hits, then the same event's hits on accounts
            // those name (a mule's alert carries the fan-in its payment completed).
            let mut participants = vec![subject.clone()];
            for p in own.iter().flat_map(|h| &h.participants) {
                if !participants.contains(p) {
                    participants.push(p.clone());
                }
            }
            let context: Vec<&Hit> =
                hits.iter().filter(|h| &h.subject != subject && participants.contains(&h.subject)).collect();
            for p in context.iter().flat_map(|h| &h.participants) {
                if !participants.contains(p) {
                    participants.push(p.clone());
                }
            }
            alerts.push(AmlAlert {
                id: format!("aml:{id}:{subject}"),
                audience: Audience::Compliance,
                severity: if v == Verdict::Block { Severity::High } else { Severity::Medium },
                verdict: v,
                score: s,
                transaction_id: id.clone(),
                subject: subject.clone(),
                participants,
                at,
                reasons: own.iter().chain(&context).map(|h| reason(h)).collect(),
            });
        }
        let reasons = hits.iter().map(reason).collect();
        let decision = Decision { transaction_id: id.clone(), score, verdict, reasons };
        AmlOutcome { decision, alerts, filings, subject_scores }
    }
}

/// Typologies about the shape of flows rather than the money itself.
fn is_shape(code: &str) -> bool {
    matches!(code, "AML_FAN_IN" | "AML_FAN_OUT" | "AML_GATHER_SCATTER" | "AML_PASS_THROUGH" | "AML_CYCLE")
}

fn reason(h: &Hit) -> Reason {
    Reason {
        code: h.code.to_owned(),
        detail: format!("{} (account {}, +{:.2})", h.detail, h.subject, h.weight),
    }
}

/// The engine over a store: load the items an event touches, judge, write them back.
pub struct AmlMonitor<S> {
    pub engine: AmlEngine,
    pub store: S,
}

impl<S: AmlStore> AmlMonitor<S> {
    pub fn new(engine: AmlEngine, store: S) -> Self {
        Self { engine, store }
    }

    /// Records what KYC knows of an account (its history is kept).
    pub fn open_account(&mut self, id: &AccountId, profile: AccountProfile) -> Result<(), AmlError> {
        let mut state = self.store.account(id)?.unwrap_or_default();
        state.profile = profile;
        self.store.put_account(id, state)?;
        Ok(())
    }

    pub fn observe(&mut self, event: &FlowEvent) -> Result<AmlOutcome, AmlError> {
        match event {
            FlowEvent::Transfer(t) if t.payer == t.payee => {
                // Between an account and itself nothing moves; only its activity counts.
                let mut state = self.store.account(&t.payer)?.unwrap_or_default();
                state.touch(t.at.timestamp());
                self.store.put_account(&t.payer, state)?;
                Ok(self.engine.quiet(&t.id, t.at))
            }
            FlowEvent::Transfer(t) => {
                let mut payer = self.store.account(&t.payer)?.unwrap_or_default();
                let mut payee = self.store.account(&t.payee)?.unwrap_or_default();
                let outcome = self.engine.transfer(t, &mut payer, &mut payee);
                self.store.put_account(&t.payer, payer)?;
                self.store.put_account(&t.payee, payee)?;
                Ok(outcome)
            }
            FlowEvent::Cash(c) => {
                let mut account = self.store.account(&c.account)?.unwrap_or_default();
                let owner = CashOwner::of(&c.account, &account);
                let key = owner.key();
                let mut day = self.store.cash_day(&key)?.unwrap_or_default();
                let outcome = self.engine.cash(c, &owner, &mut account, &mut day);
                self.store.put_account(&c.account, account)?;
                self.store.put_cash_day(&key, day)?;
                Ok(outcome)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aml::event::{CashDirection, RiskRating};
    use crate::aml::state::{CASH_MAX, COUNTERPARTIES_MAX, FLOWS_MAX, TAGS_MAX};
    use crate::aml::store::MemoryAmlStore;
    use crate::ids::CustomerId;
    use crate::money::Amount;
    use proptest::prelude::*;

    const H: i64 = 3600;
    const D: i64 = 24 * H;
    /// 2024-03-01T00:00:00Z.
    const T0: i64 = 1_709_251_200;

    fn monitor() -> AmlMonitor<MemoryAmlStore> {
        AmlMonitor::new(AmlEngine::new(AmlConfig::default()).unwrap(), MemoryAmlStore::default())
    }

    fn acct(s: &str) -> AccountId {
        AccountId::parse(s).unwrap()
    }

    fn transfer(id: &str, payer: &str, payee: &str, amount: &str, at: i64) -> FlowEvent {
        FlowEvent::Transfer(Transfer {
            id: TransactionId::parse(id).unwrap(),
            payer: acct(payer),
            payee: acct(payee),
            amount: Amount::parse(amount).unwrap(),
            at: DateTime::from_timestamp(at, 0).unwrap(),
            payee_name: None,
            payee_bic: None,
            payee_country: None,
        })
    }

    fn cash(id: &str, account: &str, direction: CashDirection, amount: &str, at: i64) -> FlowEvent {
        FlowEvent::Cash(CashMovement {
            id: TransactionId::parse(id).unwrap(),
            account: acct(account),
            direction,
            amount: Amount::parse(amount).unwrap(),
            at: DateTime::from_timestamp(at, 0).unwrap(),
            location: None,
        })
    }

    fn codes(o: &AmlOutcome) -> Vec<&str> {
        o.decision.reasons.iter().map(|r| r.code.as_str()).collect()
    }

    #[test]
    fn funds_returning_through_two_hops_close_a_cycle_naming_every_member() {
        let mut m = monitor();
        assert!(codes(&m.observe(&transfer("t1", "a", "b", "9000", T0)).unwrap()).is_empty());
        let t2 = m.observe(&transfer("t2", "b", "c", "8800", T0 + H)).unwrap();
        assert_eq!(codes(&t2), ["AML_PASS_THROUGH"]);
        let o = m.observe(&transfer("t3", "c", "a", "8600", T0 + 2 * H)).unwrap();
        assert_eq!(codes(&o), ["AML_CYCLE", "AML_PASS_THROUGH"]);
        assert_eq!(
            o.decision.verdict,
            Verdict::Accept,
            "a cycle alone (0.45): ordinary money circulates too"
        );
        assert_eq!(
            o.decision.reasons[0].detail,
            "9000 left a and 8600 came back within 2 h through 3 hops: a → b → c → a (account a, +0.45)"
        );

        // The same cycle, where c has never moved such sums: its alert carries the cycle.
        let mut m = monitor();
        let profile =
            AccountProfile { opening_balance: Some(Amount::parse("500").unwrap()), ..Default::default() };
        m.open_account(&acct("c"), profile).unwrap();
        m.observe(&transfer("t1", "a", "b", "9000", T0)).unwrap();
        m.observe(&transfer("t2", "b", "c", "8800", T0 + H)).unwrap();
        let o = m.observe(&transfer("t3", "c", "a", "8600", T0 + 2 * H)).unwrap();
        assert_eq!(codes(&o), ["AML_UNUSUAL_PAYMENT", "AML_CYCLE", "AML_PASS_THROUGH"]);
        assert_eq!(o.decision.verdict, Verdict::Block, "c: unusual (0.6) and pass-through (0.3)");
        let alert = &o.alerts[0];
        assert_eq!((alert.subject.as_str(), alert.id.as_str()), ("c", "aml:t3:c"));
        assert_eq!(alert.participants.iter().map(AccountId::as_str).collect::<Vec<_>>(), ["c", "a", "b"]);
        assert_eq!(alert.audience, Audience::Compliance);
        assert_eq!(
            alert.typology_codes().collect::<Vec<_>>(),
            ["AML_UNUSUAL_PAYMENT", "AML_PASS_THROUGH", "AML_CYCLE"]
        );
    }

    #[test]
    fn a_direct_return_is_a_cycle_too() {
        let mut m = monitor();
        m.observe(&transfer("t1", "a", "b", "500", T0)).unwrap();
        assert_eq!(codes(&m.observe(&transfer("t2", "b", "a", "500", T0 + D)).unwrap()), ["AML_CYCLE"]);
    }

    #[test]
    fn no_cycle_past_the_window_or_through_an_unrelated_payment() {
        let mut m = monitor();
        m.observe(&transfer("t1", "a", "b", "9000", T0)).unwrap();
        m.observe(&transfer("t2", "b", "c", "8800", T0 + H)).unwrap();
        let late = m.observe(&transfer("t3", "c", "a", "8600", T0 + 30 * D)).unwrap();
        assert!(codes(&late).is_empty(), "the tag left a 30 days ago: forgotten");
        let mut m = monitor();
        m.observe(&transfer("t1", "a", "b", "9000", T0)).unwrap();
        m.observe(&transfer("t2", "b", "c", "100", T0 + H)).unwrap();
        let o = m.observe(&transfer("t3", "c", "a", "100", T0 + 2 * H)).unwrap();
        assert!(!codes(&o).contains(&"AML_CYCLE"), "100 does not carry 9,000's provenance");
    }

    #[test]
    fn a_cycle_longer_than_the_tags_can_hold_is_not_followed() {
        let mut m = monitor();
        let hops = ["a", "b", "c", "d", "e", "f", "g"];
        for (i, w) in hops.windows(2).enumerate() {
            m.observe(&transfer(&format!("t{i}"), w[0], w[1], "1000", T0 + i as i64 * H)).unwrap();
        }
        // a → … → g → a is 7 transfers; at most 6 are followed.
        let o = m.observe(&transfer("tz", "g", "a", "1000", T0 + 10 * H)).unwrap();
        assert!(!codes(&o).contains(&"AML_CYCLE"));
        let tags = &m.store.accounts[&acct("g")].tags;
        assert!(tags.iter().all(|t| t.path.len() <= TAG_PATH_MAX));
    }

    #[test]
    fn an_unusual_split_payment_alerts_and_names_both_accounts() {
        let mut m = monitor();
        let profile =
            AccountProfile { opening_balance: Some(Amount::parse("300").unwrap()), ..Default::default() };
        m.open_account(&acct("p"), profile).unwrap();
        let first = m.observe(&transfer("t1", "p", "q", "11.51", T0)).unwrap();
        assert_eq!(codes(&first), ["AML_UNUSUAL_PAYMENT"]);
        assert_eq!((first.decision.score, first.decision.verdict), (0.6, Verdict::Review));
        m.observe(&transfer("t2", "p", "q", "11.51", T0)).unwrap();
        let third = m.observe(&transfer("t3", "p", "q", "11.51", T0)).unwrap();
        // To a known payee now, but 1/26 of the usual: the extreme weight.
        assert_eq!(codes(&third), ["AML_UNUSUAL_PAYMENT", "AML_SPLIT_PAYMENTS"]);
        assert_eq!((third.decision.score, third.decision.verdict), (0.85, Verdict::Review));
        assert_eq!(third.alerts[0].participants, [acct("p"), acct("q")]);
        let state = &m.store.accounts[&acct("p")];
        assert_eq!(state.payments, 0, "unusual payments do not become the usual");
    }

    #[test]
    fn hits_on_different_subjects_are_scored_apart() {
        let mut m = monitor();
        for p in ["a", "b", "c", "d"] {
            m.observe(&transfer(&format!("{p}1"), p, "hub", "100", T0)).unwrap();
        }
        let o = m.observe(&transfer("e1", "e", "hub", "100", T0 + H)).unwrap();
        assert_eq!(codes(&o), ["AML_FAN_IN"]);
        assert_eq!(o.decision.verdict, Verdict::Accept, "a fan-in alone stays below the alert threshold");
        assert_eq!(o.subject_scores, [(acct("hub"), 0.3)]);
    }

    #[test]
    fn ctr_aggregates_a_customers_accounts_per_utc_day_exact_to_the_cent() {
        let mut m = monitor();
        let owner = CustomerId::parse("cust-1").unwrap();
        for a in ["x", "y"] {
            let profile =
                AccountProfile { owner: Some(owner.clone()), risk: RiskRating::Low, ..Default::default() };
            m.open_account(&acct(a), profile).unwrap();
        }
        let day_end = T0 + D - 1;
        let o = m.observe(&cash("c0", "x", CashDirection::Deposit, "9999.99", T0 - 1)).unwrap();
        assert!(o.filings.is_empty(), "the previous business day");
        m.observe(&cash("c1", "x", CashDirection::Deposit, "5000.00", T0)).unwrap();
        m.observe(&cash("c2", "y", CashDirection::Withdrawal, "9000", T0 + H)).unwrap();
        let at_threshold =
            m.observe(&cash("c3", "y", CashDirection::Deposit, "5000.00", T0 + 2 * H)).unwrap();
        assert!(at_threshold.filings.is_empty(), "10,000.00 is not more than 10,000");
        let over = m.observe(&cash("c4", "x", CashDirection::Deposit, "0.01", day_end)).unwrap();
        let filing = &over.filings[0];
        assert_eq!(filing.owner, CashOwner::Customer(owner));
        assert_eq!(filing.total, Decimal::new(1_000_001, 2));
        assert_eq!(filing.direction, CashDirection::Deposit);
        assert_eq!(filing.business_day.to_string(), "2024-03-01");
        let ids: Vec<&str> = filing.transactions.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["c1", "c3", "c4"]);
        assert_eq!((filing.count, filing.revision), (3, 1));
        assert_eq!(over.decision.verdict, Verdict::Accept, "a CTR is a filing, not an alert");
        let next_day = m.observe(&cash("c5", "x", CashDirection::Deposit, "0.01", T0 + D)).unwrap();
        assert!(next_day.filings.is_empty(), "a new business day starts at 00:00 UTC");
    }

    #[test]
    fn a_later_deposit_the_same_day_amends_the_filing() {
        let mut m = monitor();
        m.observe(&cash("c1", "x", CashDirection::Withdrawal, "10000.01", T0)).unwrap();
        let o = m.observe(&cash("c2", "x", CashDirection::Withdrawal, "1", T0 + H)).unwrap();
        assert_eq!((o.filings[0].revision, o.filings[0].total), (2, Decimal::new(1_000_101, 2)));
        assert_eq!(o.filings[0].owner, CashOwner::Account(acct("x")));
    }

    #[test]
    fn a_transfer_to_oneself_moves_nothing() {
        let mut m = monitor();
        let o = m.observe(&transfer("t1", "a", "a", "5", T0)).unwrap();
        assert_eq!(o.decision.verdict, Verdict::Accept);
        assert!(m.store.accounts[&acct("a")].inflows.is_empty());
    }

    proptest! {
        #[test]
        fn any_sequence_is_judged_without_panic_and_state_stays_bounded(
            events in proptest::collection::vec((0u8..8, 0u8..8, 1i64..1_000_000_000, 0i64..(3 * D), 0u8..4), 1..300)
        ) {
            let mut m = monitor();
            let mut at = T0;
            for (i, (from, to, cents, gap, kind)) in events.into_iter().enumerate() {
                at += gap - D; // also backwards: streams are not perfectly ordered
                let amount = Decimal::new(cents, 2).to_string();
                let id = format!("e{i}");
                let event = match kind {
                    0 => cash(&id, &format!("a{from}"), CashDirection::Deposit, &amount, at),
                    1 => cash(&id, &format!("a{from}"), CashDirection::Withdrawal, &amount, at),
                    _ => transfer(&id, &format!("a{from}"), &format!("a{to}"), &amount, at),
                };
                let o = m.observe(&event).unwrap();
                prop_assert!((0.0..=1.0).contains(&o.decision.score));
            }
            for state in m.store.accounts.values() {
                prop_assert!(state.inflows.len() <= FLOWS_MAX && state.outflows.len() <= FLOWS_MAX);
                prop_assert!(state.payees.len() <= COUNTERPARTIES_MAX && state.cash.len() <= CASH_MAX);
                prop_assert!(state.tags.len() <= TAGS_MAX);
                prop_assert!(state.tags.iter().all(|t| t.path.len() <= TAG_PATH_MAX));
                prop_assert!(serde_json::to_vec(state).unwrap().len() < 16 * 1024);
            }
        }
    }
}
