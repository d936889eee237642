//! Gather-scatter: an account collects from many payers and pays out to many payees
//! within a short window — a hub that exists to move other people's money on.

use super::{Hit, TransferCx, Typology, hours, members};
use crate::aml::config::GatherScatterConfig;
use crate::aml::state::AccountState;

pub struct GatherScatter(pub GatherScatterConfig);

impl GatherScatter {
    fn check(
        &self,
        cx: &TransferCx<'_>,
        hub: &crate::ids::AccountId,
        state: &AccountState,
        hits: &mut Vec<Hit>,
    ) {
        let window = hours(self.0.window_hours);
        let payers = AccountState::distinct(&state.inflows, cx.at, window);
        let payees = AccountState::distinct(&state.outflows, cx.at, window);
        let (gathered, scattered) =
            (payers.len() >= self.0.min_payers as usize, payees.len() >= self.0.min_payees as usize);
        // Reported on the transfer that completes the shape: just reached on its side.
        let just = if hub == &cx.transfer.payee {
            scattered && payers.len() == self.0.min_payers as usize
        } else {
            gathered && payees.len() == self.0.min_payees as usize
        };
        if gathered && scattered && just {
            hits.push(Hit {
                code: "AML_GATHER_SCATTER",
                subject: hub.clone(),
                weight: self.0.weight,
                detail: format!(
                    "{} payers and {} payees within {} h",
                    payers.len(),
                    payees.len(),
                    self.0.window_hours
                ),
                participants: members(hub, payers.into_iter().chain(payees)),
            });
        }
    }
}

impl Typology for GatherScatter {
    fn code(&self) -> &'static str {
        "AML_GATHER_SCATTER"
    }

    fn on_transfer(&self, cx: &TransferCx<'_>, hits: &mut Vec<Hit>) {
        self.check(cx, &cx.transfer.payer, cx.payer, hits);
        self.check(cx, &cx.transfer.payee, cx.payee, hits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aml::typology::test_support::{Accounts, H};

    #[test]
    fn five_in_then_five_out_within_48_hours() {
        let rule = GatherScatter(GatherScatterConfig::default());
        let mut a = Accounts::default();
        for (i, p) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            assert!(a.send(&rule, p, "hub", "100", i as i64 * H).is_empty());
        }
        for (i, q) in ["v", "w", "x", "y"].iter().enumerate() {
            assert!(a.send(&rule, "hub", q, "100", 20 * H + i as i64).is_empty());
        }
        // `a` paid at hour 0: 48 h later it has left the window, so 4 payers remain.
        assert!(a.send(&rule, "hub", "z", "100", 48 * H).is_empty());
        let mut a = Accounts::default();
        for (i, p) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            a.send(&rule, p, "hub", "100", i as i64 * H);
        }
        for (i, q) in ["v", "w", "x", "y"].iter().enumerate() {
            a.send(&rule, "hub", q, "100", 20 * H + i as i64);
        }
        let hits = a.send(&rule, "hub", "z", "100", 48 * H - 1);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].participants.len(), 11);
        assert_eq!(hits[0].detail, "5 payers and 5 payees within 48 h");
    }
}
