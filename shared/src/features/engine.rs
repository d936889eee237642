//! The feature vector and how it is computed. The first fifteen features have the
//! meaning of the Fraud Detection Handbook's (chapter 3.4); the rest are Vigil's own.

use super::state::{CustomerState, HOURS_PER_DAY, SECS_PER_HOUR, TerminalState, hour_of};
use crate::transaction::Transaction;
use chrono::{Datelike, Timelike, Weekday};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// Names in the order the model receives them; recorded in the ONNX model and checked at load.
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "tx_amount",
    "tx_during_weekend",
    "tx_during_night",
    "customer_nb_tx_1day_window",
    "customer_avg_amount_1day_window",
    "customer_nb_tx_7day_window",
    "customer_avg_amount_7day_window",
    "customer_nb_tx_30day_window",
    "customer_avg_amount_30day_window",
    "terminal_nb_tx_1day_window",
    "terminal_risk_1day_window",
    "terminal_nb_tx_7day_window",
    "terminal_risk_7day_window",
    "terminal_nb_tx_30day_window",
    "terminal_risk_30day_window",
    "amount_to_customer_avg_30day",
    "hours_since_customer_last_tx",
    "customer_known_frauds_30day",
    "terminal_known_frauds_28day",
    "hours_since_customer_first_known_fraud",
    "hours_since_terminal_first_known_fraud",
];
pub const N_FEATURES: usize = 21;

/// Windows (days) of the handbook's customer and terminal features.
const WINDOWS_DAYS: [i64; 3] = [1, 7, 30];
/// Cap for "hours since last transaction" (also its value for a first transaction).
const MAX_GAP_HOURS: f32 = 30.0 * 24.0;

/// One transaction's features, in [`FEATURE_NAMES`] order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features(pub [f32; N_FEATURES]);

impl Features {
    pub fn get(&self, name: &str) -> Option<f32> {
        FEATURE_NAMES.iter().position(|n| *n == name).map(|i| self.0[i])
    }
}

#[derive(Debug, Clone, Copy)]
pub struct FeatureEngine {
    /// How long after a transaction its fraud label becomes known.
    pub label_delay_days: i64,
}

impl Default for FeatureEngine {
    fn default() -> Self {
        Self { label_delay_days: crate::label::LABEL_DELAY_DAYS }
    }
}

fn ratio(num: f32, den: f32) -> f32 {
    if den > 0.0 { num / den } else { 0.0 }
}

fn to_f32(d: Decimal) -> f32 {
    d.to_f32().unwrap_or(0.0)
}

impl FeatureEngine {
    /// Computes `tx`'s features from the state *before* it, then records `tx` in both
    /// states. Only labels already applied (known at or before `tx.at`) move the risks.
    pub fn observe(
        &self,
        tx: &Transaction,
        customer: &mut CustomerState,
        terminal: &mut TerminalState,
    ) -> Features {
        let features = self.compute(tx, customer, terminal);
        let at = tx.at.timestamp();
        customer.observe(at, tx.amount.value());
        terminal.observe(at);
        features
    }

    fn compute(&self, tx: &Transaction, customer: &CustomerState, terminal: &TerminalState) -> Features {
        let at = tx.at.timestamp();
        let hour = hour_of(at);
        let amount = tx.amount.value();
        let mut f = [0f32; N_FEATURES];

        f[0] = tx.amount.to_f32();
        f[1] = matches!(tx.at.weekday(), Weekday::Sat | Weekday::Sun) as u8 as f32;
        f[2] = (tx.at.hour() <= 6) as u8 as f32;

        // Customer windows include the current transaction, as in the handbook.
        for (i, days) in WINDOWS_DAYS.into_iter().enumerate() {
            let prior = customer.spend(hour, days * HOURS_PER_DAY);
            let count = prior.count + 1;
            f[3 + 2 * i] = count as f32;
            f[4 + 2 * i] = to_f32((prior.sum + amount) / Decimal::from(count));
        }

        // Terminal windows end where labels stop being known: shifted by the delay.
        let delay_hours = self.label_delay_days * HOURS_PER_DAY;
        for (i, days) in WINDOWS_DAYS.into_iter().enumerate() {
            let c = terminal.counts(hour - delay_hours, days * HOURS_PER_DAY);
            f[9 + 2 * i] = c.count as f32;
            f[10 + 2 * i] = ratio(c.frauds as f32, c.count as f32);
        }

        let prior_30d = customer.spend(hour, 30 * HOURS_PER_DAY);
        f[15] = if prior_30d.count == 0 {
            1.0
        } else {
            to_f32(amount * Decimal::from(prior_30d.count) / prior_30d.sum)
        };
        f[16] = customer.last_tx_at.map_or(MAX_GAP_HOURS, |last| {
            ((at - last).max(0) as f32 / SECS_PER_HOUR as f32).min(MAX_GAP_HOURS)
        });
        f[17] = customer.frauds_within(at, 30 * HOURS_PER_DAY * SECS_PER_HOUR) as f32;
        f[18] = terminal.counts(hour, 28 * HOURS_PER_DAY).frauds as f32;
        // Compromises last a few weeks: how long ago the current one began tells whether
        // it is still going on.
        let since = |first: Option<i64>, cap: i64| {
            first.filter(|&f| f <= at).map_or(cap as f32, |f| ((at - f) / SECS_PER_HOUR).min(cap) as f32)
        };
        f[19] = since(
            customer.first_fraud_within(at, CustomerState::HORIZON_HOURS * SECS_PER_HOUR),
            CustomerState::HORIZON_HOURS,
        );
        f[20] = since(
            terminal.first_fraud_within(hour, TerminalState::HORIZON_HOURS).map(|h| h * SECS_PER_HOUR),
            TerminalState::HORIZON_HOURS,
        );
        Features(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta, Utc};

    fn tx(at: &str, amount: &str) -> Transaction {
        crate::test_support::tx("t", "c", "p", amount, at)
    }

    fn feature(f: &Features, name: &str) -> f32 {
        f.get(name).unwrap_or_else(|| panic!("no feature {name}"))
    }

    #[test]
    fn names_and_count_agree() {
        assert_eq!(FEATURE_NAMES.len(), N_FEATURES);
        let unique: std::collections::HashSet<_> = FEATURE_NAMES.iter().collect();
        assert_eq!(unique.len(), N_FEATURES);
    }

    #[test]
    fn weekend_and_night_follow_the_handbook() {
        let engine = FeatureEngine::default();
        let (mut c, mut t) = Default::default();
        // 2018-04-01 was a Sunday; 06:59 is still night (hour <= 6), 07:00 is not.
        let f = engine.observe(&tx("2018-04-01T06:59:59Z", "10"), &mut c, &mut t);
        assert_eq!((feature(&f, "tx_during_weekend"), feature(&f, "tx_during_night")), (1.0, 1.0));
        let f = engine.observe(&tx("2018-04-02T07:00:00Z", "10"), &mut c, &mut t);
        assert_eq!((feature(&f, "tx_during_weekend"), feature(&f, "tx_during_night")), (0.0, 0.0));
    }

    #[test]
    fn customer_windows_include_the_current_transaction() {
        let engine = FeatureEngine::default();
        let (mut c, mut t) = Default::default();
        engine.observe(&tx("2018-04-01T10:00:00Z", "10"), &mut c, &mut t); // 9 days before
        engine.observe(&tx("2018-04-06T10:00:00Z", "20"), &mut c, &mut t); // 4 days before
        engine.observe(&tx("2018-04-10T02:00:00Z", "30"), &mut c, &mut t); // same day, 8h before
        let f = engine.observe(&tx("2018-04-10T10:30:00Z", "60"), &mut c, &mut t);
        assert_eq!(feature(&f, "customer_nb_tx_1day_window"), 2.0);
        assert_eq!(feature(&f, "customer_avg_amount_1day_window"), 45.0);
        assert_eq!(feature(&f, "customer_nb_tx_7day_window"), 3.0);
        assert!((feature(&f, "customer_avg_amount_7day_window") - 110.0 / 3.0).abs() < 1e-4);
        assert_eq!(feature(&f, "customer_nb_tx_30day_window"), 4.0);
        assert_eq!(feature(&f, "customer_avg_amount_30day_window"), 30.0);
        // 60 against the earlier mean (10+20+30)/3 = 20.
        assert_eq!(feature(&f, "amount_to_customer_avg_30day"), 3.0);
        assert_eq!(feature(&f, "hours_since_customer_last_tx"), 8.5);
    }

    #[test]
    fn a_first_transaction_has_neutral_history_features() {
        let engine = FeatureEngine::default();
        let f = engine.observe(
            &tx("2018-04-10T10:30:00Z", "60"),
            &mut Default::default(),
            &mut Default::default(),
        );
        assert_eq!(feature(&f, "customer_nb_tx_1day_window"), 1.0);
        assert_eq!(feature(&f, "customer_avg_amount_30day_window"), 60.0);
        assert_eq!(feature(&f, "amount_to_customer_avg_30day"), 1.0);
        assert_eq!(feature(&f, "hours_since_customer_last_tx"), 720.0);
        assert_eq!(feature(&f, "terminal_nb_tx_30day_window"), 0.0);
        assert_eq!(feature(&f, "terminal_risk_30day_window"), 0.0);
        assert_eq!(feature(&f, "hours_since_customer_first_known_fraud"), 720.0);
        assert_eq!(feature(&f, "hours_since_terminal_first_known_fraud"), 888.0);
    }

    /// Terminal windows are shifted by the 7-day delay, and a fraud only counts once
    /// its label has been applied.
    #[test]
    fn terminal_risk_is_delayed_and_uses_only_known_labels() {
        let engine = FeatureEngine::default();
        let mut t = TerminalState::default();
        let base: DateTime<Utc> = "2018-04-01T12:00:00Z".parse().unwrap();
        let at = |days: i64, hours: i64| base + TimeDelta::days(days) + TimeDelta::hours(hours);
        let on_terminal = |when: DateTime<Utc>, t: &mut TerminalState| {
            let mut x = tx("2018-04-01T00:00:00Z", "10");
            x.at = when;
            engine.observe(&x, &mut CustomerState::default(), t)
        };
        on_terminal(at(0, 0), &mut t); // fraud, labelled below
        on_terminal(at(0, 1), &mut t);
        on_terminal(at(3, 0), &mut t);
        on_terminal(at(6, 0), &mut t); // inside the delay at day 8: not counted

        // Day 7 + 2h: the first two are in the 1-day delayed window (t-8d, t-7d].
        let f = on_terminal(at(7, 2), &mut t);
        assert_eq!(feature(&f, "terminal_nb_tx_1day_window"), 2.0);
        assert_eq!(feature(&f, "terminal_risk_1day_window"), 0.0, "label not known yet");

        t.confirm_fraud(at(0, 0).timestamp());
        let f = on_terminal(at(7, 3), &mut t);
        assert_eq!(feature(&f, "terminal_risk_1day_window"), 0.5);
        assert_eq!(feature(&f, "terminal_nb_tx_7day_window"), 2.0);
        assert_eq!(feature(&f, "terminal_known_frauds_28day"), 1.0);
        assert_eq!(feature(&f, "hours_since_terminal_first_known_fraud"), 7.0 * 24.0 + 3.0);

        // Day 10: the 1-day window (day 2..3] holds the day-3 transaction only;
        // the 7-day window holds days 0, 0, 3.
        let f = on_terminal(at(10, 0), &mut t);
        assert_eq!(feature(&f, "terminal_nb_tx_1day_window"), 1.0);
        assert_eq!(feature(&f, "terminal_risk_1day_window"), 0.0);
        assert_eq!(feature(&f, "terminal_nb_tx_7day_window"), 3.0);
        assert_eq!(feature(&f, "terminal_risk_7day_window"), 1.0 / 3.0);
        assert_eq!(feature(&f, "terminal_nb_tx_30day_window"), 3.0);
    }

    #[test]
    fn customer_frauds_count_once_known() {
        let engine = FeatureEngine::default();
        let (mut c, mut t) = Default::default();
        let first = tx("2018-04-01T10:00:00Z", "10");
        engine.observe(&first, &mut c, &mut t);
        c.confirm_fraud(first.at.timestamp());
        let f = engine.observe(&tx("2018-04-09T10:00:00Z", "10"), &mut c, &mut t);
        assert_eq!(feature(&f, "customer_known_frauds_30day"), 1.0);
        assert_eq!(feature(&f, "hours_since_customer_first_known_fraud"), 8.0 * 24.0);
        let f = engine.observe(&tx("2018-05-02T10:00:00Z", "10"), &mut c, &mut t);
        assert_eq!(feature(&f, "customer_known_frauds_30day"), 0.0);
    }
}
