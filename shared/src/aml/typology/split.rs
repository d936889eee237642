//! Split payments: one sum cut into several transfers to the same payee in a day, each
//! small enough to pass unnoticed (smurfing with transfers).

use super::{Hit, TransferCx, Typology, hours};
use crate::aml::config::SplitConfig;
use crate::aml::state::AccountState;
use rust_decimal::Decimal;

pub struct SplitPayments(pub SplitConfig);

impl Typology for SplitPayments {
    fn code(&self) -> &'static str {
        "AML_SPLIT_PAYMENTS"
    }

    fn on_transfer(&self, cx: &TransferCx<'_>, hits: &mut Vec<Hit>) {
        let t = cx.transfer;
        let (n, total) = AccountState::within(&cx.payer.outflows, cx.at, hours(self.0.window_hours))
            .filter(|f| f.counterparty == t.payee)
            .fold((0u32, Decimal::ZERO), |(n, s), f| (n + 1, s + f.amount));
        // Fires once, on the payment that reaches the count: the later ones add nothing new.
        if n == self.0.min_payments {
            hits.push(Hit {
                code: self.code(),
                subject: t.payer.clone(),
                weight: self.0.weight,
                participants: vec![t.payer.clone(), t.payee.clone()],
                detail: format!(
                    "{n} payments to {} within {} h, total {total}",
                    t.payee, self.0.window_hours
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aml::typology::test_support::{Accounts, H};

    #[test]
    fn the_third_payment_to_one_payee_within_a_day_is_a_split() {
        let rule = SplitPayments(SplitConfig::default());
        let mut a = Accounts::default();
        assert!(a.send(&rule, "p", "q", "10", 0).is_empty());
        assert!(a.send(&rule, "p", "r", "10", H).is_empty());
        assert!(a.send(&rule, "p", "q", "10", 2 * H).is_empty());
        let hits = a.send(&rule, "p", "q", "10.5", 24 * H - 1);
        assert_eq!(hits[0].detail, "3 payments to q within 24 h, total 30.5");
        assert_eq!(hits[0].participants.len(), 2);
        assert!(a.send(&rule, "p", "q", "10", 24 * H - 1).is_empty(), "a fourth adds nothing");
        assert_eq!(a.send(&rule, "p", "q", "10", 26 * H).len(), 1, "three within (2 h, 26 h]: a new split");
    }

    #[test]
    fn payments_a_day_apart_are_not_split() {
        let rule = SplitPayments(SplitConfig::default());
        let mut a = Accounts::default();
        for day in 0..5 {
            assert!(a.send(&rule, "p", "q", "10", day * 24 * H).is_empty());
        }
    }
}
