//! What AML monitoring remembers per account, and per owner per business day for cash.
//!
//! Every collection is capped, and flows older than a week are dropped, so an account's
//! item stays a few hundred bytes to a few kilobytes however busy it is: it fits one
//! DynamoDB item, read and written with the transfer that touches it (a transfer touches
//! its payer's and its payee's items).

use super::event::{AccountProfile, CashDirection};
use crate::ids::{AccountId, TransactionId};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

pub const SECS_PER_HOUR: i64 = 3600;
pub const SECS_PER_DAY: i64 = 24 * SECS_PER_HOUR;
/// Recent inflows (and outflows) kept per account: enough for any fan of up to this many
/// counterparties inside a window.
pub const FLOWS_MAX: usize = 32;
/// Flows older than this are dropped: the longest flow window a configuration may use.
pub const FLOW_RETENTION_SECS: i64 = 7 * SECS_PER_DAY;
/// Payees remembered (most recently paid first out) to tell a new counterparty.
pub const COUNTERPARTIES_MAX: usize = 32;
/// Provenance tags an account carries; the oldest are dropped first.
pub const TAGS_MAX: usize = 8;
/// Intermediate accounts a tag records (so a cycle names its members): origin, then at
/// most this many hops, then the account closing it.
pub const TAG_PATH_MAX: usize = 4;
/// Recent cash movements kept for structuring.
pub const CASH_MAX: usize = 16;
/// Transactions a CTR lists by id; beyond, it counts them (the total stays exact).
pub const CTR_LISTED_MAX: usize = 64;
/// Payments after which the usual size follows recent payments more than old ones.
const TYPICAL_SPAN: u32 = 20;

/// The UTC business day of a Unix time.
pub fn day_of(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(SECS_PER_DAY)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub at: i64,
    pub counterparty: AccountId,
    pub amount: Decimal,
}

/// Where some money came from: it left `origin` at `left_at` with `amount_left`, and has
/// passed through `path` since. An outflow passes the tags of the money it plausibly
/// carries to the payee; a tag arriving back at its origin closes a cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub origin: AccountId,
    pub left_at: i64,
    pub amount_left: Decimal,
    /// The inflow that brought the tag to its holder.
    pub carried: Decimal,
    /// Accounts between the origin and the holder, in order.
    pub path: Vec<AccountId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashEntry {
    pub at: i64,
    pub direction: CashDirection,
    pub amount: Decimal,
}

/// One payee the account has paid, when last, and how much: the least paid before the
/// latest payment (the smallest sum the relationship has carried) and the latest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    pub account: AccountId,
    pub last: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub least: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<Decimal>,
}

impl Known {
    fn new(account: AccountId, at: i64, amount: Decimal) -> Self {
        Self { account, last: at, least: None, latest: Some(amount) }
    }

    /// The previous latest payment joins the ones before; `amount` is the latest.
    fn paid(&mut self, amount: Decimal) {
        if let Some(previous) = self.latest {
            self.least = Some(self.least.map_or(previous, |l| l.min(previous)));
        }
        self.latest = Some(amount);
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    #[serde(default)]
    pub profile: AccountProfile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity: Option<i64>,
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub inflows: VecDeque<Flow>,
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub outflows: VecDeque<Flow>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payees: Vec<Known>,
    /// Payments made, and their usual size (a running mean that follows the last ~20).
    #[serde(default)]
    pub payments: u32,
    #[serde(default)]
    pub typical_payment: Decimal,
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub cash: VecDeque<CashEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

fn push_bounded<T>(ring: &mut VecDeque<T>, item: T, max: usize) {
    if ring.len() == max {
        ring.pop_front();
    }
    ring.push_back(item);
}

impl AccountState {
    pub fn with_profile(profile: AccountProfile) -> Self {
        Self { profile, ..Self::default() }
    }

    /// The size a payment is measured against: the account's usual payment once it has
    /// `min_history` payments, before that its opening balance (if known).
    pub fn reference_payment(&self, min_history: u32) -> Option<Decimal> {
        if self.payments >= min_history {
            Some(self.typical_payment)
        } else {
            self.profile.opening_balance.map(|b| b.value())
        }
    }

    pub fn has_paid(&self, payee: &AccountId) -> bool {
        self.payees.iter().any(|k| &k.account == payee)
    }

    /// The least paid to `payee` before the latest payment to it: `None` while it has
    /// been paid once (or is not remembered).
    pub fn least_paid_before(&self, payee: &AccountId) -> Option<Decimal> {
        self.payees.iter().find(|k| &k.account == payee)?.least
    }

    pub fn touch(&mut self, at: i64) {
        self.last_activity = Some(self.last_activity.map_or(at, |t| t.max(at)));
        self.expire(at);
    }

    pub fn record_outflow(&mut self, at: i64, payee: &AccountId, amount: Decimal) {
        push_bounded(&mut self.outflows, Flow { at, counterparty: payee.clone(), amount }, FLOWS_MAX);
        match self.payees.iter_mut().find(|k| &k.account == payee) {
            Some(k) => {
                k.last = k.last.max(at);
                k.paid(amount);
            }
            None => {
                if self.payees.len() == COUNTERPARTIES_MAX
                    && let Some(oldest) = (0..self.payees.len()).min_by_key(|&i| self.payees[i].last)
                {
                    self.payees.swap_remove(oldest);
                }
                self.payees.push(Known::new(payee.clone(), at, amount));
            }
        }
        self.touch(at);
    }

    /// Moves the usual payment size toward `amount`. The engine leaves out payments it
    /// found unusual: laundering must not teach the baseline that laundering is usual.
    pub fn learn_payment(&mut self, amount: Decimal) {
        self.payments = self.payments.saturating_add(1);
        let span = Decimal::from(self.payments.min(TYPICAL_SPAN));
        self.typical_payment = (self.typical_payment + (amount - self.typical_payment) / span).round_dp(2);
    }

    pub fn record_inflow(&mut self, at: i64, payer: &AccountId, amount: Decimal) {
        push_bounded(&mut self.inflows, Flow { at, counterparty: payer.clone(), amount }, FLOWS_MAX);
        self.touch(at);
    }

    pub fn record_cash(&mut self, at: i64, direction: CashDirection, amount: Decimal) {
        push_bounded(&mut self.cash, CashEntry { at, direction, amount }, CASH_MAX);
        self.touch(at);
    }

    /// Flows with `at` in `(to - secs, to]`.
    pub fn within<'a>(flows: &'a VecDeque<Flow>, to: i64, secs: i64) -> impl Iterator<Item = &'a Flow> + 'a {
        flows.iter().filter(move |f| f.at > to - secs && f.at <= to)
    }

    /// Distinct counterparties of `flows` in `(to - secs, to]`, first seen first.
    pub fn distinct(flows: &VecDeque<Flow>, to: i64, secs: i64) -> Vec<AccountId> {
        let mut seen: Vec<AccountId> = Vec::new();
        for f in Self::within(flows, to, secs) {
            if !seen.contains(&f.counterparty) {
                seen.push(f.counterparty.clone());
            }
        }
        seen
    }

    /// Adds a tag, replacing an older one from the same origin, dropping the oldest if full.
    pub fn add_tag(&mut self, tag: Tag) {
        self.tags.retain(|t| t.origin != tag.origin);
        if self.tags.len() == TAGS_MAX
            && let Some(oldest) = (0..self.tags.len()).min_by_key(|&i| self.tags[i].left_at)
        {
            self.tags.swap_remove(oldest);
        }
        self.tags.push(tag);
    }

    /// Drops flows and cash past their retention and tags past `tag_secs`.
    pub fn expire_tags(&mut self, now: i64, tag_secs: i64) {
        self.tags.retain(|t| t.left_at > now - tag_secs);
    }

    fn expire(&mut self, now: i64) {
        let oldest = now - FLOW_RETENTION_SECS;
        self.inflows.retain(|f| f.at > oldest);
        self.outflows.retain(|f| f.at > oldest);
        self.cash.retain(|c| c.at > oldest);
    }
}

/// Cash of one direction in one business day, for the CTR.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashTotal {
    pub total: Decimal,
    pub count: u32,
    /// The first [`CTR_LISTED_MAX`] transactions with their amounts.
    pub listed: Vec<(TransactionId, Decimal)>,
    /// Filings made for this total (0: not yet over the threshold).
    pub filed: u32,
}

impl CashTotal {
    fn add(&mut self, id: &TransactionId, amount: Decimal) {
        self.total += amount;
        self.count = self.count.saturating_add(1);
        if self.listed.len() < CTR_LISTED_MAX {
            self.listed.push((id.clone(), amount));
        }
    }
}

/// One owner's cash on one UTC business day (kept until their next cash day).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashDay {
    pub day: i64,
    pub deposits: CashTotal,
    pub withdrawals: CashTotal,
}

impl CashDay {
    /// Adds a movement on `day`, starting afresh when the stored day is another one.
    /// Returns the direction's updated total.
    pub fn add(
        &mut self,
        day: i64,
        direction: CashDirection,
        id: &TransactionId,
        amount: Decimal,
    ) -> &mut CashTotal {
        if self.day != day {
            *self = CashDay { day, ..CashDay::default() };
        }
        let total = match direction {
            CashDirection::Deposit => &mut self.deposits,
            CashDirection::Withdrawal => &mut self.withdrawals,
        };
        total.add(id, amount);
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(s: &str) -> AccountId {
        AccountId::parse(s).unwrap()
    }

    #[test]
    fn rings_and_counterparties_stay_bounded() {
        let mut s = AccountState::default();
        for i in 0..200 {
            s.record_outflow(i, &acct(&format!("p{i}")), Decimal::ONE);
            s.record_inflow(i, &acct(&format!("q{i}")), Decimal::ONE);
        }
        assert_eq!(s.outflows.len(), FLOWS_MAX);
        assert_eq!(s.inflows.len(), FLOWS_MAX);
        assert_eq!(s.payees.len(), COUNTERPARTIES_MAX);
        assert!(s.has_paid(&acct("p199")) && !s.has_paid(&acct("p0")), "the least recent payee goes first");
    }

    #[test]
    fn the_least_paid_to_a_payee_leaves_out_the_latest_payment() {
        let mut s = AccountState::default();
        let (q, d) = (acct("q"), |c: i64| Decimal::new(c, 2));
        s.record_outflow(0, &q, d(25_000));
        assert_eq!(s.least_paid_before(&q), None, "paid once: nothing before");
        s.record_outflow(1, &q, d(1_480));
        assert_eq!(s.least_paid_before(&q), Some(d(25_000)));
        s.record_outflow(2, &q, d(30_000));
        assert_eq!(s.least_paid_before(&q), Some(d(1_480)));
        assert_eq!(s.least_paid_before(&acct("r")), None);
    }

    #[test]
    fn a_payee_stored_before_amounts_were_kept_reads_as_paid_once() {
        let legacy: AccountState = serde_json::from_str(r#"{"payees":[{"account":"q","last":5}]}"#).unwrap();
        assert!(legacy.has_paid(&acct("q")) && legacy.least_paid_before(&acct("q")).is_none());
        let mut s = legacy;
        s.record_outflow(6, &acct("q"), Decimal::TEN);
        assert_eq!(s.least_paid_before(&acct("q")), None, "the legacy payment's size is unknown");
        s.record_outflow(7, &acct("q"), Decimal::ONE);
        assert_eq!(s.least_paid_before(&acct("q")), Some(Decimal::TEN));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<AccountState>(&json).unwrap(), s);
    }

    #[test]
    fn flows_older_than_a_week_are_dropped() {
        let mut s = AccountState::default();
        s.record_inflow(0, &acct("a"), Decimal::ONE);
        s.record_inflow(FLOW_RETENTION_SECS - 1, &acct("b"), Decimal::ONE);
        assert_eq!(s.inflows.len(), 2);
        s.record_inflow(FLOW_RETENTION_SECS, &acct("c"), Decimal::ONE);
        assert_eq!(s.inflows.iter().map(|f| f.counterparty.as_str()).collect::<Vec<_>>(), ["b", "c"]);
    }

    #[test]
    fn the_usual_payment_follows_recent_payments() {
        let mut s = AccountState::default();
        for _ in 0..3 {
            s.learn_payment(Decimal::from(100));
        }
        assert_eq!(s.reference_payment(3), Some(Decimal::from(100)));
        assert_eq!(s.reference_payment(4), None, "no opening balance known");
        s.learn_payment(Decimal::from(500));
        assert_eq!(s.typical_payment, Decimal::from(200));
    }

    #[test]
    fn windows_are_half_open() {
        let mut s = AccountState::default();
        s.record_inflow(100, &acct("a"), Decimal::ONE);
        s.record_inflow(200, &acct("b"), Decimal::ONE);
        s.record_inflow(200, &acct("a"), Decimal::ONE);
        assert_eq!(AccountState::distinct(&s.inflows, 200, 100), [acct("b"), acct("a")]);
        assert_eq!(AccountState::distinct(&s.inflows, 200, 101).len(), 2);
        assert_eq!(AccountState::within(&s.inflows, 200, 101).count(), 3);
    }

    #[test]
    fn tags_are_one_per_origin_and_bounded() {
        let mut s = AccountState::default();
        for i in 0..20 {
            let tag = Tag {
                origin: acct(&format!("o{}", i % 10)),
                left_at: i,
                amount_left: Decimal::ONE,
                carried: Decimal::ONE,
                path: vec![],
            };
            s.add_tag(tag);
        }
        assert_eq!(s.tags.len(), TAGS_MAX);
        assert!(s.tags.iter().all(|t| t.left_at >= 12), "{:?}", s.tags);
    }

    #[test]
    fn a_cash_day_starts_afresh_on_a_new_day() {
        let id = TransactionId::parse("t").unwrap();
        let mut d = CashDay::default();
        d.add(5, CashDirection::Deposit, &id, Decimal::new(500001, 2));
        assert_eq!(
            d.add(5, CashDirection::Deposit, &id, Decimal::new(500000, 2)).total,
            Decimal::new(1000001, 2)
        );
        assert_eq!(d.add(6, CashDirection::Deposit, &id, Decimal::ONE).total, Decimal::ONE);
        assert_eq!(d.deposits.count, 1);
    }
}
