//! Deterministic rules that stand beside the model: compliance thresholds and
//! checks a regulator or a scheme requires whatever the model thinks.

use crate::decision::Verdict;
use crate::features::Features;
use crate::money::Currency;
use crate::transaction::Transaction;
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq)]
pub struct RuleHit {
    pub code: &'static str,
    pub action: Verdict,
    pub detail: String,
}

/// `Debug` shows the rule's parameters: the audit trail records them (`Scorer::configuration`).
pub trait Rule: Send + Sync + std::fmt::Debug {
    fn check(&self, tx: &Transaction, features: &Features) -> Option<RuleHit>;
}

/// Large single payments go to review (e.g. a bank's manual-approval limit).
#[derive(Debug, Clone)]
pub struct AmountOverThreshold {
    pub threshold: Decimal,
    pub action: Verdict,
}

impl Rule for AmountOverThreshold {
    fn check(&self, tx: &Transaction, _: &Features) -> Option<RuleHit> {
        (tx.amount.value() > self.threshold).then(|| RuleHit {
            code: "RULE_AMOUNT_OVER_THRESHOLD",
            action: self.action,
            detail: format!("{} {} > {}", tx.amount, tx.currency, self.threshold),
        })
    }
}

/// A well-formed record the deployment cannot settle: a currency it does not serve.
/// Malformed records never get here; they are quarantined at parsing.
#[derive(Debug, Clone)]
pub struct UnsupportedCurrency {
    pub accepted: Vec<Currency>,
}

impl Rule for UnsupportedCurrency {
    fn check(&self, tx: &Transaction, _: &Features) -> Option<RuleHit> {
        (!self.accepted.contains(&tx.currency)).then(|| RuleHit {
            code: "RULE_UNSUPPORTED_CURRENCY",
            action: Verdict::Review,
            detail: format!("{} is not settled here", tx.currency),
        })
    }
}

/// The rules a deployment runs, in order.
#[derive(Debug)]
pub struct RuleSet(Vec<Box<dyn Rule>>);

impl RuleSet {
    pub fn new(rules: Vec<Box<dyn Rule>>) -> Self {
        Self(rules)
    }

    pub fn check(&self, tx: &Transaction, features: &Features) -> Vec<RuleHit> {
        self.0.iter().filter_map(|r| r.check(tx, features)).collect()
    }
}

impl Default for RuleSet {
    /// Review single payments over 10,000 and currencies other than USD.
    fn default() -> Self {
        Self::new(vec![
            Box::new(AmountOverThreshold { threshold: Decimal::from(10_000), action: Verdict::Review }),
            Box::new(UnsupportedCurrency { accepted: vec![Currency::USD] }),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::N_FEATURES;

    fn tx(amount: &str, currency: &str) -> Transaction {
        let mut tx = crate::test_support::tx("t", "c", "p", amount, "2018-04-01T00:00:00Z");
        tx.currency = Currency::parse(currency).unwrap();
        tx
    }

    const F: Features = Features([0.0; N_FEATURES]);

    #[test]
    fn amount_threshold_is_exclusive() {
        let rules = RuleSet::default();
        assert!(rules.check(&tx("10000", "USD"), &F).is_empty());
        let hits = rules.check(&tx("10000.01", "USD"), &F);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].code, "RULE_AMOUNT_OVER_THRESHOLD");
        assert_eq!(hits[0].detail, "10000.01 USD > 10000");
    }

    #[test]
    fn unsupported_currency_goes_to_review() {
        let hits = RuleSet::default().check(&tx("5", "EUR"), &F);
        assert_eq!(
            hits.iter().map(|h| (h.code, h.action)).collect::<Vec<_>>(),
            [("RULE_UNSUPPORTED_CURRENCY", Verdict::Review)]
        );
    }
}
