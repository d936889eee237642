//! Structuring: cash deposits kept just under the reporting threshold so that no single
//! one is reported — several in a few days that together exceed it, or the same amount
//! just below it again and again.

use super::{CashCx, Hit, Typology, hours};
use crate::aml::config::StructuringConfig;
use crate::aml::event::CashDirection;
use crate::aml::state::day_of;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

pub struct Structuring {
    pub config: StructuringConfig,
    pub ctr_threshold: Decimal,
}

impl Typology for Structuring {
    fn code(&self) -> &'static str {
        "AML_STRUCTURING"
    }

    fn on_cash(&self, cx: &CashCx<'_>, hits: &mut Vec<Hit>) {
        let c = &self.config;
        let amount = cx.cash.amount.value();
        let under = |a: Decimal| a >= c.band_from && a <= self.ctr_threshold;
        if cx.cash.direction != CashDirection::Deposit || !under(amount) {
            return;
        }
        let deposits = |secs| {
            cx.account.cash.iter().filter(move |e| {
                e.direction == CashDirection::Deposit && e.at > cx.at - secs && e.at <= cx.at
            })
        };
        let in_band: Vec<(i64, Decimal)> = deposits(hours(c.window_hours))
            .filter(|e| under(e.amount))
            .map(|e| (day_of(e.at), e.amount))
            .collect();
        let total: Decimal = in_band.iter().map(|(_, a)| a).sum();
        // Within one business day the CTR aggregates them anyway: evading it takes several.
        let days = in_band.iter().map(|(d, _)| d).collect::<std::collections::BTreeSet<_>>().len();
        let account = &cx.cash.account;
        if in_band.len() >= c.min_deposits as usize && days > 1 && total > self.ctr_threshold {
            hits.push(Hit {
                code: self.code(),
                subject: account.clone(),
                weight: c.weight,
                participants: vec![account.clone()],
                detail: format!(
                    "{} cash deposits of {}–{} within {} h total {total} (> {})",
                    in_band.len(),
                    c.band_from,
                    self.ctr_threshold,
                    c.window_hours,
                    self.ctr_threshold
                ),
            });
            return;
        }
        let near_from =
            self.ctr_threshold * (Decimal::ONE - Decimal::from_f64(c.near_fraction).unwrap_or_default());
        let near: Vec<Decimal> = deposits(hours(c.repeat_window_hours))
            .map(|e| e.amount)
            .filter(|&a| a >= near_from && a <= self.ctr_threshold)
            .collect();
        if amount >= near_from && near.len() >= c.repeat_min as usize {
            hits.push(Hit {
                code: self.code(),
                subject: account.clone(),
                weight: c.weight,
                participants: vec![account.clone()],
                detail: format!(
                    "{} cash deposits just below {} ({near_from}–{}) within {} days",
                    near.len(),
                    self.ctr_threshold,
                    self.ctr_threshold,
                    c.repeat_window_hours / 24
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aml::event::CashMovement;
    use crate::aml::state::AccountState;
    use crate::aml::typology::test_support::{D, H, acct};
    use crate::ids::TransactionId;
    use crate::money::Amount;

    fn deposit(state: &mut AccountState, amount: &str, at: i64) -> Vec<Hit> {
        let cash = CashMovement {
            id: TransactionId::parse(&format!("c{at}")).unwrap(),
            account: acct("a"),
            direction: CashDirection::Deposit,
            amount: Amount::parse(amount).unwrap(),
            at: chrono::DateTime::from_timestamp(at, 0).unwrap(),
            location: None,
        };
        let last = state.last_activity;
        state.record_cash(at, cash.direction, cash.amount.value());
        let t = Structuring { config: StructuringConfig::default(), ctr_threshold: Decimal::from(10_000) };
        let mut hits = vec![];
        t.on_cash(&CashCx { cash: &cash, at, account: state, last_activity: last }, &mut hits);
        hits
    }

    #[test]
    fn deposits_under_the_threshold_totalling_over_it_within_three_days() {
        let mut s = AccountState::default();
        assert!(deposit(&mut s, "6000", 0).is_empty());
        let hits = deposit(&mut s, "4000.01", 72 * H - 1);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].detail, "2 cash deposits of 3000–10000 within 72 h total 10000.01 (> 10000)");
    }

    #[test]
    fn deposits_on_one_business_day_are_the_ctrs_business() {
        let mut s = AccountState::default();
        deposit(&mut s, "6000", 0);
        assert!(deposit(&mut s, "4500.50", 24 * H - 1).is_empty());
        assert_eq!(deposit(&mut s, "3000", 24 * H).len(), 1, "the next UTC day");
    }

    #[test]
    fn exactly_the_threshold_or_outside_the_window_is_not_structuring() {
        let mut s = AccountState::default();
        deposit(&mut s, "6000", 0);
        assert!(deposit(&mut s, "4000", 30 * H).is_empty(), "10,000 is not over 10,000");
        let mut s = AccountState::default();
        deposit(&mut s, "6000", 0);
        assert!(deposit(&mut s, "5000", 72 * H).is_empty(), "the first left the 72 h window");
        let mut s = AccountState::default();
        deposit(&mut s, "2999.99", 0);
        assert!(deposit(&mut s, "9000", H).is_empty(), "below the band");
    }

    #[test]
    fn repeated_amounts_just_below_the_threshold() {
        let mut s = AccountState::default();
        assert!(deposit(&mut s, "9500", 0).is_empty());
        // Each more than 72 h after the previous one: no two add up within the window.
        let mut s = AccountState::default();
        assert!(deposit(&mut s, "9500", 0).is_empty());
        assert!(deposit(&mut s, "9400", 84 * H).is_empty());
        let hits = deposit(&mut s, "9900", 7 * D - 1);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].detail.starts_with("3 cash deposits just below 10000"), "{}", hits[0].detail);
    }
}
