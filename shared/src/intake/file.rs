//! Batch files, read as a stream: rows are validated as the bytes arrive and handed on in
//! bounded chunks, so memory does not grow with the file. Every input is bounded: the
//! file's size, what it inflates to, each row's length. A file that breaks a bound, or
//! cannot be read at all, is refused as a whole: one quarantine record, never a retry
//! (the same bytes would fail the same way).

use super::{Intake, IntakeError};
use crate::batch::Quarantined;
use crate::csvio::{
    self, CsvFile, FLOW_COLUMNS, FLOW_OPTIONAL, FileError, LABEL_COLUMNS, Limit, LimitExceeded,
    MAX_ROW_BYTES, TRANSACTION_COLUMNS,
};
use crate::money::Currency;
use crate::transaction::RejectReason;
use crate::wire::Event;
use chrono::{DateTime, Utc};
use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;

/// Items (events and refused rows) per chunk handed on...
pub const CHUNK_ITEMS: usize = 5_000;
/// ...or fewer, once their raw rows add up to this many bytes.
pub const CHUNK_BYTES: usize = 4 << 20;

/// The batch files the producer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Transactions or labels, told apart by the header.
    Csv,
    /// One JSON event per line (`.jsonl`, `.ndjson`).
    JsonLines,
    Parquet,
    Avro,
}

impl FileFormat {
    /// By the name's extension; a `.gz` suffix is allowed (gzip is also recognised by
    /// content, whatever the name).
    pub fn of(name: &str) -> Result<Self, FileRefusal> {
        let plain = name.strip_suffix(".gz").unwrap_or(name);
        let format = if plain.ends_with(".csv") {
            Self::Csv
        } else if plain.ends_with(".jsonl") || plain.ends_with(".ndjson") {
            Self::JsonLines
        } else if plain.ends_with(".parquet") {
            Self::Parquet
        } else if plain.ends_with(".avro") {
            Self::Avro
        } else {
            return Err(FileRefusal::Format);
        };
        Ok(format)
    }

    /// Whether rows can be read as the bytes arrive; Parquet and Avro are read whole.
    pub fn streams(self) -> bool {
        matches!(self, Self::Csv | Self::JsonLines)
    }
}

/// Bounds on one batch file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimits {
    /// Largest object read, in bytes as stored. Parquet and Avro files are held whole in
    /// memory, so this also bounds what they may inflate to when gzipped.
    pub max_file_bytes: u64,
    /// Most bytes a gzipped CSV or JSON-lines file may inflate to. Those are read as a
    /// stream, so this bounds the work (time) of one file rather than memory.
    pub max_decompressed_bytes: u64,
}

impl Default for FileLimits {
    /// Sized for a 1024 MB function: a Parquet or Avro file is held whole (up to twice its
    /// size while it is read in) and decoded row by row; CSV and JSON lines stream, and
    /// 1 GiB of CSV is ~10 million rows, more than a small stream takes in 300 s.
    fn default() -> Self {
        Self { max_file_bytes: 128 << 20, max_decompressed_bytes: 1 << 30 }
    }
}

impl FileLimits {
    /// Refuses an object by its size, before any byte of it is read.
    pub fn admit(&self, size: u64) -> Result<(), FileRefusal> {
        match size > self.max_file_bytes {
            true => Err(FileRefusal::TooLarge { size, limit: self.max_file_bytes }),
            false => Ok(()),
        }
    }
}

/// Why a batch file, or what remained of it, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileRefusal {
    #[error("unsupported batch file: expected .csv, .jsonl or .ndjson (optionally .gz), .parquet or .avro")]
    Format,
    #[error("the object is {}, over the {} limit", Size(*.size), Size(*.limit))]
    TooLarge { size: u64, limit: u64 },
    #[error("the object holds more than {}, the limit", Size(*.limit))]
    ReadPastLimit { limit: u64 },
    #[error("the content inflates past {}, the limit", Size(*.limit))]
    DecompressedTooLarge { limit: u64 },
    #[error("not a readable {0} file: {1}")]
    Unreadable(&'static str, String),
    #[error("missing column `{column}` (header: {header})")]
    MissingColumn { column: &'static str, header: String },
}

/// A size as people read it (`10.0 GiB`): reasons pass the redaction layer, which masks
/// long digit runs as it would a card number.
struct Size(u64);

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0 as f64;
        match self.0 {
            0..1024 => write!(f, "{} bytes", self.0),
            1024..1_048_576 => write!(f, "{:.1} KiB", n / 1024.0),
            1_048_576..1_073_741_824 => write!(f, "{:.1} MiB", n / 1_048_576.0),
            _ => write!(f, "{:.1} GiB", n / 1_073_741_824.0),
        }
    }
}

impl FileRefusal {
    /// Stable machine-readable code, as [`RejectReason::code`] is for one row.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Format => "UNSUPPORTED_FORMAT",
            Self::TooLarge { .. } | Self::ReadPastLimit { .. } => "FILE_TOO_LARGE",
            Self::DecompressedTooLarge { .. } => "DECOMPRESSED_TOO_LARGE",
            Self::Unreadable(..) => "UNREADABLE_FILE",
            Self::MissingColumn { .. } => "MISSING_COLUMN",
        }
    }
}

/// A refused file, and how far it had been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: FileRefusal,
    /// Item (line, or row) of the last row handed on before the file was cut; `None`
    /// when it was refused before any row.
    pub after: Option<u64>,
}

/// A file refused before any of it was read.
impl From<FileRefusal> for Refusal {
    fn from(reason: FileRefusal) -> Self {
        Self { reason, after: None }
    }
}

impl Refusal {
    /// The one quarantine record for the file: its location and the reason, no payload
    /// (the object itself is still where it was).
    pub fn quarantined(&self, source: &str) -> Quarantined {
        let reason = match self.after {
            None => self.reason.to_string(),
            Some(item) => format!("{}; cut after item {item}, the items before were processed", self.reason),
        };
        Quarantined { position: source.to_owned(), code: self.reason.code(), reason, payload: Vec::new() }
    }
}

/// How reading a batch file ended.
#[derive(Debug, PartialEq, Eq)]
pub enum FileEnd {
    /// Every row was handed on.
    Read,
    /// The consumer stopped taking chunks (its own error says why).
    Stopped,
    /// The file, or what remained of it, is refused.
    Refused(Refusal),
}

/// Reads the batch file `name` from `input`, handing rows on to `emit` in chunks of at
/// most [`CHUNK_ITEMS`] items or [`CHUNK_BYTES`] bytes, in file order, until it breaks.
/// `Err` only when the input itself failed (worth a retry).
pub fn read_file<R: Read + Send + 'static>(
    name: &str,
    format: FileFormat,
    input: R,
    limits: FileLimits,
    currency: Currency,
    now: DateTime<Utc>,
    emit: impl FnMut(Intake) -> ControlFlow<()>,
) -> Result<FileEnd, IntakeError> {
    let raw =
        BufReader::with_capacity(64 * 1024, csvio::Bounded::new(input, limits.max_file_bytes, Limit::File));
    // A file held whole may not inflate past what may be stored.
    let inflate_limit = match format.streams() {
        true => limits.max_decompressed_bytes,
        false => limits.max_decompressed_bytes.min(limits.max_file_bytes),
    };
    let mut out = Chunks { current: Intake::default(), bytes: 0, last: None, emit };
    let read =
        csvio::decompressed_within(raw, inflate_limit).map_err(Failure::Io).and_then(|input| match format {
            FileFormat::Csv => csv(name, input, currency, now, &mut out),
            FileFormat::JsonLines => json_lines(input, currency, now, &mut out),
            FileFormat::Parquet => parquet(whole(input)?, currency, now, &mut out),
            FileFormat::Avro => avro(&whole(input)?, currency, now, &mut out),
        });
    let refused = match read {
        Ok(()) => None,
        Err(Failure::Stopped) => return Ok(FileEnd::Stopped),
        Err(Failure::Refused(reason)) => Some(reason),
        Err(Failure::Io(source)) => match refusal(&source) {
            Some(reason) => Some(reason),
            None => return Err(IntakeError::Read { name: name.to_owned(), source }),
        },
    };
    // Rows read whole before a file is cut are handed on like any others.
    if out.flush().is_break() {
        return Ok(FileEnd::Stopped);
    }
    Ok(match refused {
        None => FileEnd::Read,
        Some(reason) => FileEnd::Refused(Refusal { reason, after: out.last }),
    })
}

/// Why reading stopped early, before it is told apart into [`FileEnd`] or an error.
enum Failure {
    Stopped,
    Refused(FileRefusal),
    Io(std::io::Error),
}

/// What an I/O error says about the file: a bound broken or bytes that cannot be decoded
/// (a corrupt or truncated gzip stream) refuse it; anything else is the input failing.
fn refusal(e: &std::io::Error) -> Option<FileRefusal> {
    use std::io::ErrorKind::{InvalidData, InvalidInput, UnexpectedEof};
    match LimitExceeded::of(e) {
        Some(LimitExceeded { which: Limit::File, limit }) => Some(FileRefusal::ReadPastLimit { limit }),
        Some(LimitExceeded { which: Limit::Decompressed, limit }) => {
            Some(FileRefusal::DecompressedTooLarge { limit })
        }
        None if matches!(e.kind(), InvalidData | InvalidInput | UnexpectedEof) => {
            Some(FileRefusal::Unreadable("gzip", e.to_string()))
        }
        None => None,
    }
}

/// The chunk being filled, and where it goes when full.
struct Chunks<F> {
    current: Intake,
    bytes: usize,
    /// Item of the last row taken.
    last: Option<u64>,
    emit: F,
}

impl<F: FnMut(Intake) -> ControlFlow<()>> Chunks<F> {
    fn push(&mut self, item: u64, raw: &[u8], parsed: Result<Event, RejectReason>) -> Result<(), Failure> {
        self.current.push(item, raw, parsed);
        self.bytes += raw.len();
        self.last = Some(item);
        let full = self.current.len() >= CHUNK_ITEMS || self.bytes >= CHUNK_BYTES;
        if full && self.flush().is_break() {
            return Err(Failure::Stopped);
        }
        Ok(())
    }

    fn flush(&mut self) -> ControlFlow<()> {
        if self.current.is_empty() {
            return ControlFlow::Continue(());
        }
        self.bytes = 0;
        (self.emit)(std::mem::take(&mut self.current))
    }
}

/// A whole (bounded) file in memory, for the formats that cannot stream.
fn whole(mut input: Box<dyn Read + Send>) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(Failure::Io)?;
    Ok(bytes)
}

/// CSV: transactions, or labels (a chargeback feed has no customer column).
fn csv<F: FnMut(Intake) -> ControlFlow<()>>(
    name: &str,
    input: Box<dyn Read + Send>,
    currency: Currency,
    now: DateTime<Utc>,
    out: &mut Chunks<F>,
) -> Result<(), Failure> {
    let failure = |e: FileError| match e {
        FileError::Io { source, .. } => Failure::Io(source),
        FileError::MissingColumn { column, header, .. } => {
            Failure::Refused(FileRefusal::MissingColumn { column, header })
        }
        other => Failure::Refused(FileRefusal::Unreadable("CSV", other.to_string())),
    };
    let mut file = CsvFile::headed(name.to_owned(), input).map_err(failure)?;
    enum Kind {
        Cards,
        Labels,
        Flows,
    }
    let kind = match file.select(&TRANSACTION_COLUMNS, &["currency"]) {
        Ok(()) => Kind::Cards,
        // None of the kinds: the transactions error names what is missing.
        Err(missing) => match file.select(&LABEL_COLUMNS, &[]) {
            Ok(()) => Kind::Labels,
            Err(_) => file
                .select(&FLOW_COLUMNS, &FLOW_OPTIONAL)
                .map(|()| Kind::Flows)
                .map_err(|_| failure(missing))?,
        },
    };
    let mut stopped = Ok(());
    file.rows(|line, raw, fields| {
        let parsed = fields.and_then(|fields| match kind {
            Kind::Labels => csvio::label_from_row(fields, now).map(Event::Label),
            Kind::Cards => csvio::transaction_from_row(fields, currency, now).map(Event::Transaction),
            Kind::Flows => csvio::flow_from_row(fields, currency, now),
        });
        stopped = out.push(line, raw, parsed);
        if stopped.is_ok() { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
    })
    .map_err(failure)?;
    stopped
}

/// JSON lines: one event per line; blank lines are skipped, an over-long line is
/// refused on its own.
fn json_lines<F: FnMut(Intake) -> ControlFlow<()>>(
    input: Box<dyn Read + Send>,
    currency: Currency,
    now: DateTime<Utc>,
    out: &mut Chunks<F>,
) -> Result<(), Failure> {
    let mut input = BufReader::with_capacity(64 * 1024, input);
    let mut line = Vec::new();
    let mut number = 0;
    while let Some(whole) = next_line(&mut input, &mut line).map_err(Failure::Io)? {
        number += 1;
        if line.iter().all(u8::is_ascii_whitespace) && whole {
            continue;
        }
        let parsed = match whole {
            true => Event::from_json(&line, currency, now),
            false => Err(RejectReason::Malformed(format!("line longer than {MAX_ROW_BYTES} bytes"))),
        };
        out.push(number, &line, parsed)?;
    }
    Ok(())
}

/// Reads one line into `line` (without its terminator, cut at [`MAX_ROW_BYTES`]):
/// `Some(true)` when whole, `Some(false)` when it was longer, `None` at the end.
fn next_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    line.clear();
    let (mut length, mut any) = (0, false);
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(length <= MAX_ROW_BYTES));
        }
        any = true;
        let (take, ends) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        let room = MAX_ROW_BYTES.saturating_sub(line.len());
        line.extend_from_slice(&buf[..take.min(room)]);
        length += take;
        input.consume(take + usize::from(ends));
        if ends {
            if line.last() == Some(&b'\r') {
                line.pop();
                length -= 1;
            }
            return Ok(Some(length <= MAX_ROW_BYTES));
        }
    }
}

/// One transaction from named text fields (Parquet columns, Avro record fields), by
/// name: the wire's (`amount`, `timestamp`) or the handbook's (`tx_amount`,
/// `tx_datetime`); and its `name=value` text for the quarantine.
#[cfg(feature = "aws")]
fn named_row(
    row: &[(String, String)],
    currency: Currency,
    now: DateTime<Utc>,
) -> (Vec<u8>, Result<Event, RejectReason>) {
    let get = |names: &[&str]| row.iter().find(|(n, _)| names.contains(&n.as_str())).map(|(_, v)| v.as_str());
    let raw = crate::transaction::RawTransaction {
        transaction_id: get(&["transaction_id"]),
        customer_id: get(&["customer_id"]),
        terminal_id: get(&["terminal_id"]),
        amount: get(&["amount", "tx_amount"]),
        currency: get(&["currency"]),
        timestamp: get(&["timestamp", "tx_datetime", "tx_time"]),
    };
    let text = row.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(",");
    (text.into_bytes(), crate::transaction::Transaction::parse(raw, currency, now).map(Event::Transaction))
}

#[cfg(feature = "aws")]
fn parquet<F: FnMut(Intake) -> ControlFlow<()>>(
    bytes: Vec<u8>,
    currency: Currency,
    now: DateTime<Utc>,
    out: &mut Chunks<F>,
) -> Result<(), Failure> {
    let (mut pushed, mut item) = (Ok(()), 0);
    crate::archive::parquet::each_text_row(bytes, |row| {
        let (raw, parsed) = named_row(&row, currency, now);
        item += 1;
        pushed = out.push(item, &raw, parsed);
        if pushed.is_ok() { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
    })
    .map_err(|e| Failure::Refused(FileRefusal::Unreadable("Parquet", e.to_string())))?;
    pushed
}

/// An Avro object container file of transaction records, decoded record by record.
#[cfg(feature = "aws")]
fn avro<F: FnMut(Intake) -> ControlFlow<()>>(
    bytes: &[u8],
    currency: Currency,
    now: DateTime<Utc>,
    out: &mut Chunks<F>,
) -> Result<(), Failure> {
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
    let unreadable = |e: apache_avro::Error| Failure::Refused(FileRefusal::Unreadable("Avro", e.to_string()));
    let reader = apache_avro::Reader::new(bytes).map_err(unreadable)?;
    for (i, value) in reader.enumerate() {
        let fields = match value.map_err(unreadable)? {
            Value::Record(fields) => fields,
            // Not a record: no field can be found, so the row is refused as such.
            _ => Vec::new(),
        };
        let row: Vec<(String, String)> =
            fields.into_iter().filter_map(|(n, v)| text(v).map(|t| (n, t))).collect();
        let (raw, parsed) = named_row(&row, currency, now);
        out.push(i as u64 + 1, &raw, parsed)?;
    }
    Ok(())
}

#[cfg(not(feature = "aws"))]
fn parquet<F>(_: Vec<u8>, _: Currency, _: DateTime<Utc>, _: &mut Chunks<F>) -> Result<(), Failure> {
    Err(Failure::Refused(FileRefusal::Format))
}

#[cfg(not(feature = "aws"))]
fn avro<F>(_: &[u8], _: Currency, _: DateTime<Utc>, _: &mut Chunks<F>) -> Result<(), Failure> {
    Err(Failure::Refused(FileRefusal::Format))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn now() -> DateTime<Utc> {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }

    const TX: &str = r#"{"transaction_id":"t1","customer_id":"c1","terminal_id":"p1","amount":"12.50","timestamp":"2018-04-01T10:00:00Z"}"#;

    /// Every chunk a file is handed on in, and how reading ended.
    fn read(name: &str, bytes: impl Into<Vec<u8>>, limits: FileLimits) -> (Vec<Intake>, FileEnd) {
        let mut chunks = Vec::new();
        let format = FileFormat::of(name).unwrap();
        let input = std::io::Cursor::new(bytes.into());
        let end = read_file(name, format, input, limits, Currency::USD, now(), |c| {
            chunks.push(c);
            ControlFlow::Continue(())
        })
        .unwrap();
        (chunks, end)
    }

    /// The whole file as one intake, which must have been read to the end.
    fn read_all(name: &str, bytes: impl Into<Vec<u8>>) -> Intake {
        let (chunks, end) = read(name, bytes, FileLimits::default());
        assert_eq!(end, FileEnd::Read);
        let mut all = Intake::default();
        for c in chunks {
            all.events.extend(c.events);
            all.items.extend(c.items);
            all.refused.extend(c.refused);
        }
        all
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    fn csv_rows(n: usize) -> String {
        let mut csv = String::from("transaction_id,tx_datetime,customer_id,terminal_id,tx_amount\n");
        for i in 0..n {
            csv.push_str(&format!("{i},2018-04-01 00:00:31,c{},p1,57.16\n", i % 100));
        }
        csv
    }

    #[test]
    fn batch_files_are_read_by_format_and_bad_rows_kept() {
        let csv = "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount\n\
                   1,2018-04-01 00:00:31,596,3156,57.16\n2,2018-04-01 00:00:40,596,3156,-1\n";
        let got = read_all("in/a.csv", csv);
        assert_eq!((got.events.len(), got.refused.len()), (1, 1));
        assert_eq!(got.refused[0].item, 3, "line number");
        assert_eq!(got.refused[0].raw, b"2,2018-04-01 00:00:40,596,3156,-1");
        assert_eq!(read_all("in/a.csv.gz", gzip(csv.as_bytes())).events, got.events);

        let labels = "transaction_id,tx_fraud,known_at\n1,1,2018-04-08 00:00:31\n";
        assert!(matches!(read_all("in/cb.csv", labels).events[0], Event::Label(_)));

        let lines = format!("{TX}\r\n\n{{oops\n");
        let got = read_all("in/x.jsonl", lines);
        assert_eq!((got.events.len(), got.refused.len()), (1, 1));
        assert_eq!((got.refused[0].item, got.refused[0].raw.as_slice()), (3, &b"{oops"[..]));

        assert_eq!(FileFormat::of("in/x.xlsx"), Err(FileRefusal::Format));
        assert_eq!(FileFormat::of("in/x.ndjson.gz"), Ok(FileFormat::JsonLines));
    }

    #[test]
    fn a_transfers_and_cash_file_is_read_through_the_wire_rules() {
        let csv = "transaction_id,channel,payer_account,payee_account,payee_name,account_id,amount,timestamp\n\
                   t1,transfer,acc-1,acc-2,ACME Ltd,,950.00,2018-04-01T10:00:00Z\n\
                   t2,cash_deposit,,,,acc-1,9000,2018-04-01 11:00:00\n\
                   t3,transfer,acc-1,,,,5,2018-04-01T12:00:00Z\n";
        let got = read_all("in/flows.csv", csv);
        assert_eq!(got.events.len(), 2);
        assert_eq!(got.events[0].channel(), Some("transfer"));
        assert_eq!(got.events[1].channel(), Some("cash_deposit"));
        assert_eq!(got.refused.len(), 1, "a transfer without its payee");
        assert_eq!(got.refused[0].reason.code(), "MISSING_FIELD");
    }

    #[test]
    fn a_row_that_is_not_utf8_is_quarantined_alone() {
        let mut csv = csv_rows(3).into_bytes();
        csv.extend_from_slice(b"x\xff,2018-04-01 00:00:31,c1,p1,1.00\n");
        csv.extend_from_slice(csv_rows(1).lines().nth(1).unwrap().as_bytes());
        let got = read_all("in/mixed.csv", csv);
        assert_eq!(got.events.len(), 4);
        assert_eq!(got.refused.len(), 1);
        assert_eq!(got.refused[0].item, 5);
        assert_eq!(got.refused[0].raw, b"x\xff,2018-04-01 00:00:31,c1,p1,1.00");
        assert_eq!(got.refused[0].reason.code(), "MALFORMED");

        // A lone UTF-8 lead byte inside a JSON string.
        let lines = [TX.as_bytes(), b"\n{\"transaction_id\":\"\xc3\"}\n", TX.as_bytes(), b"\n"].concat();
        let got = read_all("in/x.jsonl", lines);
        assert_eq!((got.events.len(), got.refused.len()), (2, 1));
        assert_eq!(got.refused[0].item, 2);
    }

    #[test]
    fn an_over_long_json_line_is_refused_alone() {
        let long = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_ROW_BYTES));
        let got = read_all("in/x.jsonl", format!("{long}\n{TX}\n"));
        assert_eq!(got.events.len(), 1);
        assert_eq!(got.refused[0].raw.len(), MAX_ROW_BYTES);
        assert!(got.refused[0].reason.to_string().contains("line longer than"));
    }

    #[test]
    fn rows_are_handed_on_in_bounded_chunks_in_file_order() {
        let (chunks, end) = read("in/big.csv", csv_rows(CHUNK_ITEMS * 2 + 7), FileLimits::default());
        assert_eq!(end, FileEnd::Read);
        let sizes: Vec<usize> = chunks.iter().map(Intake::len).collect();
        assert_eq!(sizes, [CHUNK_ITEMS, CHUNK_ITEMS, 7]);
        let items: Vec<u64> = chunks.iter().flat_map(|c| c.items.clone()).collect();
        assert!(items.windows(2).all(|w| w[0] + 1 == w[1]), "file order");

        // A consumer that stops is not sent more.
        let mut taken = 0;
        let input = std::io::Cursor::new(csv_rows(CHUNK_ITEMS * 3).into_bytes());
        let end = read_file(
            "in/big.csv",
            FileFormat::Csv,
            input,
            FileLimits::default(),
            Currency::USD,
            now(),
            |_| {
                taken += 1;
                ControlFlow::Break(())
            },
        );
        assert_eq!((end.unwrap(), taken), (FileEnd::Stopped, 1));
    }

    #[test]
    fn a_gzip_bomb_is_refused_once_it_inflates_past_the_limit() {
        let bomb = gzip(csv_rows(100_000).as_bytes());
        let limits = FileLimits { max_file_bytes: 1 << 20, max_decompressed_bytes: 256 * 1024 };
        assert!((bomb.len() as u64) < limits.max_file_bytes);
        let (chunks, end) = read("in/bomb.csv.gz", bomb, limits);
        let FileEnd::Refused(refusal) = end else { panic!("refused, not {end:?}") };
        assert_eq!(refusal.reason, FileRefusal::DecompressedTooLarge { limit: 256 * 1024 });
        // What came before the limit was handed on, and the record says where it stopped.
        let handed: usize = chunks.iter().map(Intake::len).sum();
        assert!(handed > 0 && handed < 100_000, "{handed} rows");
        assert_eq!(refusal.after, Some(handed as u64 + 1));
        let record = refusal.quarantined("s3://b/in/bomb.csv.gz");
        assert_eq!(
            (record.code, record.position.as_str()),
            ("DECOMPRESSED_TOO_LARGE", "s3://b/in/bomb.csv.gz")
        );
        assert!(record.payload.is_empty());
    }

    #[test]
    fn a_file_over_its_size_limit_is_refused_by_size_or_while_read() {
        let limits = FileLimits { max_file_bytes: 1000, ..FileLimits::default() };
        assert_eq!(limits.admit(1000), Ok(()));
        let too_big = limits.admit(10 << 30).unwrap_err();
        assert_eq!((too_big.code(), too_big.to_string().contains("10.0 GiB")), ("FILE_TOO_LARGE", true));
        // A size that lied: the bound holds while reading too.
        let (_, end) = read("in/a.csv", csv_rows(100), limits);
        let FileEnd::Refused(refusal) = end else { panic!("refused, not {end:?}") };
        assert_eq!(refusal.reason, FileRefusal::ReadPastLimit { limit: 1000 });
    }

    #[test]
    fn unreadable_files_are_refused_with_a_reason() {
        let refused = |name: &str, bytes: Vec<u8>| match read(name, bytes, FileLimits::default()).1 {
            FileEnd::Refused(r) => r.reason.code(),
            other => panic!("{name}: refused, not {other:?}"),
        };
        assert_eq!(refused("in/x.csv", b"a,b\n1,2\n".to_vec()), "MISSING_COLUMN");
        assert_eq!(refused("in/x.csv", Vec::new()), "UNREADABLE_FILE");
        let mut truncated = gzip(csv_rows(1000).as_bytes());
        truncated.truncate(truncated.len() / 2);
        assert_eq!(refused("in/x.csv.gz", truncated), "UNREADABLE_FILE");
    }

    #[test]
    fn a_failing_input_is_an_error_to_retry() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("connection reset"))
            }
        }
        let got = read_file(
            "in/a.csv",
            FileFormat::Csv,
            Broken,
            FileLimits::default(),
            Currency::USD,
            now(),
            |_| ControlFlow::Continue(()),
        );
        assert!(matches!(got, Err(IntakeError::Read { .. })), "{got:?}");
    }

    #[cfg(feature = "aws")]
    #[test]
    fn parquet_files_are_read_by_column_name() {
        use crate::decision::{Decision, Verdict};
        let tx = crate::test_support::tx("t7", "c1", "p1", "20.5", "2018-04-01T10:00:00Z");
        let d =
            Decision { transaction_id: tx.id.clone(), score: 0.1, verdict: Verdict::Accept, reasons: vec![] };
        use crate::archive::{BatchKey, Clock, Lake, LakeRow, Versions};
        let rows = [LakeRow::card(&tx, &d)];
        let v = Versions::default();
        let lake = Lake {
            decisions: &rows,
            labels: &[],
            filings: &[],
            alerts: &[],
            quarantined: &[],
            versions: &v,
            clock: Clock::EventTime,
        };
        let bytes = crate::archive::parquet::objects(&BatchKey::default(), &lake).unwrap().remove(0).body;
        let got = read_all("in/lake-export.parquet", bytes);
        assert_eq!(got.events, vec![Event::Transaction(tx)]);
        let (_, end) = read("in/x.parquet", b"PAR1".to_vec(), FileLimits::default());
        assert!(matches!(
            end,
            FileEnd::Refused(Refusal { reason: FileRefusal::Unreadable("Parquet", _), .. })
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
        let got = read_all("in/feed.avro", writer.into_inner().unwrap());
        let expected = crate::test_support::tx("t1", "c1", "p1", "12.5", "2018-04-01T10:00:00Z");
        assert_eq!(got.events, vec![Event::Transaction(expected)]);
        assert_eq!(got.refused[0].reason.code(), "INVALID_AMOUNT");
        let (_, end) = read("in/x.avro", b"junk".to_vec(), FileLimits::default());
        assert!(matches!(end, FileEnd::Refused(Refusal { reason: FileRefusal::Unreadable("Avro", _), .. })));
    }
}
