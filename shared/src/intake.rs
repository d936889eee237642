//! Intake: events as upstream systems hand them to the producer (a REST request body,
//! batch files dropped on S3), validated before they reach the stream.

use crate::alert::DeliveryError;
use crate::batch::Quarantined;
use crate::csvio::{self, CsvFile, FileError, LABEL_COLUMNS, TRANSACTION_COLUMNS};
use crate::money::Currency;
use crate::transaction::RejectReason;
use crate::wire::Event;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use std::future::Future;
use std::io::Read;

/// The stream the producer writes to (Kinesis or Kafka).
pub trait Publisher: Send + Sync {
    /// Publishes all `events` or fails; a failure may leave some published, which the
    /// scorer's idempotency absorbs when the caller retries.
    fn publish(&self, events: &[Event]) -> impl Future<Output = Result<(), DeliveryError>> + Send;
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
    #[error(transparent)]
    File(#[from] FileError),
    #[error(
        "unsupported batch file `{0}`: expected .csv, .jsonl or .ndjson (optionally .gz), .parquet or .avro"
    )]
    Format(String),
    #[error("{0} is not a readable {1} file: {2}")]
    Unreadable(String, &'static str, String),
}

/// The producer's answer for one item of a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum ItemResult {
    Accepted { item: u64, transaction_id: String },
    Rejected { item: u64, code: &'static str, reason: String },
}

impl Intake {
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

/// A batch file, by its name: CSV (transactions or labels, by header) or JSON lines,
/// either optionally gzip-compressed; Parquet or Avro (transactions, compressed inside).
pub fn from_file(
    name: &str,
    bytes: Vec<u8>,
    currency: Currency,
    now: DateTime<Utc>,
) -> Result<Intake, IntakeError> {
    let plain = name.strip_suffix(".gz").unwrap_or(name);
    let io = |source| FileError::Io { path: name.to_owned(), source };
    if plain.ends_with(".csv") {
        from_csv(name, bytes, currency, now)
    } else if plain.ends_with(".jsonl") || plain.ends_with(".ndjson") {
        let mut text = Vec::new();
        csvio::decompressed(std::io::Cursor::new(bytes))
            .and_then(|mut r| r.read_to_end(&mut text))
            .map_err(io)?;
        let mut intake = Intake::default();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            intake.push(i as u64 + 1, line, Event::from_json(line, currency, now));
        }
        Ok(intake)
    } else if plain.ends_with(".parquet") {
        from_parquet(name, bytes, currency, now)
    } else if plain.ends_with(".avro") {
        from_avro(name, bytes, currency, now)
    } else {
        Err(IntakeError::Format(name.to_owned()))
    }
}

/// Transactions from named text fields (Parquet columns, Avro record fields), by name:
/// the wire's (`amount`, `timestamp`) or the handbook's (`tx_amount`, `tx_datetime`).
#[cfg(feature = "aws")]
fn from_named_rows(rows: &[Vec<(String, String)>], currency: Currency, now: DateTime<Utc>) -> Intake {
    let mut intake = Intake::default();
    for (i, row) in rows.iter().enumerate() {
        let get =
            |names: &[&str]| row.iter().find(|(n, _)| names.contains(&n.as_str())).map(|(_, v)| v.as_str());
        let raw = crate::transaction::RawTransaction {
            transaction_id: get(&["transaction_id"]),
            customer_id: get(&["customer_id"]),
            terminal_id: get(&["terminal_id"]),
            amount: get(&["amount", "tx_amount"]),
            currency: get(&["currency"]),
            timestamp: get(&["timestamp", "tx_datetime", "tx_time"]),
        };
        let text = row.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(",");
        let parsed = crate::transaction::Transaction::parse(raw, currency, now).map(Event::Transaction);
        intake.push(i as u64 + 1, text.as_bytes(), parsed);
    }
    intake
}

#[cfg(feature = "aws")]
fn from_parquet(
    name: &str,
    bytes: Vec<u8>,
    currency: Currency,
    now: DateTime<Utc>,
) -> Result<Intake, IntakeError> {
    let rows = crate::archive::parquet::text_rows(bytes)
        .map_err(|e| IntakeError::Unreadable(name.to_owned(), "Parquet", e.to_string()))?;
    Ok(from_named_rows(&rows, currency, now))
}

/// An Avro object container file of transaction records.
#[cfg(feature = "aws")]
fn from_avro(
    name: &str,
    bytes: Vec<u8>,
    currency: Currency,
    now: DateTime<Utc>,
) -> Result<Intake, IntakeError> {
    use apache_avro::types::Value;
    fn text(value: Value) -> Option<String> {
        let millis = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339());
        match value {
            Value::Null => None,
            Value::String(s) | Value::Enum(_, s) => Some(s),
            Value::Union(_, inner) => text(*inner),
            Value::Int(n) => Some(n.to_string()),
            Value::Long(n) => Some(n.to_string()),
            Value::Float(x) => Some(x.to_string()),
            Value::Double(x) => Some(x.to_string()),
            Value::TimestampMillis(ms) => millis(ms),
            Value::TimestampMicros(us) => millis(us.div_euclid(1000)),
            // Bytes, decimals in bytes, nested types: not a transaction field.
            _ => None,
        }
    }
    let unreadable = |e: apache_avro::Error| IntakeError::Unreadable(name.to_owned(), "Avro", e.to_string());
    let reader = apache_avro::Reader::new(&bytes[..]).map_err(unreadable)?;
    let mut rows = Vec::new();
    for value in reader {
        let fields = match value.map_err(unreadable)? {
            Value::Record(fields) => fields,
            // Not a record: no field can be found, so the row is refused as such.
            _ => Vec::new(),
        };
        rows.push(fields.into_iter().filter_map(|(n, v)| text(v).map(|t| (n, t))).collect());
    }
    Ok(from_named_rows(&rows, currency, now))
}

#[cfg(not(feature = "aws"))]
fn from_avro(name: &str, _: Vec<u8>, _: Currency, _: DateTime<Utc>) -> Result<Intake, IntakeError> {
    Err(IntakeError::Format(name.to_owned()))
}

#[cfg(not(feature = "aws"))]
fn from_parquet(name: &str, _: Vec<u8>, _: Currency, _: DateTime<Utc>) -> Result<Intake, IntakeError> {
    Err(IntakeError::Format(name.to_owned()))
}

fn from_csv(
    name: &str,
    bytes: Vec<u8>,
    currency: Currency,
    now: DateTime<Utc>,
) -> Result<Intake, IntakeError> {
    // Shared, not copied, between the two header attempts.
    let bytes: std::sync::Arc<[u8]> = bytes.into();
    let open = |required: &[&'static str], optional: &[&'static str]| {
        let input = csvio::decompressed(std::io::Cursor::new(bytes.clone()))
            .map_err(|source| FileError::Io { path: name.to_owned(), source })?;
        CsvFile::from_reader(name.to_owned(), input, required, optional)
    };
    let mut intake = Intake::default();
    // A labels file (chargeback feed) has no customer column; anything else must be transactions.
    match open(&TRANSACTION_COLUMNS, &["currency"]) {
        Ok(file) => file.for_each(|line, fields| {
            let parsed = csvio::transaction_from_row(fields, currency, now).map(Event::Transaction);
            intake.push(line, &row_text(fields), parsed)
        })?,
        Err(missing @ FileError::MissingColumn { .. }) => match open(&LABEL_COLUMNS, &[]) {
            Ok(file) => file.for_each(|line, fields| {
                intake.push(line, &row_text(fields), csvio::label_from_row(fields, now).map(Event::Label))
            })?,
            // Neither kind: the transactions error names what is missing.
            Err(_) => return Err(missing.into()),
        },
        Err(e) => return Err(e.into()),
    }
    Ok(intake)
}

/// The fields of a refused row, comma-joined, for the quarantine.
fn row_text(fields: &[Option<&str>]) -> Vec<u8> {
    // Optional columns the file does not have are not part of the row.
    let present = fields.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    fields[..present].iter().map(|f| f.unwrap_or_default()).collect::<Vec<_>>().join(",").into_bytes()
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

    #[test]
    fn batch_files_are_read_by_format_and_bad_rows_kept() {
        let csv = "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount\n\
                   1,2018-04-01 00:00:31,596,3156,57.16\n2,2018-04-01 00:00:40,596,3156,-1\n";
        let got = from_file("in/a.csv", csv.into(), Currency::USD, now()).unwrap();
        assert_eq!((got.events.len(), got.refused.len()), (1, 1));
        assert_eq!(got.refused[0].item, 3, "line number");
        assert_eq!(got.refused[0].raw, b"2,2018-04-01 00:00:40,596,3156,-1");

        let labels = "transaction_id,tx_fraud,known_at\n1,1,2018-04-08 00:00:31\n";
        let got = from_file("in/cb.csv", labels.into(), Currency::USD, now()).unwrap();
        assert!(matches!(got.events[0], Event::Label(_)));

        let lines = format!("{TX}\n\n{{oops\n");
        let got = from_file("in/x.jsonl", lines.into(), Currency::USD, now()).unwrap();
        assert_eq!((got.events.len(), got.refused.len()), (1, 1));
        assert_eq!(got.refused[0].item, 3);

        assert!(matches!(from_file("in/x.xlsx", vec![], Currency::USD, now()), Err(IntakeError::Format(_))));
    }

    #[cfg(feature = "aws")]
    #[test]
    fn parquet_files_are_read_by_column_name() {
        use crate::decision::{Decision, Verdict};
        let tx = crate::test_support::tx("t7", "c1", "p1", "20.5", "2018-04-01T10:00:00Z");
        let d =
            Decision { transaction_id: tx.id.clone(), score: 0.1, verdict: Verdict::Accept, reasons: vec![] };
        let bytes = crate::archive::parquet::decisions(&[(&tx, &d)]).unwrap();
        let got = from_file("in/lake-export.parquet", bytes, Currency::USD, now()).unwrap();
        assert_eq!(got.events, vec![Event::Transaction(tx)]);
        assert!(matches!(
            from_file("in/x.parquet", b"PAR1".to_vec(), Currency::USD, now()),
            Err(IntakeError::Unreadable(_, "Parquet", _))
        ));
    }

    #[cfg(feature = "aws")]
    #[test]
    fn avro_files_are_read_by_field_name_and_bad_records_refused() {
        use apache_avro::types::Record;
        let schema = apache_avro::Schema::parse_str(
            r#"{"type":"record","name":"tx","fields":[
                {"name":"transaction_id","type":"string"},{"name":"customer_id","type":"string"},
                {"name":"terminal_id","type":"string"},{"name":"amount","type":"double"},
                {"name":"timestamp","type":{"type":"long","logicalType":"timestamp-millis"}}]}"#,
        )
        .unwrap();
        let mut writer = apache_avro::Writer::new(&schema, Vec::new());
        for (id, amount) in [("t1", 12.5), ("t2", -1.0)] {
            let mut r = Record::new(&schema).unwrap();
            r.put("transaction_id", id);
            r.put("customer_id", "c1");
            r.put("terminal_id", "p1");
            r.put("amount", amount);
            r.put("timestamp", apache_avro::types::Value::TimestampMillis(1_522_576_800_000));
            writer.append(r).unwrap();
        }
        let got = from_file("in/feed.avro", writer.into_inner().unwrap(), Currency::USD, now()).unwrap();
        let expected = crate::test_support::tx("t1", "c1", "p1", "12.5", "2018-04-01T10:00:00Z");
        assert_eq!(got.events, vec![Event::Transaction(expected)]);
        assert_eq!(got.refused[0].reason.code(), "INVALID_AMOUNT");
        let junk = from_file("in/x.avro", b"junk".to_vec(), Currency::USD, now());
        assert!(matches!(junk, Err(IntakeError::Unreadable(_, "Avro", _))));
    }
}
