//! Confirmed-fraud labels (chargebacks, investigations). They arrive days after the
//! transaction they judge, and only from `known_at` on may features use them.

use crate::ids::TransactionId;
use crate::transaction::{RejectReason, parse_timestamp};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// How long after a transaction its fraud label becomes known (investigations,
/// chargebacks), in days: the handbook's delay.
pub const LABEL_DELAY_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelEvent {
    pub transaction_id: TransactionId,
    pub fraud: bool,
    pub known_at: DateTime<Utc>,
}

impl LabelEvent {
    pub fn parse(
        transaction_id: Option<&str>,
        fraud: Option<&str>,
        known_at: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<LabelEvent, RejectReason> {
        let transaction_id =
            TransactionId::parse(transaction_id.ok_or(RejectReason::MissingField("transaction_id"))?)
                .map_err(|source| RejectReason::InvalidId { field: "transaction_id", source })?;
        let fraud = parse_flag(fraud.ok_or(RejectReason::MissingField("fraud"))?)?;
        let known_at =
            parse_timestamp("known_at", known_at.ok_or(RejectReason::MissingField("known_at"))?, now)?;
        Ok(LabelEvent { transaction_id, fraud, known_at })
    }
}

fn parse_flag(raw: &str) -> Result<bool, RejectReason> {
    match raw.trim() {
        "1" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(RejectReason::InvalidFlag(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_chargeback_is_parsed() {
        let l = LabelEvent::parse(Some("17"), Some("1"), Some("2018-04-08T00:00:31Z"), now()).unwrap();
        assert!(l.fraud);
        assert_eq!(l.transaction_id.as_str(), "17");
    }

    #[test]
    fn flags_must_be_boolean() {
        let e = LabelEvent::parse(Some("17"), Some("yes"), Some("2018-04-08T00:00:31Z"), now());
        assert_eq!(e.unwrap_err().code(), "INVALID_FLAG");
        let e = LabelEvent::parse(Some("17"), None, Some("2018-04-08T00:00:31Z"), now());
        assert_eq!(e.unwrap_err(), RejectReason::MissingField("fraud"));
    }
}
