//! DynamoDB: one table keyed by `pk`, items expiring through its `ttl` attribute. Feature
//! state and decision records ([`DynamoStateStore`]) and the alert ledger
//! ([`DynamoAlertLedger`]) share it under their own key prefixes.

mod capacity;
mod ledger;
mod state;
mod writes;

pub use capacity::Usage;
pub use ledger::DynamoAlertLedger;
pub use state::{DynamoStateStore, PARKED, PARKED_INDEX};

use super::describe;
use crate::alert::DeliveryError;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// The table's only key attribute.
pub const PK: &str = "pk";
/// The table's time-to-live attribute (epoch seconds).
pub const TTL: &str = "ttl";

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

fn delivery(e: impl std::error::Error + 'static) -> DeliveryError {
    DeliveryError { service: "DynamoDB", message: describe(&e) }
}
