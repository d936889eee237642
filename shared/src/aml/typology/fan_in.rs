//! Fan-in: many distinct payers into one account in a short window (a collection
//! account gathering from mules).

use super::{Hit, TransferCx, Typology, hours, list, members};
use crate::aml::config::FanConfig;
use crate::aml::state::AccountState;

pub struct FanIn(pub FanConfig);

impl Typology for FanIn {
    fn code(&self) -> &'static str {
        "AML_FAN_IN"
    }

    fn on_transfer(&self, cx: &TransferCx<'_>, hits: &mut Vec<Hit>) {
        let payers = AccountState::distinct(&cx.payee.inflows, cx.at, hours(self.0.window_hours));
        // Reported when the count is reached by a new payer, and on each new payer after.
        let new_payer = AccountState::within(&cx.payee.inflows, cx.at, hours(self.0.window_hours))
            .filter(|f| f.counterparty == cx.transfer.payer)
            .count()
            == 1;
        if payers.len() >= self.0.min_counterparties as usize && new_payer {
            let hub = &cx.transfer.payee;
            hits.push(Hit {
                code: self.code(),
                subject: hub.clone(),
                weight: self.0.weight,
                detail: format!(
                    "{} distinct payers within {} h: {}",
                    payers.len(),
                    self.0.window_hours,
                    list(&payers)
                ),
                participants: members(hub, payers),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aml::typology::test_support::{Accounts, H};

    fn rule() -> FanIn {
        FanIn(FanConfig { min_counterparties: 5, window_hours: 24, weight: 0.3 })
    }

    #[test]
    fn the_fifth_distinct_payer_within_24_hours_names_them_all() {
        let mut a = Accounts::default();
        for (i, p) in ["a", "b", "c", "d"].iter().enumerate() {
            assert!(a.send(&rule(), p, "hub", "100", i as i64 * H).is_empty());
        }
        assert!(a.send(&rule(), "a", "hub", "100", 5 * H).is_empty(), "a repeat payer is not a fifth");
        let hits = a.send(&rule(), "e", "hub", "100", 24 * H - 1);
        assert_eq!(hits[0].subject.as_str(), "hub");
        assert_eq!(
            hits[0].participants.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            ["hub", "a", "b", "c", "d", "e"]
        );
        assert_eq!(hits[0].detail, "5 distinct payers within 24 h: a, b, c, d, e");
    }

    #[test]
    fn payers_outside_the_window_do_not_count() {
        let mut a = Accounts::default();
        for (i, p) in ["a", "b", "c", "d"].iter().enumerate() {
            a.send(&rule(), p, "hub", "100", i as i64 * H);
        }
        // `a` paid at hour 0: exactly 24 h before, outside (t - 24 h, t].
        assert!(a.send(&rule(), "e", "hub", "100", 24 * H).is_empty());
    }
}
