//! Money: amounts are decimal, never binary floating point.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Smallest and largest amounts the business accepts (in currency units).
pub const MIN_AMOUNT: Decimal = Decimal::from_parts(1, 0, 0, false, 2); // 0.01
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(10_000_000, 0, 0, false, 0);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("`{}` is not a decimal number", crate::redact::Shown(.0))]
    NotANumber(String),
    #[error("{0} is outside 0.01..=10000000")]
    OutOfRange(Decimal),
}

/// A transaction amount in 0.01..=10,000,000 currency units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Amount(Decimal);

impl Amount {
    pub fn new(value: Decimal) -> Result<Self, AmountError> {
        if (MIN_AMOUNT..=MAX_AMOUNT).contains(&value) {
            Ok(Self(value.normalize()))
        } else {
            Err(AmountError::OutOfRange(value))
        }
    }

    /// Parses a decimal (`"57.16"`, also `"1.5e2"`); thousands separators are refused.
    pub fn parse(raw: &str) -> Result<Self, AmountError> {
        let value = Decimal::from_str(raw.trim()).map_err(|_| AmountError::NotANumber(raw.to_owned()))?;
        Self::new(value)
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// For model features only: statistics, not bookkeeping.
    pub fn to_f32(self) -> f32 {
        rust_decimal::prelude::ToPrimitive::to_f32(&self.0).unwrap_or(f32::MAX)
    }
}

impl TryFrom<Decimal> for Amount {
    type Error = AmountError;
    fn try_from(value: Decimal) -> Result<Self, AmountError> {
        Self::new(value)
    }
}

impl From<Amount> for Decimal {
    fn from(a: Amount) -> Decimal {
        a.0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not an ISO 4217 currency code (three capital letters)", crate::redact::Shown(.0))]
pub struct CurrencyError(String);

/// ISO 4217 alphabetic code, e.g. `USD`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// `USD`, not its bytes (the audit trail records rules by their `Debug`).
impl std::fmt::Debug for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(raw: &str) -> Result<Self, CurrencyError> {
        match raw.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Self([a, b, c])),
            _ => Err(CurrencyError(raw.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII capitals get in through `parse`.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;
    fn try_from(raw: String) -> Result<Self, CurrencyError> {
        Self::parse(&raw)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bounds_are_inclusive() {
        assert!(Amount::parse("0.01").is_ok());
        assert!(Amount::parse("10000000").is_ok());
        assert!(matches!(Amount::parse("0.009"), Err(AmountError::OutOfRange(_))));
        assert!(matches!(Amount::parse("10000000.01"), Err(AmountError::OutOfRange(_))));
        assert!(matches!(Amount::parse("-5"), Err(AmountError::OutOfRange(_))));
    }

    #[test]
    fn garbage_is_not_a_number() {
        for raw in ["", "abc", "1,000.00", "NaN", "12..5"] {
            assert!(matches!(Amount::parse(raw), Err(AmountError::NotANumber(_))), "{raw}");
        }
    }

    #[test]
    fn amounts_keep_their_decimal_value() {
        assert_eq!(Amount::parse("146.0").unwrap().to_string(), "146");
        assert_eq!(Amount::parse(" 57.16 ").unwrap().value(), Decimal::new(5716, 2));
        assert_eq!(Amount::parse("1.5e2").unwrap().value(), Decimal::new(150, 0));
    }

    #[test]
    fn currency_codes_are_three_capitals() {
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
        for raw in ["eur", "EURO", "E1R", ""] {
            assert!(Currency::parse(raw).is_err(), "{raw}");
        }
    }

    proptest! {
        #[test]
        fn every_cent_amount_in_range_round_trips(cents in 1i64..=1_000_000_000) {
            let raw = Decimal::new(cents, 2).to_string();
            let amount = Amount::parse(&raw).unwrap();
            prop_assert_eq!(amount.value(), Decimal::new(cents, 2));
        }

        #[test]
        fn arbitrary_text_never_panics(raw in ".*") {
            let _ = Amount::parse(&raw);
            let _ = Currency::parse(&raw);
        }
    }
}
