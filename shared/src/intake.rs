//! Intake: events as upstream systems hand them to the producer (a REST request body,
//! batch files dropped on S3), validated before they reach the stream.

mod file;

pub use file::{CHUNK_BYTES, CHUNK_ITEMS, FileEnd, FileFormat, FileLimits, FileRefusal, Refusal, read_file};

use crate::alert::DeliveryError;
use crate::batch::Quarantined;
use crate::money::Currency;
use crate::transaction::RejectReason;
use crate::wire::Event;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use std::future::Future;

/// The stream the producer writes to (Kinesis or Kafka).
pub trait Publisher: Send + Sync {
    /// Publishes all `events` or fails; a failure may leave some published, which the
    /// scorer's idempotency absorbs when the caller retries.
    fn publish(&self, events: &[Event]) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// An in-process stream for tests, benches and the CLI: keeps what is published, or
/// refuses everything while `down` is set.
#[derive(Debug, Default)]
pub struct MemoryStream {
    events: std::sync::Mutex<Vec<Event>>,
    pub down: std::sync::atomic::AtomicBool,
}

impl MemoryStream {
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Publisher for MemoryStream {
    async fn publish(&self, events: &[Event]) -> Result<(), DeliveryError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(DeliveryError { service: "stream", message: "unavailable".into() });
        }
        self.events.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(events);
        Ok(())
    }
}

/// One input item the producer refused: where it was, why, and what it held.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// Index in a request body, line number in a file.
    pub item: u64,
    pub reason: RejectReason,
    pub raw: Vec<u8>,
}

/// A validated input: the events to publish and what was refused.
#[derive(Debug, Default)]
pub struct Intake {
    pub events: Vec<Event>,
    /// Item index (or line) of each event.
    pub items: Vec<u64>,
    pub refused: Vec<Refused>,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("request body must be a JSON object or an array of objects: {0}")]
    Body(String),
    /// The input itself failed (a dropped connection), not its content: worth a retry.
    #[error("cannot read {name}")]
    Read { name: String, source: std::io::Error },
    /// The reader stopped without an answer (it panicked or was cancelled).
    #[error("reading {0} was interrupted: {1}")]
    Interrupted(String, String),
}

/// The producer's answer for one item of a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum ItemResult {
    Accepted { item: u64, transaction_id: String },
    Rejected { item: u64, code: &'static str, reason: String },
}

impl Intake {
    /// Items held, accepted or refused.
    pub fn len(&self) -> usize {
        self.events.len() + self.refused.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&mut self, item: u64, raw: &[u8], parsed: Result<Event, RejectReason>) {
        match parsed {
            Ok(event) => {
                self.events.push(event);
                self.items.push(item);
            }
            Err(reason) => self.refused.push(Refused { item, reason, raw: raw.to_vec() }),
        }
    }

    /// Per-item results in input order.
    pub fn results(&self) -> Vec<ItemResult> {
        let accepted = self
            .items
            .iter()
            .zip(&self.events)
            .map(|(&item, e)| ItemResult::Accepted { item, transaction_id: e.subject().as_str().to_owned() });
        let rejected = self.refused.iter().map(|r| ItemResult::Rejected {
            item: r.item,
            code: r.reason.code(),
            reason: r.reason.to_string(),
        });
        let mut all: Vec<ItemResult> = accepted.chain(rejected).collect();
        all.sort_by_key(|r| match r {
            ItemResult::Accepted { item, .. } | ItemResult::Rejected { item, .. } => *item,
        });
        all
    }

    /// The refused items as quarantine records, positioned `<source>#<item>`.
    pub fn quarantine(&self, source: &str) -> Vec<Quarantined> {
        self.refused
            .iter()
            .map(|r| Quarantined {
                position: format!("{source}#{}", r.item),
                code: r.reason.code(),
                reason: r.reason.to_string(),
                payload: r.raw.clone(),
            })
            .collect()
    }
}

/// A `POST /transactions` body: one event object, or an array of them.
pub fn from_body(body: &[u8], currency: Currency, now: DateTime<Utc>) -> Result<Intake, IntakeError> {
    let text = std::str::from_utf8(body).map_err(|e| IntakeError::Body(e.to_string()))?;
    let items: Vec<&RawValue> = match text.trim_start().as_bytes().first() {
        Some(b'[') => serde_json::from_str(text).map_err(|e| IntakeError::Body(e.to_string()))?,
        Some(b'{') => vec![serde_json::from_str(text).map_err(|e| IntakeError::Body(e.to_string()))?],
        _ => return Err(IntakeError::Body("expected `{` or `[`".into())),
    };
    let mut intake = Intake::default();
    for (i, raw) in items.into_iter().enumerate() {
        let raw = raw.get().as_bytes();
        intake.push(i as u64, raw, Event::from_json(raw, currency, now));
    }
    Ok(intake)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }

    const TX: &str = r#"{"transaction_id":"t1","customer_id":"c1","terminal_id":"p1","amount":"12.50","timestamp":"2018-04-01T10:00:00Z"}"#;

    #[test]
    fn a_body_is_one_event_or_an_array_and_each_item_gets_a_result() {
        let one = from_body(TX.as_bytes(), Currency::USD, now()).unwrap();
        assert_eq!(one.events.len(), 1);
        let many = format!(r#"[{TX}, {{"transaction_id":"t2"}}, 7]"#);
        let many = from_body(many.as_bytes(), Currency::USD, now()).unwrap();
        let results = many.results();
        assert_eq!(results[0], ItemResult::Accepted { item: 0, transaction_id: "t1".into() });
        assert!(matches!(&results[1], ItemResult::Rejected { item: 1, code: "MISSING_FIELD", .. }));
        assert!(matches!(&results[2], ItemResult::Rejected { item: 2, code: "MALFORMED", .. }));
        assert_eq!(many.quarantine("api")[1].position, "api#2");
        assert!(from_body(b"not json", Currency::USD, now()).is_err());
    }
}
