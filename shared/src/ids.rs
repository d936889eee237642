//! Identifier newtypes. Each is only constructed through `parse`, so code that holds
//! one never re-checks it.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest identifier accepted; keeps DynamoDB keys and Parquet columns small.
pub const MAX_ID_LEN: usize = 64;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("is empty")]
    Empty,
    #[error("is longer than {MAX_ID_LEN} characters")]
    TooLong,
    #[error("contains a character outside [A-Za-z0-9._:-]")]
    BadCharacter,
}

fn check(raw: &str) -> Result<(), IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty);
    }
    if raw.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-');
    if raw.bytes().all(ok) { Ok(()) } else { Err(IdError::BadCharacter) }
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(CompactString);

        impl $name {
            /// Accepts 1..=64 characters of `[A-Za-z0-9._:-]`.
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                check(raw).map(|()| Self(CompactString::new(raw)))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(raw: String) -> Result<Self, IdError> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.into()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

id_newtype!(
    /// The upstream system's unique id for one transaction.
    TransactionId
);
id_newtype!(
    /// The card holder / account owner. May be sensitive: `Display` masks it.
    CustomerId
);
id_newtype!(
    /// The point of sale (merchant terminal) that took the payment.
    TerminalId
);
id_newtype!(
    /// A bank account (IBAN or internal number): the unit AML monitoring keeps state for.
    AccountId
);

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shown whole: compliance alerts must name every account of a pattern, and go only to the
/// compliance audience.
impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for TerminalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Customer ids are tokens once past the edge (`privacy`): people see a card's BIN and
/// last four (`411111******1111`), other ids' last four.
impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::privacy::token::display(&self.0))
    }
}

/// `****1234`: keeps the last four characters (fewer for short ids, so a 4-character
/// id is not shown whole).
pub fn mask(raw: &str) -> String {
    let chars = raw.chars().count();
    let keep = if chars > 6 { 4 } else { chars / 2 };
    format!("****{}", raw.chars().skip(chars - keep).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_ids_are_accepted() {
        assert_eq!(CustomerId::parse("cust-42_a.b:c").unwrap().as_str(), "cust-42_a.b:c");
        assert!(TerminalId::parse(&"x".repeat(MAX_ID_LEN)).is_ok());
    }

    #[test]
    fn empty_long_and_odd_ids_are_rejected() {
        assert_eq!(TransactionId::parse(""), Err(IdError::Empty));
        assert_eq!(TransactionId::parse(&"x".repeat(MAX_ID_LEN + 1)), Err(IdError::TooLong));
        assert_eq!(TransactionId::parse("a b"), Err(IdError::BadCharacter));
        assert_eq!(TransactionId::parse("a\u{e9}"), Err(IdError::BadCharacter));
    }

    #[test]
    fn customer_display_is_masked() {
        let c = CustomerId::parse("4111111111111111").unwrap();
        assert_eq!(c.to_string(), "****1111");
        assert_eq!(format!("{}", CustomerId::parse("1234").unwrap()), "****34");
        assert_eq!(mask("7"), "****");
    }

    #[test]
    fn serde_goes_through_parse() {
        let ok: CustomerId = serde_json::from_str("\"c1\"").unwrap();
        assert_eq!(ok.as_str(), "c1");
        assert!(serde_json::from_str::<CustomerId>("\"bad id\"").is_err());
    }
}
