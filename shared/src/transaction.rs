//! A card payment or transfer, parsed from the stream's JSON or from CSV.

use crate::ids::{CustomerId, IdError, TerminalId, TransactionId};
use crate::money::{Amount, AmountError, Currency, CurrencyError};
use crate::redact::Shown;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::Serialize;

/// How far in the future a timestamp may be before it is refused: producers' clocks drift.
pub const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// Why a record was refused. Every variant sends the record to quarantine with its
/// `code()`; none is retried, since the same bytes would fail the same way.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RejectReason {
    #[error("malformed record: {0}")]
    Malformed(String),
    #[error("unknown record type `{}` (expected `transaction`, `label` or `customer`)", Shown(.0))]
    UnknownType(String),
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    #[error("field `{field}` {source}")]
    InvalidId { field: &'static str, source: IdError },
    #[error("amount {0}")]
    InvalidAmount(#[from] AmountError),
    #[error("{0}")]
    InvalidCurrency(#[from] CurrencyError),
    #[error("field `{field}`: `{}` is not an ISO 8601 UTC timestamp", Shown(value))]
    InvalidTimestamp { field: &'static str, value: String },
    #[error("field `{field}`: {at} is more than {MAX_CLOCK_SKEW} after now ({now})")]
    FutureTimestamp { field: &'static str, at: DateTime<Utc>, now: DateTime<Utc> },
    #[error("field `fraud`: `{}` is not a boolean (true/false/1/0)", Shown(.0))]
    InvalidFlag(String),
    #[error("a label, not a transaction: labels go through the producer (`POST /transactions`)")]
    NotATransaction,
    #[error("{0}: monitored on the stream, not decided at authorisation: send it through the producer")]
    NotDecidedHere(&'static str),
    #[error("unknown channel `{}` (expected card, transfer, cash_deposit or cash_withdrawal)", Shown(.0))]
    UnknownChannel(String),
    #[error("field `{field}`: {source}")]
    InvalidField { field: &'static str, source: crate::aml::FieldError },
    #[error("field `{field}`: `{}` is not a date (YYYY-MM-DD)", Shown(value))]
    InvalidDate { field: &'static str, value: String },
    #[error("field `{field}` holds more than {max} entries")]
    TooMany { field: &'static str, max: usize },
    #[error("field `{0}` is not a sealed value (vgs1.…)")]
    InvalidSealed(&'static str),
    /// A sealed field that does not open: altered, or sealed by another deployment.
    #[error("{0}")]
    Unreadable(String),
}

impl RejectReason {
    /// Stable machine-readable code for metrics, quarantine objects and dashboards.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "MALFORMED",
            Self::UnknownType(_) => "UNKNOWN_TYPE",
            Self::MissingField(_) => "MISSING_FIELD",
            Self::InvalidId { .. } => "INVALID_ID",
            Self::InvalidAmount(_) => "INVALID_AMOUNT",
            Self::InvalidCurrency(_) => "INVALID_CURRENCY",
            Self::InvalidTimestamp { .. } => "INVALID_TIMESTAMP",
            Self::FutureTimestamp { .. } => "FUTURE_TIMESTAMP",
            Self::InvalidFlag(_) => "INVALID_FLAG",
            Self::NotATransaction => "NOT_A_TRANSACTION",
            Self::NotDecidedHere(_) => "NOT_DECIDED_HERE",
            Self::UnknownChannel(_) => "UNKNOWN_CHANNEL",
            Self::InvalidField { .. } => "INVALID_FIELD",
            Self::InvalidDate { .. } => "INVALID_DATE",
            Self::TooMany { .. } => "TOO_MANY",
            Self::InvalidSealed(_) => "INVALID_SEALED",
            Self::Unreadable(_) => "UNREADABLE_SEALED",
        }
    }
}

/// A validated transaction: nothing downstream re-checks these fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transaction {
    pub id: TransactionId,
    pub customer: CustomerId,
    pub terminal: TerminalId,
    pub amount: Amount,
    pub currency: Currency,
    pub at: DateTime<Utc>,
}

/// The textual fields of a transaction as they arrive, before validation.
#[derive(Debug, Default, Clone, Copy)]
pub struct RawTransaction<'a> {
    pub transaction_id: Option<&'a str>,
    pub customer_id: Option<&'a str>,
    pub terminal_id: Option<&'a str>,
    pub amount: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub timestamp: Option<&'a str>,
}

impl Transaction {
    /// Validates every field; `now` bounds the timestamp (a parameter so replays and
    /// tests are deterministic). A missing currency means `default_currency`.
    pub fn parse(
        raw: RawTransaction<'_>,
        default_currency: Currency,
        now: DateTime<Utc>,
    ) -> Result<Transaction, RejectReason> {
        fn field<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, RejectReason> {
            value.ok_or(RejectReason::MissingField(name))
        }
        let id = TransactionId::parse(field(raw.transaction_id, "transaction_id")?)
            .map_err(|source| RejectReason::InvalidId { field: "transaction_id", source })?;
        let customer = CustomerId::parse(field(raw.customer_id, "customer_id")?)
            .map_err(|source| RejectReason::InvalidId { field: "customer_id", source })?;
        let terminal = TerminalId::parse(field(raw.terminal_id, "terminal_id")?)
            .map_err(|source| RejectReason::InvalidId { field: "terminal_id", source })?;
        let amount = Amount::parse(field(raw.amount, "amount")?)?;
        let currency = match raw.currency {
            Some(code) => Currency::parse(code)?,
            None => default_currency,
        };
        let at = parse_timestamp("timestamp", field(raw.timestamp, "timestamp")?, now)?;
        Ok(Transaction { id, customer, terminal, amount, currency, at })
    }
}

/// RFC 3339 (any offset, converted to UTC) or `YYYY-MM-DD HH:MM:SS` taken as UTC,
/// refusing times more than [`MAX_CLOCK_SKEW`] after `now`.
pub fn parse_timestamp(
    field: &'static str,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, RejectReason> {
    let raw = raw.trim();
    let at = DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S").map(|t| t.and_utc()))
        .map_err(|_| RejectReason::InvalidTimestamp { field, value: raw.to_owned() })?;
    if at > now + MAX_CLOCK_SKEW {
        return Err(RejectReason::FutureTimestamp { field, at, now });
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IdError;

    fn now() -> DateTime<Utc> {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }

    fn raw() -> RawTransaction<'static> {
        RawTransaction {
            transaction_id: Some("tx-1"),
            customer_id: Some("596"),
            terminal_id: Some("3156"),
            amount: Some("57.16"),
            currency: None,
            timestamp: Some("2018-04-01T00:00:31Z"),
        }
    }

    fn parse(raw: RawTransaction<'_>) -> Result<Transaction, RejectReason> {
        Transaction::parse(raw, Currency::USD, now())
    }

    #[test]
    fn a_complete_record_is_parsed() {
        let tx = parse(raw()).unwrap();
        assert_eq!(tx.id.as_str(), "tx-1");
        assert_eq!(tx.amount.to_string(), "57.16");
        assert_eq!(tx.currency, Currency::USD);
        assert_eq!(tx.at.to_rfc3339(), "2018-04-01T00:00:31+00:00");
    }

    #[test]
    fn offsets_are_converted_to_utc_and_naive_times_are_utc() {
        let tx = parse(RawTransaction { timestamp: Some("2018-04-01T02:00:31+02:00"), ..raw() });
        assert_eq!(tx.unwrap().at, parse(raw()).unwrap().at);
        let tx = parse(RawTransaction { timestamp: Some("2018-04-01 00:00:31"), ..raw() });
        assert_eq!(tx.unwrap().at, parse(raw()).unwrap().at);
    }

    #[test]
    fn each_missing_field_is_named() {
        let cases: [(RawTransaction, &str); 5] = [
            (RawTransaction { transaction_id: None, ..raw() }, "transaction_id"),
            (RawTransaction { customer_id: None, ..raw() }, "customer_id"),
            (RawTransaction { terminal_id: None, ..raw() }, "terminal_id"),
            (RawTransaction { amount: None, ..raw() }, "amount"),
            (RawTransaction { timestamp: None, ..raw() }, "timestamp"),
        ];
        for (input, name) in cases {
            assert_eq!(parse(input), Err(RejectReason::MissingField(name)));
        }
    }

    #[test]
    fn bad_fields_give_reasons() {
        let bad_id = parse(RawTransaction { terminal_id: Some("t 1"), ..raw() }).unwrap_err();
        assert_eq!(bad_id, RejectReason::InvalidId { field: "terminal_id", source: IdError::BadCharacter });
        assert_eq!(bad_id.to_string(), "field `terminal_id` contains a character outside [A-Za-z0-9._:-]");
        let zero = parse(RawTransaction { amount: Some("0"), ..raw() }).unwrap_err();
        assert_eq!(zero.code(), "INVALID_AMOUNT");
        let cur = parse(RawTransaction { currency: Some("usd"), ..raw() }).unwrap_err();
        assert_eq!(cur.code(), "INVALID_CURRENCY");
        let ts = parse(RawTransaction { timestamp: Some("yesterday"), ..raw() }).unwrap_err();
        assert_eq!(ts.code(), "INVALID_TIMESTAMP");
    }

    #[test]
    fn the_future_is_refused_beyond_the_skew() {
        let within = parse(RawTransaction { timestamp: Some("2024-01-01T00:04:59Z"), ..raw() });
        assert!(within.is_ok());
        let beyond = parse(RawTransaction { timestamp: Some("2024-01-01T00:05:01Z"), ..raw() });
        assert_eq!(beyond.unwrap_err().code(), "FUTURE_TIMESTAMP");
    }
}
