//! Velocity: more payments out in a window than an ordinary account makes.

use super::{Hit, TransferCx, Typology, hours};
use crate::aml::config::VelocityConfig;
use crate::aml::state::AccountState;

pub struct Velocity(pub VelocityConfig);

impl Typology for Velocity {
    fn code(&self) -> &'static str {
        "AML_VELOCITY"
    }

    fn on_transfer(&self, cx: &TransferCx<'_>, hits: &mut Vec<Hit>) {
        let n = AccountState::within(&cx.payer.outflows, cx.at, hours(self.0.window_hours)).count();
        // Once, on the payment that goes over.
        if n == self.0.max_payments as usize + 1 {
            let t = cx.transfer;
            hits.push(Hit {
                code: self.code(),
                subject: t.payer.clone(),
                weight: self.0.weight,
                participants: vec![t.payer.clone()],
                detail: format!(
                    "{n} payments within {} h (more than {})",
                    self.0.window_hours, self.0.max_payments
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
    fn the_eleventh_payment_in_a_day_is_reported_once() {
        let rule = Velocity(VelocityConfig::default());
        let mut a = Accounts::default();
        for i in 0..10 {
            assert!(a.send(&rule, "p", "q", "1", i * H).is_empty());
        }
        assert_eq!(a.send(&rule, "p", "q", "1", 23 * H).len(), 1);
        assert!(a.send(&rule, "p", "q", "1", 23 * H).is_empty());
        assert!(a.send(&rule, "p", "q", "1", 24 * H).is_empty(), "12 in (0, 24 h]: already reported");
    }
}
