//! The stream payload: one JSON object per Kinesis record / Kafka message.
//!
//! ```json
//! {"type":"transaction","transaction_id":"tx-1","customer_id":"c-596","terminal_id":"t-3156",
//!  "amount":"57.16","currency":"USD","timestamp":"2018-04-01T00:00:31Z"}
//! {"type":"label","transaction_id":"tx-1","fraud":true,"known_at":"2018-04-08T00:00:31Z"}
//! ```
//! `type` defaults to `transaction`. `amount` may be a JSON string or number; either way
//! its text is parsed as a decimal (never through f64). IDs may be strings or integers.
//! `currency` defaults to the deployment's currency. Unknown fields are ignored.

use crate::label::LabelEvent;
use crate::money::Currency;
use crate::transaction::{RawTransaction, RejectReason, Transaction};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One validated record from the stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Transaction(Transaction),
    Label(LabelEvent),
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    transaction_id: Option<&'a RawValue>,
    #[serde(borrow)]
    customer_id: Option<&'a RawValue>,
    #[serde(borrow)]
    terminal_id: Option<&'a RawValue>,
    #[serde(borrow)]
    amount: Option<&'a RawValue>,
    #[serde(borrow)]
    currency: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    fraud: Option<&'a RawValue>,
    #[serde(borrow)]
    known_at: Option<Cow<'a, str>>,
}

/// The text of a scalar JSON value: strings unescaped, numbers and booleans verbatim,
/// `null` as absent. Objects and arrays are malformed.
fn scalar<'a>(name: &str, raw: Option<&'a RawValue>) -> Result<Option<Cow<'a, str>>, RejectReason> {
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<Cow<'a, str>>(text)
            .map(Some)
            .map_err(|e| RejectReason::Malformed(format!("field `{name}`: {e}"))),
        Some(b'n') => Ok(None),
        Some(b'{' | b'[') | None => {
            Err(RejectReason::Malformed(format!("field `{name}` must be a string or number")))
        }
        Some(_) => Ok(Some(Cow::Borrowed(text))),
    }
}

impl Event {
    pub fn from_json(
        bytes: &[u8],
        default_currency: Currency,
        now: DateTime<Utc>,
    ) -> Result<Event, RejectReason> {
        let wire: Wire<'_> = serde_json::from_slice(bytes)
            .map_err(|e| RejectReason::Malformed(format!("not a JSON object: {e}")))?;
        let transaction_id = scalar("transaction_id", wire.transaction_id)?;
        match wire.kind.as_deref().unwrap_or("transaction") {
            "transaction" => {
                let customer_id = scalar("customer_id", wire.customer_id)?;
                let terminal_id = scalar("terminal_id", wire.terminal_id)?;
                let amount = scalar("amount", wire.amount)?;
                let raw = RawTransaction {
                    transaction_id: transaction_id.as_deref(),
                    customer_id: customer_id.as_deref(),
                    terminal_id: terminal_id.as_deref(),
                    amount: amount.as_deref(),
                    currency: wire.currency.as_deref(),
                    timestamp: wire.timestamp.as_deref(),
                };
                Transaction::parse(raw, default_currency, now).map(Event::Transaction)
            }
            "label" => {
                let fraud = scalar("fraud", wire.fraud)?;
                LabelEvent::parse(transaction_id.as_deref(), fraud.as_deref(), wire.known_at.as_deref(), now)
                    .map(Event::Label)
            }
            other => Err(RejectReason::UnknownType(other.to_owned())),
        }
    }

    /// The JSON wire form, the inverse of [`Event::from_json`].
    pub fn to_json(&self) -> String {
        // Serialising plain data into a String cannot fail.
        serde_json::to_string(&WireOut::from(self)).unwrap_or_default()
    }

    /// The transaction the event is about.
    pub fn subject(&self) -> &crate::ids::TransactionId {
        match self {
            Event::Transaction(tx) => &tx.id,
            Event::Label(label) => &label.transaction_id,
        }
    }

    /// `transaction` or `label`, as on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Transaction(_) => "transaction",
            Event::Label(_) => "label",
        }
    }

    /// When the event happened: the transaction time, or when the label became known.
    pub fn time(&self) -> DateTime<Utc> {
        match self {
            Event::Transaction(tx) => tx.at,
            Event::Label(label) => label.known_at,
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireOut<'a> {
    Transaction {
        transaction_id: &'a str,
        customer_id: &'a str,
        terminal_id: &'a str,
        amount: String,
        currency: &'a str,
        timestamp: String,
    },
    Label {
        transaction_id: &'a str,
        fraud: bool,
        known_at: String,
    },
}

impl<'a> From<&'a Event> for WireOut<'a> {
    fn from(event: &'a Event) -> Self {
        let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        match event {
            Event::Transaction(tx) => WireOut::Transaction {
                transaction_id: tx.id.as_str(),
                customer_id: tx.customer.as_str(),
                terminal_id: tx.terminal.as_str(),
                amount: tx.amount.to_string(),
                currency: tx.currency.as_str(),
                timestamp: ts(tx.at),
            },
            Event::Label(l) => WireOut::Label {
                transaction_id: l.transaction_id.as_str(),
                fraud: l.fraud,
                known_at: ts(l.known_at),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }

    fn parse(json: &str) -> Result<Event, RejectReason> {
        Event::from_json(json.as_bytes(), Currency::USD, now())
    }

    #[test]
    fn a_transaction_with_numeric_fields_is_parsed_exactly() {
        let e = parse(
            r#"{"transaction_id":7,"customer_id":596,"terminal_id":"t\u0031","amount":0.1,"timestamp":"2018-04-01T00:00:31Z","extra":[1]}"#,
        )
        .unwrap();
        let Event::Transaction(tx) = e else { panic!("not a transaction") };
        assert_eq!(tx.id.as_str(), "7");
        assert_eq!(tx.terminal.as_str(), "t1");
        assert_eq!(tx.amount.value(), rust_decimal::Decimal::new(1, 1));
    }

    #[test]
    fn a_label_is_parsed() {
        let e =
            parse(r#"{"type":"label","transaction_id":"7","fraud":true,"known_at":"2018-04-08T00:00:31Z"}"#);
        assert!(matches!(e, Ok(Event::Label(LabelEvent { fraud: true, .. }))));
    }

    #[test]
    fn wire_form_round_trips() {
        for json in [
            r#"{"type":"transaction","transaction_id":"tx-1","customer_id":"c-596","terminal_id":"t-3156","amount":"57.16","currency":"EUR","timestamp":"2018-04-01T00:00:31Z"}"#,
            r#"{"type":"label","transaction_id":"tx-1","fraud":false,"known_at":"2018-04-08T00:00:31Z"}"#,
        ] {
            let event = parse(json).unwrap();
            assert_eq!(event.to_json(), json);
        }
    }

    #[test]
    fn bad_payloads_are_rejected_with_reasons() {
        let cases = [
            ("not json", "MALFORMED"),
            ("[1,2]", "MALFORMED"),
            (r#"{"type":"refund"}"#, "UNKNOWN_TYPE"),
            (r#"{"transaction_id":{"a":1}}"#, "MALFORMED"),
            (
                r#"{"transaction_id":"1","customer_id":"2","terminal_id":"3","amount":null,"timestamp":"2018-04-01T00:00:31Z"}"#,
                "MISSING_FIELD",
            ),
            (
                r#"{"transaction_id":"1","customer_id":"2","terminal_id":"3","amount":"1e400","timestamp":"2018-04-01T00:00:31Z"}"#,
                "INVALID_AMOUNT",
            ),
            (
                r#"{"type":"label","transaction_id":"1","fraud":"maybe","known_at":"2018-04-01T00:00:31Z"}"#,
                "INVALID_FLAG",
            ),
        ];
        for (json, code) in cases {
            assert_eq!(parse(json).unwrap_err().code(), code, "{json}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = Event::from_json(&bytes, Currency::USD, now());
        }
    }
}
