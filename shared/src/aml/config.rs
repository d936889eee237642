//! The deployment's AML rule set: every typology's thresholds, windows and weight in one
//! struct with documented defaults, refused at load when nonsensical.
//!
//! Scores combine as in Tazama's typology processor: each typology that fires adds its
//! weight to its subject account's score; at `alert` the subject goes to REVIEW, at
//! `interdiction` to BLOCK. Weights are set so that a structural shape alone (many payers,
//! a quick pass-through) stays below the alert threshold — ordinary businesses make those
//! shapes every day — while a shape together with an anomaly in the money alerts.

use super::event::CountryCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AmlConfigError {
    #[error("{0} must be above zero")]
    NotPositive(&'static str),
    #[error("{field} = {value} is outside {range}")]
    OutOfRange { field: &'static str, value: f64, range: &'static str },
    #[error("thresholds: alert {alert} must be below interdiction {interdiction}")]
    Thresholds { alert: f32, interdiction: f32 },
    #[error("not a valid configuration: {0}")]
    Parse(String),
}

/// The whole AML configuration. Unknown fields are refused: a misspelt threshold must not
/// silently fall back to its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmlConfig {
    /// A subject's score at or above this raises a REVIEW alert to compliance.
    pub alert: f32,
    /// At or above this the transfer is BLOCKed (interdiction).
    pub interdiction: f32,
    /// Most that shape typologies (fan-in, fan-out, gather-scatter, pass-through, cycle)
    /// add together; below `alert`, so a shape alerts only with an anomaly in the money.
    pub shape_cap: f32,
    pub ctr: CtrConfig,
    pub structuring: StructuringConfig,
    pub split_payments: SplitConfig,
    pub fan_in: FanConfig,
    pub fan_out: FanConfig,
    pub gather_scatter: GatherScatterConfig,
    pub pass_through: PassThroughConfig,
    pub cycle: CycleConfig,
    pub dormant: DormantConfig,
    pub unusual_payment: UnusualConfig,
    pub token_payment: TokenPaymentConfig,
    pub geography: GeographyConfig,
    pub velocity: VelocityConfig,
}

impl Default for AmlConfig {
    fn default() -> Self {
        Self {
            alert: 0.5,
            interdiction: 0.9,
            shape_cap: 0.45,
            ctr: CtrConfig::default(),
            structuring: StructuringConfig::default(),
            split_payments: SplitConfig::default(),
            fan_in: FanConfig { min_counterparties: 5, window_hours: 24, weight: 0.3 },
            fan_out: FanConfig { min_counterparties: 5, window_hours: 8, weight: 0.3 },
            gather_scatter: GatherScatterConfig::default(),
            pass_through: PassThroughConfig::default(),
            cycle: CycleConfig::default(),
            dormant: DormantConfig::default(),
            unusual_payment: UnusualConfig::default(),
            token_payment: TokenPaymentConfig::default(),
            geography: GeographyConfig::default(),
            velocity: VelocityConfig::default(),
        }
    }
}

/// Currency Transaction Report (31 CFR 1010.311): cash over the threshold in one
/// business day, all of a customer's accounts together. A filing, not an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CtrConfig {
    /// Cash in (or out) strictly above this in one UTC business day is reported.
    #[serde(with = "rust_decimal::serde::str")]
    pub threshold: Decimal,
}

impl Default for CtrConfig {
    fn default() -> Self {
        Self { threshold: Decimal::from(10_000) }
    }
}

/// Cash deposits kept under the reporting threshold on purpose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StructuringConfig {
    /// Deposits from this amount up to the CTR threshold count as "just under".
    #[serde(with = "rust_decimal::serde::str")]
    pub band_from: Decimal,
    /// At least this many such deposits within the window…
    pub min_deposits: u32,
    /// …whose total exceeds the CTR threshold.
    pub window_hours: u32,
    /// Deposits within this fraction below the threshold (10 %: 9,000–9,999.99) are
    /// "repeated amounts just below"; `repeat_min` of them within `repeat_window_hours`.
    pub near_fraction: f64,
    pub repeat_min: u32,
    pub repeat_window_hours: u32,
    pub weight: f32,
}

impl Default for StructuringConfig {
    fn default() -> Self {
        Self {
            band_from: Decimal::from(3_000),
            min_deposits: 2,
            window_hours: 72,
            near_fraction: 0.1,
            repeat_min: 3,
            repeat_window_hours: 7 * 24,
            weight: 0.6,
        }
    }
}

/// One payment split into several to the same payee (smurfing with transfers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitConfig {
    pub min_payments: u32,
    pub window_hours: u32,
    pub weight: f32,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self { min_payments: 3, window_hours: 24, weight: 0.35 }
    }
}

/// Many distinct counterparties in a short window (fan-in: payers; fan-out: payees).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanConfig {
    pub min_counterparties: u32,
    pub window_hours: u32,
    pub weight: f32,
}

/// Gathered from many, scattered to many: a collection account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatherScatterConfig {
    pub min_payers: u32,
    pub min_payees: u32,
    pub window_hours: u32,
    pub weight: f32,
}

impl Default for GatherScatterConfig {
    fn default() -> Self {
        Self { min_payers: 5, min_payees: 5, window_hours: 48, weight: 0.45 }
    }
}

/// Money out soon after money in, of about the same size (mirroring, a mule's hop).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PassThroughConfig {
    pub window_hours: u32,
    /// The outflow is within ± this fraction of the inflow.
    pub tolerance: f64,
    pub weight: f32,
}

impl Default for PassThroughConfig {
    fn default() -> Self {
        Self { window_hours: 48, tolerance: 0.1, weight: 0.3 }
    }
}

/// Funds that come back to an account they left (round-tripping).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CycleConfig {
    /// How long a provenance tag travels before it is forgotten.
    pub window_hours: u32,
    /// Longest cycle followed, in transfers.
    pub max_hops: u32,
    /// An outflow carries an inflow's tag only if it is at least this fraction of it
    /// (money follows money; an unrelated small payment does not carry provenance)…
    pub carry_min: f64,
    /// …and at most this multiple of it.
    pub carry_max: f64,
    /// The cycle "returns the same money" when the amount back is within ± this of the
    /// amount that left.
    pub amount_tolerance: f64,
    /// Weight of a cycle; `matched_weight` when the amount back matches.
    pub weight: f32,
    pub matched_weight: f32,
}

impl Default for CycleConfig {
    fn default() -> Self {
        Self {
            window_hours: 30 * 24,
            max_hops: 6,
            carry_min: 0.8,
            carry_max: 1.1,
            amount_tolerance: 0.1,
            weight: 0.3,
            matched_weight: 0.45,
        }
    }
}

/// An account quiet for months that suddenly moves large sums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DormantConfig {
    pub quiet_days: u32,
    #[serde(with = "rust_decimal::serde::str")]
    pub min_amount: Decimal,
    pub weight: f32,
}

impl Default for DormantConfig {
    fn default() -> Self {
        Self { quiet_days: 90, min_amount: Decimal::from(1_000), weight: 0.55 }
    }
}

/// A payment far from the payer's usual size — most suspicious as the first to a new
/// counterparty (a mule tested with a small amount, or a one-off large placement).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnusualConfig {
    /// Unusual: at least `factor` times the usual size, or at most its 1/`factor`.
    pub factor: f64,
    /// Payments needed before the account's own history is the reference (before: its
    /// opening balance, if known).
    pub min_history: u32,
    pub new_counterparty_weight: f32,
    pub known_counterparty_weight: f32,
    /// At `extreme_factor` a payment to a known payee weighs `extreme_weight` (a payee
    /// paid before does not make a 20-fold deviation ordinary).
    pub extreme_factor: f64,
    pub extreme_weight: f32,
}

impl Default for UnusualConfig {
    fn default() -> Self {
        Self {
            factor: 5.0,
            min_history: 3,
            new_counterparty_weight: 0.6,
            known_counterparty_weight: 0.3,
            extreme_factor: 20.0,
            extreme_weight: 0.5,
        }
    }
}

/// A token payment down an established relationship: to a known payee, at most 1/`factor`
/// of the least the payer has ever paid it. Its weight alone stays below `alert` (a
/// relationship may change for good reasons); with a payment unusual for the payer too
/// (`unusual_payment`'s known-payee weight) it alerts: a payee paid before vouches for
/// the sums it has received, not for a token one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenPaymentConfig {
    /// A token: at most the least paid to the payee before, divided by this.
    pub factor: f64,
    /// Added to the payer's score; below `alert` alone.
    pub weight: f32,
}

impl Default for TokenPaymentConfig {
    fn default() -> Self {
        Self { factor: 5.0, weight: 0.3 }
    }
}

/// Payments to, or customers in, high-risk jurisdictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeographyConfig {
    /// Default: FATF's "call for action" list (DPRK, Iran, Myanmar); banks add their own.
    pub countries: Vec<CountryCode>,
    pub weight: f32,
    /// Added when the payer's owner is rated high risk by KYC.
    pub high_risk_customer_weight: f32,
}

impl Default for GeographyConfig {
    fn default() -> Self {
        let countries = ["KP", "IR", "MM"].iter().filter_map(|c| CountryCode::parse(c).ok()).collect();
        Self { countries, weight: 0.35, high_risk_customer_weight: 0.2 }
    }
}

/// Many payments out in a short window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VelocityConfig {
    pub max_payments: u32,
    pub window_hours: u32,
    pub weight: f32,
}

impl Default for VelocityConfig {
    fn default() -> Self {
        Self { max_payments: 10, window_hours: 24, weight: 0.25 }
    }
}

impl AmlConfig {
    /// Parses a JSON configuration (absent fields take their defaults) and validates it.
    pub fn from_json(text: &str) -> Result<Self, AmlConfigError> {
        let config: Self = serde_json::from_str(text).map_err(|e| AmlConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses what would make a typology meaningless: empty windows, weights outside
    /// [0, 1], thresholds in the wrong order.
    pub fn validate(&self) -> Result<(), AmlConfigError> {
        use AmlConfigError as E;
        let unit = |field, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(E::OutOfRange { field, value: v, range: "[0, 1]" })
            }
        };
        let positive = |field, v: u32| if v > 0 { Ok(()) } else { Err(E::NotPositive(field)) };
        let fraction = |field, v: f64| {
            if v > 0.0 && v < 1.0 { Ok(()) } else { Err(E::OutOfRange { field, value: v, range: "(0, 1)" }) }
        };
        if !(self.alert > 0.0 && self.alert < self.interdiction) {
            return Err(E::Thresholds { alert: self.alert, interdiction: self.interdiction });
        }
        unit("interdiction", self.interdiction.into())?;
        unit("shape_cap", self.shape_cap.into())?;
        if self.ctr.threshold <= Decimal::ZERO {
            return Err(E::NotPositive("ctr.threshold"));
        }
        let s = &self.structuring;
        if s.band_from <= Decimal::ZERO || s.band_from >= self.ctr.threshold {
            return Err(E::OutOfRange {
                field: "structuring.band_from",
                value: rust_decimal::prelude::ToPrimitive::to_f64(&s.band_from).unwrap_or(f64::NAN),
                range: "(0, ctr.threshold)",
            });
        }
        positive("structuring.min_deposits", s.min_deposits)?;
        positive("structuring.window_hours", s.window_hours)?;
        fraction("structuring.near_fraction", s.near_fraction)?;
        positive("structuring.repeat_min", s.repeat_min)?;
        positive("structuring.repeat_window_hours", s.repeat_window_hours)?;
        unit("structuring.weight", s.weight.into())?;
        let p = &self.split_payments;
        if p.min_payments < 2 {
            return Err(E::OutOfRange {
                field: "split_payments.min_payments",
                value: p.min_payments.into(),
                range: ">= 2",
            });
        }
        positive("split_payments.window_hours", p.window_hours)?;
        unit("split_payments.weight", p.weight.into())?;
        for (name, f) in [("fan_in", &self.fan_in), ("fan_out", &self.fan_out)] {
            if f.min_counterparties < 2 {
                return Err(E::OutOfRange {
                    field: name,
                    value: f.min_counterparties.into(),
                    range: "min_counterparties >= 2",
                });
            }
            positive(name, f.window_hours)?;
            unit(name, f.weight.into())?;
        }
        let g = &self.gather_scatter;
        positive("gather_scatter.min_payers", g.min_payers)?;
        positive("gather_scatter.min_payees", g.min_payees)?;
        positive("gather_scatter.window_hours", g.window_hours)?;
        unit("gather_scatter.weight", g.weight.into())?;
        positive("pass_through.window_hours", self.pass_through.window_hours)?;
        fraction("pass_through.tolerance", self.pass_through.tolerance)?;
        unit("pass_through.weight", self.pass_through.weight.into())?;
        let c = &self.cycle;
        positive("cycle.window_hours", c.window_hours)?;
        if !(2..=super::state::TAG_PATH_MAX as u32 + 2).contains(&c.max_hops) {
            return Err(E::OutOfRange { field: "cycle.max_hops", value: c.max_hops.into(), range: "2..=6" });
        }
        fraction("cycle.carry_min", c.carry_min)?;
        if c.carry_max < 1.0 {
            return Err(E::OutOfRange { field: "cycle.carry_max", value: c.carry_max, range: ">= 1" });
        }
        fraction("cycle.amount_tolerance", c.amount_tolerance)?;
        unit("cycle.weight", c.weight.into())?;
        unit("cycle.matched_weight", c.matched_weight.into())?;
        positive("dormant.quiet_days", self.dormant.quiet_days)?;
        unit("dormant.weight", self.dormant.weight.into())?;
        let u = &self.unusual_payment;
        if u.factor <= 1.0 || !u.factor.is_finite() {
            return Err(E::OutOfRange { field: "unusual_payment.factor", value: u.factor, range: "> 1" });
        }
        if !(u.extreme_factor >= u.factor && u.extreme_factor.is_finite()) {
            return Err(E::OutOfRange {
                field: "unusual_payment.extreme_factor",
                value: u.extreme_factor,
                range: ">= factor",
            });
        }
        unit("unusual_payment.extreme_weight", u.extreme_weight.into())?;
        positive("unusual_payment.min_history", u.min_history)?;
        unit("unusual_payment.new_counterparty_weight", u.new_counterparty_weight.into())?;
        unit("unusual_payment.known_counterparty_weight", u.known_counterparty_weight.into())?;
        let tp = &self.token_payment;
        if tp.factor <= 1.0 || !tp.factor.is_finite() {
            return Err(E::OutOfRange { field: "token_payment.factor", value: tp.factor, range: "> 1" });
        }
        unit("token_payment.weight", tp.weight.into())?;
        unit("geography.weight", self.geography.weight.into())?;
        unit("geography.high_risk_customer_weight", self.geography.high_risk_customer_weight.into())?;
        positive("velocity.max_payments", self.velocity.max_payments)?;
        positive("velocity.window_hours", self.velocity.window_hours)?;
        unit("velocity.weight", self.velocity.weight.into())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_round_trip() {
        let config = AmlConfig::default();
        config.validate().unwrap();
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(AmlConfig::from_json(&json).unwrap(), config);
    }

    #[test]
    fn a_partial_config_keeps_the_other_defaults() {
        let config =
            AmlConfig::from_json(r#"{"fan_in":{"min_counterparties":8,"window_hours":48,"weight":0.4}}"#)
                .unwrap();
        assert_eq!(config.fan_in.min_counterparties, 8);
        assert_eq!(config.fan_out, AmlConfig::default().fan_out);
    }

    #[test]
    fn nonsense_is_refused() {
        let cases = [
            r#"{"alert":0.9,"interdiction":0.5}"#,
            r#"{"fan_out":{"min_counterparties":5,"window_hours":0,"weight":0.3}}"#,
            r#"{"velocity":{"max_payments":10,"window_hours":24,"weight":1.5}}"#,
            r#"{"ctr":{"threshold":"0"}}"#,
            r#"{"structuring":{"band_from":"12000"}}"#,
            r#"{"cycle":{"max_hops":1}}"#,
            r#"{"unusual_payment":{"factor":1.0}}"#,
            r#"{"token_payment":{"factor":0.2}}"#,
            r#"{"token_payment":{"weight":-0.1}}"#,
            r#"{"fan_inn":{}}"#,
            r#"{"geography":{"countries":["Iran"]}}"#,
        ];
        for json in cases {
            assert!(AmlConfig::from_json(json).is_err(), "{json}");
        }
    }
}
