//! Token payment down an established relationship: a payment to a known payee of at most
//! a fifth of the least the payer has ever paid it — a link tested with a token amount,
//! or used to pass small sums along. A payee paid before makes a payment unusual for the
//! payer less suspicious only for sums the relationship has carried.
//!
//! Only the smaller side: a far larger payment is [`UnusualPayment`](super::UnusualPayment)'s
//! business, and a relationship that carried token sums first (laundering, then ordinary
//! payments) must not make the ordinary ones look deviant. Weighted to stay below the
//! alert threshold alone; with `UnusualPayment`'s known-payee weight it alerts.

use super::{Hit, TransferCx, Typology};
use crate::aml::config::TokenPaymentConfig;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

pub struct TokenPayment(pub TokenPaymentConfig);

impl Typology for TokenPayment {
    fn code(&self) -> &'static str {
        "AML_TOKEN_PAYMENT"
    }

    fn on_transfer(&self, cx: &TransferCx<'_>, hits: &mut Vec<Hit>) {
        let t = cx.transfer;
        let Some(least) = cx.payer.least_paid_before(&t.payee) else {
            return;
        };
        let factor = Decimal::from_f64(self.0.factor).unwrap_or(Decimal::TEN);
        if t.amount.value() * factor > least {
            return;
        }
        hits.push(Hit {
            code: self.code(),
            subject: t.payer.clone(),
            weight: self.0.weight,
            participants: vec![t.payer.clone(), t.payee.clone()],
            detail: format!(
                "{} to {}, which was never paid less than {} before: ≤ 1/{} of it",
                t.amount,
                t.payee,
                least.normalize(),
                self.0.factor
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aml::typology::test_support::{Accounts, D};

    fn rule() -> TokenPayment {
        TokenPayment(TokenPaymentConfig::default())
    }

    #[test]
    fn a_token_amount_down_an_ordinary_relationship() {
        let mut a = Accounts::default();
        assert!(a.send(&rule(), "p", "q", "250", 0).is_empty(), "a first payment opens the relationship");
        let hits = a.send(&rule(), "p", "q", "50", 40 * D);
        assert_eq!(hits.len(), 1);
        assert_eq!((hits[0].subject.as_str(), hits[0].weight), ("p", 0.3));
        assert_eq!(hits[0].detail, "50 to q, which was never paid less than 250 before: ≤ 1/5 of it");
        assert_eq!(hits[0].participants.iter().map(|p| p.as_str()).collect::<Vec<_>>(), ["p", "q"]);
    }

    #[test]
    fn a_fifth_is_inclusive_and_the_least_learns() {
        let mut a = Accounts::default();
        a.send(&rule(), "p", "q", "250", 0);
        assert!(a.send(&rule(), "p", "q", "50.01", 1).is_empty(), "just above a fifth of 250");
        let mut a = Accounts::default();
        a.send(&rule(), "p", "q", "250", 0);
        assert_eq!(a.send(&rule(), "p", "q", "50", 1).len(), 1, "exactly a fifth");
        assert_eq!(a.send(&rule(), "p", "q", "10", 2).len(), 1, "a fifth of 50, the least now");
        assert!(a.send(&rule(), "p", "q", "10", 3).is_empty(), "10 has been paid to q before");
    }

    #[test]
    fn a_larger_payment_after_token_ones_is_not_a_token() {
        let mut a = Accounts::default();
        a.send(&rule(), "p", "q", "4.78", 0);
        a.send(&rule(), "p", "q", "4.78", 0);
        assert!(a.send(&rule(), "p", "q", "289.25", 12 * D).is_empty());
        assert!(a.send(&rule(), "p", "q", "0.96", 13 * D).is_empty(), "above a fifth of 4.78");
        assert_eq!(a.send(&rule(), "p", "q", "0.19", 13 * D).len(), 1, "a fifth of 0.96, the least now");
    }

    #[test]
    fn other_payees_and_new_ones_have_no_relationship_to_measure_against() {
        let mut a = Accounts::default();
        a.send(&rule(), "p", "q", "250", 0);
        a.send(&rule(), "r", "q", "5", 0);
        assert!(a.send(&rule(), "p", "s", "5", D).is_empty(), "s is new to p");
        assert!(a.send(&rule(), "r", "q", "2", D).is_empty(), "r's own relationship with q is 5, not 250");
    }

    /// Through the engine: the payment is unusual for the payer (0.3 to a known payee) and
    /// a token for the relationship (0.3), so it alerts and names both accounts; without
    /// this typology the known payee kept it at 0.3.
    #[test]
    fn with_an_unusual_payment_to_a_known_payee_it_alerts() {
        use crate::Verdict;
        use crate::aml::typology::test_support::{acct, transfer};
        use crate::aml::{AccountProfile, AmlConfig, AmlEngine, AmlMonitor, FlowEvent, MemoryAmlStore};
        use crate::money::Amount;

        let replay = |config: AmlConfig| {
            let mut m = AmlMonitor::new(AmlEngine::new(config).unwrap(), MemoryAmlStore::default());
            let opening_balance = Some(Amount::parse("256.59").unwrap());
            m.open_account(&acct("p"), AccountProfile { opening_balance, ..Default::default() }).unwrap();
            let ordinary = m.observe(&FlowEvent::Transfer(transfer("p", "q", "256.59", 0))).unwrap();
            assert!(ordinary.decision.reasons.is_empty());
            m.observe(&FlowEvent::Transfer(transfer("p", "q", "17.68", 50 * D))).unwrap()
        };
        let token = replay(AmlConfig::default());
        let codes: Vec<&str> = token.decision.reasons.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["AML_UNUSUAL_PAYMENT", "AML_TOKEN_PAYMENT"]);
        assert_eq!((token.decision.score, token.decision.verdict), (0.6, Verdict::Review));
        assert_eq!(token.alerts[0].participants, [acct("p"), acct("q")]);

        let mut config = AmlConfig::default();
        config.token_payment.weight = 0.0;
        assert_eq!(replay(config).decision.verdict, Verdict::Accept, "the known payee alone vouches for it");
    }
}
