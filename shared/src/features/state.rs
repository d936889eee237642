//! Compact per-entity state: sparse hourly buckets over a bounded horizon, so a
//! customer or terminal costs a few hundred bytes however long it has been active.
//! Hour resolution keeps the windows' meaning to within an hour of the exact
//! rolling windows of the Fraud Detection Handbook.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub const SECS_PER_HOUR: i64 = 3600;
pub const HOURS_PER_DAY: i64 = 24;
/// Confirmed frauds are remembered this long after their transaction: chargebacks arrive
/// up to 120 days late, and windows shorter than this simply ignore older ones.
pub const FRAUD_RETENTION_DAYS: i64 = 180;

/// Hours since the Unix epoch (floor, also before 1970).
pub fn hour_of(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(SECS_PER_HOUR)
}

/// Sums over buckets whose hour lies in `(from, to]`.
fn sum_window<B, T: Default + std::ops::AddAssign>(
    buckets: &[B],
    hour: impl Fn(&B) -> i64,
    value: impl Fn(&B) -> T,
    from: i64,
    to: i64,
) -> T {
    // Buckets are sorted by hour: skip to the window, stop after it.
    let start = buckets.partition_point(|b| hour(b) <= from);
    let mut acc = T::default();
    for b in buckets[start..].iter().take_while(|b| hour(b) <= to) {
        acc += value(b);
    }
    acc
}

/// Finds the bucket for `hour`, inserting an empty one if needed, keeping the order.
fn bucket_mut<B>(
    buckets: &mut Vec<B>,
    hour: i64,
    key: impl Fn(&B) -> i64,
    new: impl FnOnce() -> B,
) -> &mut B {
    let pos = buckets.partition_point(|b| key(b) < hour);
    if buckets.get(pos).is_none_or(|b| key(b) != hour) {
        buckets.insert(pos, new());
    }
    &mut buckets[pos]
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountSum {
    pub count: u32,
    pub sum: Decimal,
}

impl std::ops::AddAssign for CountSum {
    fn add_assign(&mut self, o: Self) {
        self.count += o.count;
        self.sum += o.sum;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendBucket {
    pub hour: i64,
    pub spend: CountSum,
}

/// What Vigil remembers about one customer. Its serialised form is the spending history
/// only: the version and the confirmed frauds are stored apart (frauds are written by
/// labels, which travel on other shards than the customer's transactions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerState {
    /// Optimistic-concurrency version, bumped by every store write.
    #[serde(skip)]
    pub version: u64,
    pub buckets: Vec<SpendBucket>,
    pub last_tx_at: Option<i64>,
    /// Times of this customer's transactions confirmed as fraud (known labels only), sorted.
    #[serde(skip)]
    pub fraud_tx_at: Vec<i64>,
}

impl CustomerState {
    /// Hours of history kept: the longest customer window.
    pub const HORIZON_HOURS: i64 = 30 * HOURS_PER_DAY;

    /// Count and sum of amounts in the hours `(hour - hours, hour]`.
    pub fn spend(&self, hour: i64, hours: i64) -> CountSum {
        sum_window(&self.buckets, |b| b.hour, |b| b.spend, hour - hours, hour)
    }

    /// Confirmed frauds among transactions at `(at - secs, at]`.
    pub fn frauds_within(&self, at: i64, secs: i64) -> u32 {
        self.fraud_tx_at.iter().filter(|&&t| t > at - secs && t <= at).count() as u32
    }

    /// The earliest confirmed fraud among transactions at `(at - secs, at]`.
    pub fn first_fraud_within(&self, at: i64, secs: i64) -> Option<i64> {
        self.fraud_tx_at.iter().copied().find(|&t| t > at - secs && t <= at)
    }

    pub fn observe(&mut self, at: i64, amount: Decimal) {
        let hour = hour_of(at);
        let b = bucket_mut(
            &mut self.buckets,
            hour,
            |b| b.hour,
            || SpendBucket { hour, spend: CountSum::default() },
        );
        b.spend += CountSum { count: 1, sum: amount };
        self.last_tx_at = Some(self.last_tx_at.map_or(at, |t| t.max(at)));
        self.evict();
    }

    pub fn confirm_fraud(&mut self, tx_at: i64) {
        let pos = self.fraud_tx_at.partition_point(|&t| t < tx_at);
        self.fraud_tx_at.insert(pos, tx_at);
        self.evict();
    }

    /// Undoes [`CustomerState::confirm_fraud`] (a corrected label).
    pub fn withdraw_fraud(&mut self, tx_at: i64) {
        if let Some(pos) = self.fraud_tx_at.iter().position(|&t| t == tx_at) {
            self.fraud_tx_at.remove(pos);
        }
    }

    fn evict(&mut self) {
        let Some(latest) = self.last_tx_at else {
            return;
        };
        let oldest_hour = hour_of(latest) - Self::HORIZON_HOURS;
        self.buckets.retain(|b| b.hour > oldest_hour);
        let oldest = latest - FRAUD_RETENTION_DAYS * HOURS_PER_DAY * SECS_PER_HOUR;
        self.fraud_tx_at.retain(|&t| t > oldest);
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalCounts {
    pub count: u32,
    /// Confirmed frauds among those transactions, as far as labels are known.
    pub frauds: u32,
}

impl std::ops::AddAssign for TerminalCounts {
    fn add_assign(&mut self, o: Self) {
        self.count += o.count;
        self.frauds += o.frauds;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalBucket {
    pub hour: i64,
    pub counts: TerminalCounts,
}

/// What Vigil knows about one terminal, as a batch loaded it: counts per hour. Stored as
/// per-hour counters that every shard adds to (no version: additions commute).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalState {
    pub buckets: Vec<TerminalBucket>,
}

impl TerminalState {
    /// Longest delayed window (30 days) plus the label delay (7 days).
    pub const HORIZON_HOURS: i64 = 37 * HOURS_PER_DAY;

    /// Transactions and confirmed frauds in the hours `(to - hours, to]`.
    pub fn counts(&self, to: i64, hours: i64) -> TerminalCounts {
        sum_window(&self.buckets, |b| b.hour, |b| b.counts, to - hours, to)
    }

    /// The earliest hour in `(to - hours, to]` with a confirmed fraud.
    pub fn first_fraud_within(&self, to: i64, hours: i64) -> Option<i64> {
        let start = self.buckets.partition_point(|b| b.hour <= to - hours);
        self.buckets[start..]
            .iter()
            .take_while(|b| b.hour <= to)
            .find(|b| b.counts.frauds > 0)
            .map(|b| b.hour)
    }

    pub fn observe(&mut self, at: i64) {
        let hour = hour_of(at);
        let b = bucket_mut(
            &mut self.buckets,
            hour,
            |b| b.hour,
            || TerminalBucket { hour, counts: TerminalCounts::default() },
        );
        b.counts.count += 1;
        let newest = self.buckets.last().map_or(hour, |b| b.hour);
        self.buckets.retain(|b| b.hour > newest - Self::HORIZON_HOURS);
    }

    /// The state from stored `(hour, (count, frauds))` counters in hour order; counts
    /// below zero (a withdrawn fraud added before its confirmation) read as zero.
    pub fn from_hours(hours: impl IntoIterator<Item = (i64, (i64, i64))>) -> Self {
        let clamp = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
        let buckets = hours
            .into_iter()
            .map(|(hour, (count, frauds))| TerminalBucket {
                hour,
                counts: TerminalCounts { count: clamp(count), frauds: clamp(frauds) },
            })
            .collect();
        Self { buckets }
    }

    /// Counts a fraud against the hour of the labelled transaction; a label older than
    /// what this state holds can no longer move any window it serves.
    pub fn confirm_fraud(&mut self, tx_at: i64) {
        let hour = hour_of(tx_at);
        if let Ok(i) = self.buckets.binary_search_by_key(&hour, |b| b.hour) {
            self.buckets[i].counts.frauds += 1;
        }
    }

    /// Undoes [`TerminalState::confirm_fraud`] (a corrected label).
    pub fn withdraw_fraud(&mut self, tx_at: i64) {
        let hour = hour_of(tx_at);
        if let Ok(i) = self.buckets.binary_search_by_key(&hour, |b| b.hour) {
            let frauds = &mut self.buckets[i].counts.frauds;
            *frauds = frauds.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = SECS_PER_HOUR;

    #[test]
    fn customer_windows_are_half_open_in_hours() {
        let mut c = CustomerState::default();
        c.observe(10 * H + 5, Decimal::new(10, 0));
        c.observe(10 * H + 50, Decimal::new(20, 0));
        c.observe(12 * H, Decimal::new(40, 0));
        assert_eq!(c.spend(12, 1), CountSum { count: 1, sum: Decimal::new(40, 0) });
        assert_eq!(c.spend(12, 2).count, 1, "hour 10 is outside (10, 12]");
        assert_eq!(c.spend(12, 3).count, 3);
        assert_eq!(c.spend(11, 24).sum, Decimal::new(30, 0));
        assert_eq!(c.buckets.len(), 2);
    }

    #[test]
    fn spending_is_evicted_after_thirty_days_and_frauds_after_their_retention() {
        let mut c = CustomerState::default();
        c.observe(0, Decimal::ONE);
        c.confirm_fraud(0);
        c.observe(30 * 24 * H, Decimal::ONE);
        assert_eq!(c.buckets.len(), 1);
        assert_eq!(c.fraud_tx_at, [0], "a 120-day chargeback must still find it");
        c.observe(FRAUD_RETENTION_DAYS * 24 * H, Decimal::ONE);
        assert!(c.fraud_tx_at.is_empty());
    }

    #[test]
    fn a_withdrawn_fraud_no_longer_counts() {
        let mut c = CustomerState::default();
        c.confirm_fraud(10 * H);
        c.withdraw_fraud(10 * H);
        assert_eq!(c.frauds_within(11 * H, 24 * H), 0);
        let mut t = TerminalState::from_hours([(10, (2, 1))]);
        t.withdraw_fraud(10 * H + 5);
        t.withdraw_fraud(10 * H + 5);
        assert_eq!(t.counts(10, 1), TerminalCounts { count: 2, frauds: 0 });
    }

    #[test]
    fn out_of_order_transactions_land_in_their_own_hour() {
        let mut c = CustomerState::default();
        c.observe(5 * H, Decimal::ONE);
        c.observe(3 * H, Decimal::TWO);
        assert_eq!(c.buckets.iter().map(|b| b.hour).collect::<Vec<_>>(), [3, 5]);
        assert_eq!(c.last_tx_at, Some(5 * H));
    }

    #[test]
    fn terminal_frauds_count_in_the_transaction_hour() {
        let mut t = TerminalState::default();
        t.observe(100 * H + 1);
        t.observe(100 * H + 2);
        t.observe(101 * H);
        t.confirm_fraud(100 * H + 1);
        t.confirm_fraud(50 * H); // before any bucket: dropped
        assert_eq!(t.counts(100, 1), TerminalCounts { count: 2, frauds: 1 });
        assert_eq!(t.counts(101, 2), TerminalCounts { count: 3, frauds: 1 });
        assert_eq!(t.counts(99, 24), TerminalCounts::default());
    }
}
