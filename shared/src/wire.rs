//! The stream payload: one JSON object per Kinesis record / Kafka message.
//!
//! ```json
//! {"type":"transaction","transaction_id":"tx-1","customer_id":"c-596","terminal_id":"t-3156",
//!  "amount":"57.16","currency":"USD","timestamp":"2018-04-01T00:00:31Z"}
//! {"type":"label","transaction_id":"tx-1","fraud":true,"known_at":"2018-04-08T00:00:31Z"}
//! {"type":"transaction","channel":"transfer","transaction_id":"tx-2","payer_account":"acc-1",
//!  "payee_account":"acc-9","payee_name":"ACME Trading Ltd","payee_bic":"DEUTDEFF",
//!  "payee_country":"DE","amount":"9500.00","timestamp":"2018-04-01T00:02:00Z"}
//! {"type":"transaction","channel":"cash_deposit","transaction_id":"tx-3","account_id":"acc-1",
//!  "location":"branch-12","amount":"9000","timestamp":"2018-04-01T09:30:00Z"}
//! {"type":"customer","customer_id":"c-596","name":"Jane Doe","date_of_birth":"1980-02-29",
//!  "country":"GB","risk_rating":"high","accounts":["acc-1"],"updated_at":"2018-03-01T00:00:00Z"}
//! ```
//! `type` defaults to `transaction` and `channel` to `card` (today's card payments parse
//! unchanged). `amount` may be a JSON string or number; either way its text is parsed as a
//! decimal (never through f64). IDs may be strings or integers. `currency` defaults to the
//! deployment's currency. Unknown fields are ignored.

use crate::aml::{
    Bic, CashDirection, CashMovement, CountryCode, FieldError, FlowEvent, PartyName, RiskRating, Transfer,
};
use crate::customer::{CustomerProfile, MAX_PROFILE_ACCOUNTS};
use crate::ids::{AccountId, CustomerId, IdError, TerminalId, TransactionId};
use crate::label::LabelEvent;
use crate::money::{Amount, Currency};
use crate::privacy::Sealed;
use crate::transaction::{RawTransaction, RejectReason, Transaction, parse_timestamp};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One validated record from the stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A card payment (`channel: card`).
    Transaction(Transaction),
    Label(LabelEvent),
    /// A transfer or cash movement, monitored for money laundering and sanctions.
    Flow(Flow),
    /// A customer's profile: screened, and its accounts learn their owner.
    Customer(CustomerProfile),
}

/// A transfer or cash movement with its currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub event: FlowEvent,
    pub currency: Currency,
    /// The parties' account numbers and name, encrypted for compliance (`privacy`).
    #[serde(default)]
    pub sealed: SealedParties,
}

/// What of a payment's parties compliance may read back, sealed at the edge.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SealedParties {
    /// The payer's account (transfers) or the account (cash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Sealed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_account: Option<Sealed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_name: Option<Sealed>,
}

impl SealedParties {
    pub fn is_empty(&self) -> bool {
        self.account.is_none() && self.payee_account.is_none() && self.payee_name.is_none()
    }
}

impl Flow {
    /// `transfer`, `cash_deposit` or `cash_withdrawal`, as on the wire.
    pub fn channel(&self) -> &'static str {
        match &self.event {
            FlowEvent::Transfer(_) => "transfer",
            FlowEvent::Cash(c) => c.direction.as_str(),
        }
    }

    pub fn amount(&self) -> Amount {
        match &self.event {
            FlowEvent::Transfer(t) => t.amount,
            FlowEvent::Cash(c) => c.amount,
        }
    }
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
    #[serde(borrow)]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payer_account: Option<&'a RawValue>,
    #[serde(borrow)]
    payee_account: Option<&'a RawValue>,
    #[serde(borrow)]
    payee_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payee_bic: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payee_country: Option<Cow<'a, str>>,
    #[serde(borrow)]
    account_id: Option<&'a RawValue>,
    #[serde(borrow)]
    location: Option<&'a RawValue>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    date_of_birth: Option<Cow<'a, str>>,
    #[serde(borrow)]
    country: Option<Cow<'a, str>>,
    #[serde(borrow)]
    risk_rating: Option<Cow<'a, str>>,
    #[serde(borrow)]
    accounts: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    updated_at: Option<Cow<'a, str>>,
    // Sealed copies (`privacy`): the producer sends these instead of names, and with the
    // account numbers it has replaced by tokens.
    #[serde(borrow)]
    payer_account_sealed: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payee_account_sealed: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payee_name_sealed: Option<Cow<'a, str>>,
    #[serde(borrow)]
    account_sealed: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name_sealed: Option<Cow<'a, str>>,
}

fn sealed(field: &'static str, raw: Option<&str>) -> Result<Option<Sealed>, RejectReason> {
    raw.map(|r| Sealed::parse(r).map_err(|_| RejectReason::InvalidSealed(field))).transpose()
}

/// The text of a scalar JSON value: strings unescaped, numbers and booleans verbatim,
/// `null` as absent. Objects and arrays are malformed.
fn scalar<'a>(name: &str, raw: Option<&'a RawValue>) -> Result<Option<Cow<'a, str>>, RejectReason> {
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<Cow<'a, str>>(text).map(Some).map_err(|e| {
            RejectReason::Malformed(format!("field `{name}`: {}", crate::redact::json_error(&e)))
        }),
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
        let wire: Wire<'_> = serde_json::from_slice(bytes).map_err(|e| {
            RejectReason::Malformed(format!("not a JSON object: {}", crate::redact::json_error(&e)))
        })?;
        let transaction_id = scalar("transaction_id", wire.transaction_id)?;
        match (wire.kind.as_deref().unwrap_or("transaction"), wire.channel.as_deref().unwrap_or("card")) {
            ("transaction", "card") => {
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
            ("transaction", channel) => {
                flow(&wire, transaction_id.as_deref(), channel, default_currency, now).map(Event::Flow)
            }
            ("label", _) => {
                let fraud = scalar("fraud", wire.fraud)?;
                LabelEvent::parse(transaction_id.as_deref(), fraud.as_deref(), wire.known_at.as_deref(), now)
                    .map(Event::Label)
            }
            ("customer", _) => customer(&wire, now).map(Event::Customer),
            (other, _) => Err(RejectReason::UnknownType(other.to_owned())),
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
            Event::Flow(flow) => flow.event.id(),
            Event::Customer(profile) => &profile.id,
        }
    }

    /// `transaction`, `label` or `customer`, as on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Transaction(_) | Event::Flow(_) => "transaction",
            Event::Label(_) => "label",
            Event::Customer(_) => "customer",
        }
    }

    /// `card`, `transfer`, `cash_deposit`, `cash_withdrawal`; `None` for labels and profiles.
    pub fn channel(&self) -> Option<&'static str> {
        match self {
            Event::Transaction(_) => Some("card"),
            Event::Flow(flow) => Some(flow.channel()),
            Event::Label(_) | Event::Customer(_) => None,
        }
    }

    /// When the event happened: the transaction time, or when the label became known.
    pub fn time(&self) -> DateTime<Utc> {
        match self {
            Event::Transaction(tx) => tx.at,
            Event::Label(label) => label.known_at,
            Event::Flow(flow) => flow.event.at(),
            Event::Customer(profile) => profile.updated_at,
        }
    }
}

fn id<T>(
    field: &'static str,
    raw: Option<&str>,
    parse: fn(&str) -> Result<T, IdError>,
) -> Result<T, RejectReason> {
    parse(raw.ok_or(RejectReason::MissingField(field))?)
        .map_err(|source| RejectReason::InvalidId { field, source })
}

fn optional<T>(
    field: &'static str,
    raw: Option<&str>,
    parse: fn(&str) -> Result<T, FieldError>,
) -> Result<Option<T>, RejectReason> {
    raw.map(|r| parse(r).map_err(|source| RejectReason::InvalidField { field, source })).transpose()
}

/// A transfer or cash movement: the card fields' rules, with accounts instead of the
/// customer and terminal.
fn flow(
    wire: &Wire<'_>,
    transaction_id: Option<&str>,
    channel: &str,
    default_currency: Currency,
    now: DateTime<Utc>,
) -> Result<Flow, RejectReason> {
    let direction = match channel {
        "transfer" => None,
        "cash_deposit" => Some(CashDirection::Deposit),
        "cash_withdrawal" => Some(CashDirection::Withdrawal),
        other => return Err(RejectReason::UnknownChannel(other.to_owned())),
    };
    let id = id("transaction_id", transaction_id, TransactionId::parse)?;
    let amount = Amount::parse(
        scalar("amount", wire.amount)?.as_deref().ok_or(RejectReason::MissingField("amount"))?,
    )?;
    let currency = match wire.currency.as_deref() {
        Some(code) => Currency::parse(code)?,
        None => default_currency,
    };
    let at = parse_timestamp(
        "timestamp",
        wire.timestamp.as_deref().ok_or(RejectReason::MissingField("timestamp"))?,
        now,
    )?;
    let event = match direction {
        None => FlowEvent::Transfer(Transfer {
            id,
            payer: id_of("payer_account", wire.payer_account)?,
            payee: id_of("payee_account", wire.payee_account)?,
            amount,
            at,
            payee_name: optional("payee_name", wire.payee_name.as_deref(), PartyName::parse)?,
            payee_bic: optional("payee_bic", wire.payee_bic.as_deref(), Bic::parse)?,
            payee_country: optional("payee_country", wire.payee_country.as_deref(), CountryCode::parse)?,
        }),
        Some(direction) => {
            let location = scalar("location", wire.location)?;
            FlowEvent::Cash(CashMovement {
                id,
                account: id_of("account_id", wire.account_id)?,
                direction,
                amount,
                at,
                location: location
                    .as_deref()
                    .map(|l| {
                        TerminalId::parse(l)
                            .map_err(|source| RejectReason::InvalidId { field: "location", source })
                    })
                    .transpose()?,
            })
        }
    };
    let payer_sealed = match &event {
        FlowEvent::Transfer(_) => wire.payer_account_sealed.as_deref(),
        FlowEvent::Cash(_) => wire.account_sealed.as_deref(),
    };
    let sealed = SealedParties {
        account: sealed(
            if direction.is_none() { "payer_account_sealed" } else { "account_sealed" },
            payer_sealed,
        )?,
        payee_account: sealed("payee_account_sealed", wire.payee_account_sealed.as_deref())?,
        payee_name: sealed("payee_name_sealed", wire.payee_name_sealed.as_deref())?,
    };
    Ok(Flow { event, currency, sealed })
}

/// An account id that may arrive as a JSON string or number.
fn id_of(field: &'static str, raw: Option<&RawValue>) -> Result<AccountId, RejectReason> {
    id(field, scalar(field, raw)?.as_deref(), AccountId::parse)
}

fn customer(wire: &Wire<'_>, now: DateTime<Utc>) -> Result<CustomerProfile, RejectReason> {
    let customer = id("customer_id", scalar("customer_id", wire.customer_id)?.as_deref(), CustomerId::parse)?;
    let name = optional("name", wire.name.as_deref(), PartyName::parse)?;
    let date_of_birth = wire
        .date_of_birth
        .as_deref()
        .map(|d| {
            NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                .map_err(|_| RejectReason::InvalidDate { field: "date_of_birth", value: d.to_owned() })
        })
        .transpose()?;
    let country = optional("country", wire.country.as_deref(), CountryCode::parse)?;
    let risk = optional("risk_rating", wire.risk_rating.as_deref(), RiskRating::parse)?.unwrap_or_default();
    let raw_accounts = wire.accounts.as_deref().unwrap_or_default();
    if raw_accounts.len() > MAX_PROFILE_ACCOUNTS {
        return Err(RejectReason::TooMany { field: "accounts", max: MAX_PROFILE_ACCOUNTS });
    }
    let mut accounts = Vec::with_capacity(raw_accounts.len());
    for raw in raw_accounts {
        let account = id_of("accounts", Some(raw))?;
        if !accounts.contains(&account) {
            accounts.push(account);
        }
    }
    let updated_at = match wire.updated_at.as_deref() {
        Some(raw) => parse_timestamp("updated_at", raw, now)?,
        None => return Err(RejectReason::MissingField("updated_at")),
    };
    let sealed_name = sealed("name_sealed", wire.name_sealed.as_deref())?;
    let id = CustomerProfile::content_id(
        &customer,
        name.as_ref().map(PartyName::as_str).or(sealed_name.as_ref().map(Sealed::as_str)),
        date_of_birth,
        country,
        risk,
        &accounts,
        updated_at,
    );
    Ok(CustomerProfile {
        id,
        customer,
        name,
        sealed_name,
        date_of_birth,
        country,
        risk,
        accounts,
        updated_at,
    })
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
    #[serde(rename = "transaction")]
    Transfer {
        channel: &'static str,
        transaction_id: &'a str,
        payer_account: &'a str,
        payee_account: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        payee_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        payee_bic: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        payee_country: Option<&'a str>,
        amount: String,
        currency: &'a str,
        timestamp: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        payer_account_sealed: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        payee_account_sealed: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        payee_name_sealed: Option<&'a str>,
    },
    #[serde(rename = "transaction")]
    Cash {
        channel: &'static str,
        transaction_id: &'a str,
        account_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        location: Option<&'a str>,
        amount: String,
        currency: &'a str,
        timestamp: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        account_sealed: Option<&'a str>,
    },
    Customer {
        customer_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        date_of_birth: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        country: Option<&'a str>,
        risk_rating: &'static str,
        accounts: Vec<&'a str>,
        updated_at: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        name_sealed: Option<&'a str>,
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
            Event::Flow(flow) => match &flow.event {
                FlowEvent::Transfer(t) => WireOut::Transfer {
                    channel: flow.channel(),
                    transaction_id: t.id.as_str(),
                    payer_account: t.payer.as_str(),
                    payee_account: t.payee.as_str(),
                    // A sealed name travels instead of the name, never beside it.
                    payee_name: match flow.sealed.payee_name {
                        Some(_) => None,
                        None => t.payee_name.as_ref().map(PartyName::as_str),
                    },
                    payee_bic: t.payee_bic.as_ref().map(Bic::as_str),
                    payee_country: t.payee_country.as_ref().map(CountryCode::as_str),
                    amount: t.amount.to_string(),
                    currency: flow.currency.as_str(),
                    timestamp: ts(t.at),
                    payer_account_sealed: flow.sealed.account.as_ref().map(Sealed::as_str),
                    payee_account_sealed: flow.sealed.payee_account.as_ref().map(Sealed::as_str),
                    payee_name_sealed: flow.sealed.payee_name.as_ref().map(Sealed::as_str),
                },
                FlowEvent::Cash(c) => WireOut::Cash {
                    channel: flow.channel(),
                    transaction_id: c.id.as_str(),
                    account_id: c.account.as_str(),
                    location: c.location.as_ref().map(TerminalId::as_str),
                    amount: c.amount.to_string(),
                    currency: flow.currency.as_str(),
                    timestamp: ts(c.at),
                    account_sealed: flow.sealed.account.as_ref().map(Sealed::as_str),
                },
            },
            Event::Customer(p) => WireOut::Customer {
                customer_id: p.customer.as_str(),
                name: match p.sealed_name {
                    Some(_) => None,
                    None => p.name.as_ref().map(PartyName::as_str),
                },
                date_of_birth: p.date_of_birth.map(|d| d.to_string()),
                country: p.country.as_ref().map(CountryCode::as_str),
                risk_rating: p.risk.as_str(),
                accounts: p.accounts.iter().map(AccountId::as_str).collect(),
                updated_at: ts(p.updated_at),
                name_sealed: p.sealed_name.as_ref().map(Sealed::as_str),
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
            r#"{"type":"transaction","channel":"transfer","transaction_id":"tx-2","payer_account":"acc-1","payee_account":"acc-9","payee_name":"ACME Trading Ltd","payee_bic":"DEUTDEFF","payee_country":"DE","amount":"9500","currency":"USD","timestamp":"2018-04-01T00:02:00Z"}"#,
            r#"{"type":"transaction","channel":"transfer","transaction_id":"tx-2","payer_account":"acc-1","payee_account":"acc-9","amount":"1","currency":"USD","timestamp":"2018-04-01T00:02:00Z"}"#,
            r#"{"type":"transaction","channel":"cash_deposit","transaction_id":"tx-3","account_id":"acc-1","location":"branch-12","amount":"9000","currency":"USD","timestamp":"2018-04-01T09:30:00Z"}"#,
            r#"{"type":"transaction","channel":"cash_withdrawal","transaction_id":"tx-4","account_id":"acc-1","amount":"20","currency":"USD","timestamp":"2018-04-01T09:30:00Z"}"#,
            r#"{"type":"customer","customer_id":"c-596","name":"Jane Doe","date_of_birth":"1980-02-29","country":"GB","risk_rating":"high","accounts":["acc-1","acc-2"],"updated_at":"2018-03-01T00:00:00Z"}"#,
            r#"{"type":"customer","customer_id":"c-597","risk_rating":"low","accounts":[],"updated_at":"2018-03-01T00:00:00Z"}"#,
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
            (
                r#"{"channel":"wire","transaction_id":"1","amount":"1","timestamp":"2018-04-01T00:00:31Z"}"#,
                "UNKNOWN_CHANNEL",
            ),
            (
                r#"{"channel":"transfer","transaction_id":"1","payer_account":"a","amount":"1","timestamp":"2018-04-01T00:00:31Z"}"#,
                "MISSING_FIELD",
            ),
            (
                r#"{"channel":"transfer","transaction_id":"1","payer_account":"a","payee_account":"b","payee_bic":"DEUTDE","amount":"1","timestamp":"2018-04-01T00:00:31Z"}"#,
                "INVALID_FIELD",
            ),
            (
                r#"{"channel":"transfer","transaction_id":"1","payer_account":"a","payee_account":"b","payee_country":"Germany","amount":"1","timestamp":"2018-04-01T00:00:31Z"}"#,
                "INVALID_FIELD",
            ),
            (
                r#"{"channel":"cash_deposit","transaction_id":"1","account_id":"a b","amount":"1","timestamp":"2018-04-01T00:00:31Z"}"#,
                "INVALID_ID",
            ),
            (
                r#"{"channel":"cash_deposit","transaction_id":"1","account_id":"a","amount":"-5","timestamp":"2018-04-01T00:00:31Z"}"#,
                "INVALID_AMOUNT",
            ),
            (
                r#"{"type":"customer","customer_id":"c","risk_rating":"extreme","updated_at":"2018-04-01T00:00:31Z"}"#,
                "INVALID_FIELD",
            ),
            (
                r#"{"type":"customer","customer_id":"c","date_of_birth":"29/02/1980","updated_at":"2018-04-01T00:00:31Z"}"#,
                "INVALID_DATE",
            ),
            (r#"{"type":"customer","customer_id":"c"}"#, "MISSING_FIELD"),
            (
                r#"{"type":"customer","customer_id":"c","accounts":"a","updated_at":"2018-04-01T00:00:31Z"}"#,
                "MALFORMED",
            ),
        ];
        for (json, code) in cases {
            assert_eq!(parse(json).unwrap_err().code(), code, "{json}");
        }
    }

    #[test]
    fn a_profile_lists_at_most_32_accounts_and_its_key_follows_its_content() {
        let profile = |accounts: &str, risk: &str| {
            parse(&format!(
                r#"{{"type":"customer","customer_id":"c","risk_rating":"{risk}","accounts":[{accounts}],"updated_at":"2018-04-01T00:00:31Z"}}"#
            ))
        };
        let many: Vec<String> = (0..33).map(|i| format!("\"a{i}\"")).collect();
        assert_eq!(profile(&many.join(","), "low").unwrap_err().code(), "TOO_MANY");
        let key = |e: Event| e.subject().clone();
        let low = key(profile(r#""a","b""#, "low").unwrap());
        assert_eq!(low, key(profile(r#""a","b","a""#, "low").unwrap()), "a repeated account is one");
        assert_ne!(low, key(profile(r#""a","b""#, "high").unwrap()), "a changed profile is screened again");
        assert!(low.as_str().starts_with("profile:"));
    }

    #[test]
    fn a_card_payment_may_name_its_channel() {
        let e = parse(
            r#"{"channel":"card","transaction_id":"7","customer_id":"1","terminal_id":"2","amount":"3","timestamp":"2018-04-01T00:00:31Z"}"#,
        );
        assert!(matches!(e, Ok(Event::Transaction(_))));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = Event::from_json(&bytes, Currency::USD, now());
        }
    }
}
