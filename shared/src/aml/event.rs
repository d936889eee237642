//! Account flows as AML monitoring sees them: transfers between accounts and cash at a
//! branch or ATM, plus what KYC knows of an account's owner. Each maps one to one onto a
//! wire event (`channel: transfer | cash_deposit | cash_withdrawal`, `type: customer`).

use crate::ids::{AccountId, CustomerId, TerminalId, TransactionId};
use crate::money::Amount;
use crate::redact::Shown;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest counterparty name kept (SWIFT's 140-character name-and-address field).
pub const MAX_NAME_LEN: usize = 140;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("`{}` is not an ISO 3166 alpha-2 country code (two capital letters)", Shown(.0))]
    Country(String),
    #[error("`{}` is not a BIC (4 letters bank, 2 letters country, 2 location, optional 3 branch)", Shown(.0))]
    Bic(String),
    #[error("a name must hold 1..={MAX_NAME_LEN} characters, not {0}")]
    NameLength(usize),
    #[error("`{}` is not a risk rating (low, medium, high)", Shown(.0))]
    Risk(String),
}

/// ISO 3166-1 alpha-2, e.g. `DE`. Only the shape is checked: the list of assigned codes
/// changes, and an unknown but well-formed code must still be screened, not refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw.as_bytes() {
            &[a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(Self([a, b])),
            _ => Err(FieldError::Country(raw.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII capitals get in through `parse`.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl TryFrom<String> for CountryCode {
    type Error = FieldError;
    fn try_from(raw: String) -> Result<Self, FieldError> {
        Self::parse(&raw)
    }
}

impl From<CountryCode> for String {
    fn from(c: CountryCode) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ISO 9362 business identifier code: `DEUTDEFF` or `DEUTDEFF500`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Bic(String);

impl Bic {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let b = raw.as_bytes();
        let alnum = |s: &[u8]| s.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        let ok = matches!(b.len(), 8 | 11) && b[..6].iter().all(u8::is_ascii_uppercase) && alnum(&b[6..]);
        if ok { Ok(Self(raw.to_owned())) } else { Err(FieldError::Bic(raw.to_owned())) }
    }

    /// The country the bank is in (characters 5–6).
    pub fn country(&self) -> CountryCode {
        let b = self.0.as_bytes();
        CountryCode([b[4], b[5]])
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Bic {
    type Error = FieldError;
    fn try_from(raw: String) -> Result<Self, FieldError> {
        Self::parse(&raw)
    }
}

impl From<Bic> for String {
    fn from(b: Bic) -> String {
        b.0
    }
}

/// A counterparty's name as the payer typed it, trimmed, 1..=140 characters. Held in
/// memory for screening only: it never prints itself, and is sealed before it is stored.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartyName(String);

impl fmt::Debug for PartyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PartyName(..)")
    }
}

impl PartyName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        match name.chars().count() {
            n @ (0 | 141..) => Err(FieldError::NameLength(n)),
            _ => Ok(Self(name.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PartyName {
    type Error = FieldError;
    fn try_from(raw: String) -> Result<Self, FieldError> {
        Self::parse(&raw)
    }
}

impl From<PartyName> for String {
    fn from(n: PartyName) -> String {
        n.0
    }
}

/// The bank's KYC risk rating of a customer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskRating {
    #[default]
    Low,
    Medium,
    High,
}

impl RiskRating {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            _ => Err(FieldError::Risk(raw.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

/// What KYC knows of an account and its owner (all optional: a transfer's counterparty at
/// another bank has no profile here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<CustomerId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<CountryCode>,
    #[serde(default)]
    pub risk: RiskRating,
    /// The balance the account opened with: until it has a payment history, its first
    /// payments are measured against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening_balance: Option<Amount>,
}

/// Payer account → payee account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transfer {
    pub id: TransactionId,
    pub payer: AccountId,
    pub payee: AccountId,
    pub amount: Amount,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_name: Option<PartyName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_bic: Option<Bic>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_country: Option<CountryCode>,
}

impl Transfer {
    /// The payee's country: stated, else the country of its bank.
    pub fn destination_country(&self) -> Option<CountryCode> {
        self.payee_country.or_else(|| self.payee_bic.as_ref().map(Bic::country))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashDirection {
    Deposit,
    Withdrawal,
}

impl CashDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deposit => "cash_deposit",
            Self::Withdrawal => "cash_withdrawal",
        }
    }
}

/// Cash paid in or taken out at a branch or ATM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CashMovement {
    pub id: TransactionId,
    pub account: AccountId,
    pub direction: CashDirection,
    pub amount: Amount,
    pub at: DateTime<Utc>,
    /// Branch or ATM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<TerminalId>,
}

/// One monitored movement of money.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum FlowEvent {
    Transfer(Transfer),
    Cash(CashMovement),
}

impl FlowEvent {
    pub fn id(&self) -> &TransactionId {
        match self {
            Self::Transfer(t) => &t.id,
            Self::Cash(c) => &c.id,
        }
    }

    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Transfer(t) => t.at,
            Self::Cash(c) => c.at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_two_capitals() {
        assert_eq!(CountryCode::parse("IR").unwrap().as_str(), "IR");
        for raw in ["ir", "IRN", "I", "", "1R"] {
            assert!(CountryCode::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn bics_have_eight_or_eleven_characters_and_name_their_country() {
        assert_eq!(Bic::parse("DEUTDEFF").unwrap().country().as_str(), "DE");
        assert!(Bic::parse("DEUTDEFF500").is_ok());
        for raw in ["DEUTDEF", "DEUTDEFF50", "deutdeff", "DEU1DEFF", "DEUTDEFF-00"] {
            assert!(Bic::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(PartyName::parse("  ACME Ltd ").unwrap().as_str(), "ACME Ltd");
        assert_eq!(PartyName::parse("   "), Err(FieldError::NameLength(0)));
        assert!(PartyName::parse(&"é".repeat(140)).is_ok());
        assert_eq!(PartyName::parse(&"x".repeat(141)), Err(FieldError::NameLength(141)));
    }

    #[test]
    fn the_destination_country_falls_back_to_the_bank() {
        let mut t = Transfer {
            id: TransactionId::parse("t").unwrap(),
            payer: AccountId::parse("a").unwrap(),
            payee: AccountId::parse("b").unwrap(),
            amount: Amount::parse("1").unwrap(),
            at: "2024-01-01T00:00:00Z".parse().unwrap(),
            payee_name: None,
            payee_bic: Some(Bic::parse("BKIDIRTH").unwrap()),
            payee_country: None,
        };
        assert_eq!(t.destination_country().map(|c| c.to_string()).as_deref(), Some("IR"));
        t.payee_country = Some(CountryCode::parse("FR").unwrap());
        assert_eq!(t.destination_country().map(|c| c.to_string()).as_deref(), Some("FR"));
    }
}
