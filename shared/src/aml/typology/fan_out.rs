//! Fan-out: one account paying many distinct payees in a short window (scattering a
//! sum to break its trail).

use super::{Hit, TransferCx, Typology, hours, list, members};
use crate::aml::config::FanConfig;
use crate::aml::state::AccountState;

pub struct FanOut(pub FanConfig);

impl Typology for FanOut {
    fn code(&self) -> &'static str {
        "AML_FAN_OUT"
    }

    fn on_transfer(&self, cx: &TransferCx<'_>, hits: &mut Vec<Hit>) {
        let window = hours(self.0.window_hours);
        let payees = AccountState::distinct(&cx.payer.outflows, cx.at, window);
        let new_payee = AccountState::within(&cx.payer.outflows, cx.at, window)
            .filter(|f| f.counterparty == cx.transfer.payee)
            .count()
            == 1;
        if payees.len() >= self.0.min_counterparties as usize && new_payee {
            let hub = &cx.transfer.payer;
            hits.push(Hit {
                code: self.code(),
                subject: hub.clone(),
                weight: self.0.weight,
                detail: format!(
                    "{} distinct payees within {} h: {}",
                    payees.len(),
                    self.0.window_hours,
                    list(&payees)
                ),
                participants: members(hub, payees),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aml::typology::test_support::{Accounts, H};

    fn rule() -> FanOut {
        FanOut(FanConfig { min_counterparties: 5, window_hours: 8, weight: 0.3 })
    }

    #[test]
    fn five_payees_within_eight_hours_but_not_nine() {
        let mut a = Accounts::default();
        for (i, q) in ["a", "b", "c", "d"].iter().enumerate() {
            assert!(a.send(&rule(), "hub", q, "100", i as i64 * 2 * H).is_empty());
        }
        let hits = a.send(&rule(), "hub", "e", "100", 8 * H - 1);
        assert_eq!(hits[0].participants.len(), 6);
        assert_eq!(hits[0].detail, "5 distinct payees within 8 h: a, b, c, d, e");
        let mut a = Accounts::default();
        for (i, q) in ["a", "b", "c", "d"].iter().enumerate() {
            a.send(&rule(), "hub", q, "100", i as i64 * 2 * H);
        }
        assert!(a.send(&rule(), "hub", "e", "100", 8 * H).is_empty(), "`a` is 8 h old: out");
    }
}
