//! A payment far from the payer's usual size: the first to a new counterparty weighs
//! most (a mule tested with a token amount, a one-off placement), one to a known payee less.

use super::{Hit, TransferCx, Typology};
use crate::aml::config::UnusualConfig;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

pub struct UnusualPayment(pub UnusualConfig);

impl Typology for UnusualPayment {
    fn code(&self) -> &'static str {
        super::UNUSUAL
    }

    fn on_transfer(&self, cx: &TransferCx<'_>, hits: &mut Vec<Hit>) {
        let Some(reference) = cx.payer_reference.filter(|r| *r > Decimal::ZERO) else {
            return;
        };
        let factor = Decimal::from_f64(self.0.factor).unwrap_or(Decimal::TEN);
        let amount = cx.transfer.amount.value();
        let (larger, smaller) = (amount >= reference * factor, amount * factor <= reference);
        if !(larger || smaller) {
            return;
        }
        let t = cx.transfer;
        let reference = reference.normalize();
        let extreme = Decimal::from_f64(self.0.extreme_factor).unwrap_or(Decimal::ONE_HUNDRED);
        let (weight, whom) = if cx.payer_knew_payee {
            let far = amount >= reference * extreme || amount * extreme <= reference;
            (if far { self.0.extreme_weight } else { self.0.known_counterparty_weight }, "a known payee")
        } else {
            (self.0.new_counterparty_weight, "a new payee")
        };
        hits.push(Hit {
            code: self.code(),
            subject: t.payer.clone(),
            weight,
            participants: vec![t.payer.clone(), t.payee.clone()],
            detail: format!(
                "{} to {whom} {}: {} the usual {reference}",
                t.amount,
                t.payee,
                if larger {
                    format!("≥ {}×", self.0.factor)
                } else {
                    format!("≤ 1/{} of", self.0.factor)
                },
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aml::typology::test_support::Accounts;

    fn rule() -> UnusualPayment {
        UnusualPayment(UnusualConfig::default())
    }

    #[test]
    fn a_token_first_payment_to_a_new_payee_is_unusual() {
        let mut a = Accounts::default();
        a.open("p", "250");
        let hits = a.send(&rule(), "p", "q", "50", 0);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].weight, 0.6);
        assert_eq!(hits[0].detail, "50 to a new payee q: ≤ 1/5 of the usual 250");
        assert!(a.send(&rule(), "p", "r", "50.01", 0).is_empty(), "just above a fifth");
    }

    #[test]
    fn history_replaces_the_opening_balance_and_known_payees_weigh_less() {
        let mut a = Accounts::default();
        a.open("p", "100");
        for _ in 0..3 {
            a.send(&rule(), "p", "q", "100", 0);
        }
        assert!(a.send(&rule(), "p", "q", "499.99", 0).is_empty());
        let hits = a.send(&rule(), "p", "q", "1000", 0);
        assert_eq!(
            (hits[0].weight, hits[0].detail.as_str()),
            (0.3, "1000 to a known payee q: ≥ 5× the usual 200")
        );
        let hits = a.send(&rule(), "p", "q", "10", 0);
        assert_eq!(hits[0].weight, 0.5, "a 20-fold deviation weighs more, even to a known payee");
    }

    #[test]
    fn no_reference_no_judgement() {
        let mut a = Accounts::default();
        assert!(a.send(&rule(), "p", "q", "9999", 0).is_empty());
    }
}
