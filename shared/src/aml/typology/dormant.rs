//! A dormant account reactivated: months without any activity, then a large flow in or
//! out (a sleeper account put to use, or a taken-over one).

use super::{Hit, TransferCx, Typology};
use crate::aml::config::DormantConfig;
use crate::aml::state::SECS_PER_DAY;
use crate::ids::AccountId;

pub struct Dormant(pub DormantConfig);

impl Typology for Dormant {
    fn code(&self) -> &'static str {
        "AML_DORMANT_REACTIVATED"
    }

    fn on_transfer(&self, cx: &TransferCx<'_>, hits: &mut Vec<Hit>) {
        let t = cx.transfer;
        if t.amount.value() < self.0.min_amount {
            return;
        }
        let quiet = i64::from(self.0.quiet_days) * SECS_PER_DAY;
        let sides: [(&AccountId, Option<i64>, &AccountId, &str); 2] = [
            (&t.payer, cx.payer_last_activity, &t.payee, "pays"),
            (&t.payee, cx.payee_last_activity, &t.payer, "receives"),
        ];
        for (account, last, other, verb) in sides {
            if let Some(last) = last.filter(|&l| cx.at - l >= quiet) {
                hits.push(Hit {
                    code: self.code(),
                    subject: account.clone(),
                    weight: self.0.weight,
                    participants: vec![account.clone(), other.clone()],
                    detail: format!(
                        "quiet for {} days, now {verb} {} ({})",
                        (cx.at - last) / SECS_PER_DAY,
                        t.amount,
                        other
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aml::typology::test_support::{Accounts, D};

    #[test]
    fn ninety_quiet_days_then_a_large_payment() {
        let rule = Dormant(DormantConfig::default());
        let mut a = Accounts::default();
        a.send(&rule, "p", "x", "10", 0);
        assert!(a.send(&rule, "p", "q", "5000", 90 * D - 1).is_empty(), "a second short of 90 days");
        let mut a = Accounts::default();
        a.send(&rule, "p", "x", "10", 0);
        assert!(a.send(&rule, "p", "q", "999.99", 90 * D).is_empty(), "not large");
        let hits = a.send(&rule, "p", "q", "1000", 200 * D);
        assert_eq!(hits.len(), 2, "the small one woke both, now both have been quiet 110 days");
        let mut a = Accounts::default();
        a.send(&rule, "p", "x", "10", 0);
        let hits = a.send(&rule, "p", "q", "1000", 90 * D);
        assert_eq!(hits[0].detail, "quiet for 90 days, now pays 1000 (q)");
    }

    #[test]
    fn a_never_seen_account_is_new_not_dormant() {
        let rule = Dormant(DormantConfig::default());
        assert!(Accounts::default().send(&rule, "p", "q", "50000", 500 * D).is_empty());
    }
}
