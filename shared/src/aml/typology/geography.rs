//! High-risk geography: payments to a listed jurisdiction, or by a customer KYC places
//! in one or rates high risk.

use super::{Hit, TransferCx, Typology};
use crate::aml::config::GeographyConfig;
use crate::aml::event::RiskRating;

pub struct Geography(pub GeographyConfig);

impl Typology for Geography {
    fn code(&self) -> &'static str {
        "AML_HIGH_RISK_GEOGRAPHY"
    }

    fn on_transfer(&self, cx: &TransferCx<'_>, hits: &mut Vec<Hit>) {
        let t = cx.transfer;
        let listed = |c: &crate::aml::event::CountryCode| self.0.countries.contains(c);
        let mut why = Vec::new();
        let mut weight = 0.0;
        if let Some(c) = t.destination_country().filter(listed) {
            why.push(format!("payee in {c}"));
            weight += self.0.weight;
        }
        if let Some(c) = cx.payer.profile.country.filter(listed) {
            why.push(format!("payer's customer in {c}"));
            weight += self.0.weight;
        }
        if cx.payer.profile.risk == RiskRating::High {
            why.push("payer's customer rated high risk".to_owned());
            weight += self.0.high_risk_customer_weight;
        }
        if !why.is_empty() {
            hits.push(Hit {
                code: self.code(),
                subject: t.payer.clone(),
                weight: weight.min(1.0),
                participants: vec![t.payer.clone(), t.payee.clone()],
                detail: why.join("; "),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aml::event::{AccountProfile, Bic, CountryCode};
    use crate::aml::state::AccountState;
    use crate::aml::typology::test_support::{run, transfer};

    #[test]
    fn a_payee_bank_in_a_listed_country_and_a_high_risk_payer_add_up() {
        let rule = Geography(GeographyConfig::default());
        let mut t = transfer("p", "q", "100", 0);
        t.payee_bic = Some(Bic::parse("BKIDIRTH").unwrap());
        let profile = AccountProfile { risk: RiskRating::High, ..Default::default() };
        let hits = run(&rule, &t, &mut AccountState::with_profile(profile), &mut AccountState::default());
        assert_eq!(hits[0].detail, "payee in IR; payer's customer rated high risk");
        assert!((hits[0].weight - 0.55).abs() < 1e-6);
        t.payee_country = Some(CountryCode::parse("FR").unwrap());
        assert!(run(&rule, &t, &mut AccountState::default(), &mut AccountState::default()).is_empty());
    }
}
