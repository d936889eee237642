//! Rapid pass-through (mirroring): money leaves an account within a day or two of
//! arriving, in about the same amount — the account is a conduit, not a destination.

use super::{Hit, TransferCx, Typology, hours};
use crate::aml::config::PassThroughConfig;
use crate::aml::state::AccountState;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

pub struct PassThrough(pub PassThroughConfig);

impl Typology for PassThrough {
    fn code(&self) -> &'static str {
        "AML_PASS_THROUGH"
    }

    fn on_transfer(&self, cx: &TransferCx<'_>, hits: &mut Vec<Hit>) {
        let t = cx.transfer;
        let out = t.amount.value();
        let tolerance = Decimal::from_f64(self.0.tolerance).unwrap_or_default();
        // The closest-matching inflow from someone else, most recent first among equals.
        let matched = AccountState::within(&cx.payer.inflows, cx.at, hours(self.0.window_hours) + 1)
            .filter(|f| f.counterparty != t.payee && f.at <= cx.at)
            .filter(|f| (out - f.amount).abs() <= f.amount * tolerance)
            .min_by_key(|f| ((out - f.amount).abs(), -f.at));
        if let Some(inflow) = matched {
            hits.push(Hit {
                code: self.code(),
                subject: t.payer.clone(),
                weight: self.0.weight,
                participants: vec![t.payer.clone(), inflow.counterparty.clone(), t.payee.clone()],
                detail: format!(
                    "{} in from {} then {out} out to {} within {} h",
                    inflow.amount,
                    inflow.counterparty,
                    t.payee,
                    (cx.at - inflow.at) / 3600
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aml::typology::test_support::{Accounts, H};

    fn rule() -> PassThrough {
        PassThrough(PassThroughConfig::default())
    }

    #[test]
    fn out_within_48_hours_within_ten_percent() {
        let mut a = Accounts::default();
        a.send(&rule(), "src", "mule", "1000", 0);
        let hits = a.send(&rule(), "mule", "dst", "900", 48 * H);
        assert_eq!(hits[0].detail, "1000 in from src then 900 out to dst within 48 h");
        assert_eq!(
            hits[0].participants.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            ["mule", "src", "dst"]
        );
    }

    #[test]
    fn too_late_too_different_or_straight_back_is_not_pass_through() {
        let mut a = Accounts::default();
        a.send(&rule(), "src", "mule", "1000", 0);
        assert!(a.send(&rule(), "mule", "dst", "1000", 48 * H + 1).is_empty());
        let mut a = Accounts::default();
        a.send(&rule(), "src", "mule", "1000", 0);
        assert!(a.send(&rule(), "mule", "dst", "1100.01", H).is_empty());
        assert!(a.send(&rule(), "mule", "src", "1000", H).is_empty(), "a refund is a cycle's business");
    }
}
