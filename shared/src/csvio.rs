//! Batch files: transactions and labels as CSV, optionally gzip-compressed.
//!
//! Rows are read as bytes with bounded buffers ([`RowReader`]) and decoded field by
//! field, so a row that is not UTF-8, or absurdly long, is refused on its own instead of
//! failing the whole file or growing a buffer without limit.

use crate::label::LabelEvent;
use crate::money::Currency;
use crate::transaction::{RawTransaction, RejectReason, Transaction};
use chrono::{DateTime, Utc};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: no readable header: {reason}")]
    Header { path: String, reason: String },
    #[error("{path}: missing column `{column}` (header: {header})")]
    MissingColumn { path: String, column: &'static str, header: String },
    #[error("{path}, line {line}: {reason}")]
    Row { path: String, line: u64, reason: RejectReason },
}

/// Opens `path`, decompressing when it starts with the gzip magic bytes.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>, FileError> {
    let io = |source| FileError::Io { path: path.display().to_string(), source };
    decompressed(BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?)).map_err(io)
}

/// `input`, gunzipped if it starts with the gzip magic bytes.
pub fn decompressed<R: BufRead + Send + 'static>(input: R) -> std::io::Result<Box<dyn Read + Send>> {
    decompressed_within(input, u64::MAX)
}

/// Like [`decompressed`], but the gunzipped output stops with an error (a
/// [`LimitExceeded`]) past `limit` bytes: a small gzip bomb must not expand into hours
/// of work or a full memory.
pub fn decompressed_within<R: BufRead + Send + 'static>(
    mut input: R,
    limit: u64,
) -> std::io::Result<Box<dyn Read + Send>> {
    if input.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        let inflated = Bounded::new(flate2::bufread::MultiGzDecoder::new(input), limit, Limit::Decompressed);
        Ok(Box::new(BufReader::with_capacity(1 << 20, inflated)))
    } else {
        Ok(Box::new(input))
    }
}

/// Which bound a [`Bounded`] reader enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Bytes of the file as stored.
    File,
    /// Bytes after gunzipping.
    Decompressed,
}

/// The error a [`Bounded`] reader returns (inside an `io::Error`) once past its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("more than {limit} bytes ({which:?})")]
pub struct LimitExceeded {
    pub which: Limit,
    pub limit: u64,
}

impl LimitExceeded {
    /// The limit an I/O error reports, if it is one.
    pub fn of(e: &std::io::Error) -> Option<LimitExceeded> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<LimitExceeded>()).copied()
    }
}

/// A reader that passes at most `limit` bytes, then fails (instead of ending: a cut file
/// must not pass for a whole one).
pub struct Bounded<R> {
    inner: R,
    left: u64,
    over: bool,
    limit: LimitExceeded,
}

impl<R> Bounded<R> {
    pub fn new(inner: R, limit: u64, which: Limit) -> Self {
        Self { inner, left: limit, over: false, limit: LimitExceeded { which, limit } }
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.over {
            return Err(std::io::Error::other(self.limit));
        }
        // One byte more than is left is asked for, to tell "exactly at the limit" (the
        // next read ends) from "past it" (the next read fails).
        let want = buf.len().min(usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            // The bytes up to the limit still count: rows read whole before it are kept.
            self.over = true;
            let n = self.left as usize;
            self.left = 0;
            return match n {
                0 => Err(std::io::Error::other(self.limit)),
                n => Ok(n),
            };
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Most bytes of one row (a transaction row is about 100): a longer row is refused on its
/// own, its raw bytes kept up to this length.
pub const MAX_ROW_BYTES: usize = 64 * 1024;
/// Most fields of one row.
pub const MAX_FIELDS: usize = 256;

/// One CSV row, borrowed from its [`RowReader`].
#[derive(Debug)]
pub struct Row<'a> {
    /// Line the row starts on (the header is line 1).
    pub line: u64,
    /// The row as it is in the file, without line terminators (cut at [`MAX_ROW_BYTES`]).
    pub raw: &'a [u8],
    /// More than [`MAX_ROW_BYTES`] or [`MAX_FIELDS`]: its fields were not kept.
    pub oversized: bool,
    fields: &'a [u8],
    ends: &'a [usize],
}

impl Row<'_> {
    /// Field `i` as bytes (unquoted and unescaped).
    pub fn field(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.fields.get(start..end)
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// Reads CSV rows (RFC 4180 quoting, any line terminator) as bytes, with buffers that
/// never grow past [`MAX_ROW_BYTES`] and [`MAX_FIELDS`].
pub struct RowReader<R> {
    input: R,
    core: csv_core::Reader,
    fields: Vec<u8>,
    ends: Vec<usize>,
    raw: Vec<u8>,
}

impl<R: BufRead> RowReader<R> {
    pub fn new(input: R) -> Self {
        Self {
            input,
            core: csv_core::Reader::new(),
            fields: vec![0; 1024],
            ends: vec![0; 16],
            raw: Vec::new(),
        }
    }

    /// The next row, or `None` at the end of the input.
    pub fn next_row(&mut self) -> std::io::Result<Option<Row<'_>>> {
        use csv_core::ReadRecordResult::*;
        self.raw.clear();
        let mut line = self.core.line();
        let (mut out, mut ends) = (0, 0);
        let mut oversized = false;
        loop {
            let input = self.input.fill_buf()?;
            let (result, nin, nout, nend) =
                self.core.read_record(input, &mut self.fields[out..], &mut self.ends[ends..]);
            let mut consumed = &input[..nin];
            if self.raw.is_empty() {
                // Terminators before the row (blank lines, the `\n` of a `\r\n`) are not
                // part of it, but they move it down the file.
                let skip = consumed.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
                line += consumed[..skip].iter().filter(|&&b| b == b'\n').count() as u64;
                consumed = &consumed[skip..];
            }
            let room = MAX_ROW_BYTES - self.raw.len();
            self.raw.extend_from_slice(&consumed[..consumed.len().min(room)]);
            self.input.consume(nin);
            out += nout;
            ends += nend;
            match result {
                InputEmpty => {}
                OutputFull if self.fields.len() < MAX_ROW_BYTES => {
                    self.fields.resize((self.fields.len() * 2).min(MAX_ROW_BYTES), 0)
                }
                // Too long: the rest of the row is read through the same buffer and dropped.
                OutputFull => (oversized, out) = (true, 0),
                OutputEndsFull if self.ends.len() < MAX_FIELDS => {
                    self.ends.resize((self.ends.len() * 2).min(MAX_FIELDS), 0)
                }
                OutputEndsFull => (oversized, ends) = (true, 0),
                Record => {
                    while self.raw.last().is_some_and(|b| matches!(b, b'\r' | b'\n')) {
                        self.raw.pop();
                    }
                    let (fields, ends): (&[u8], &[usize]) =
                        if oversized { (&[], &[]) } else { (&self.fields[..out], &self.ends[..ends]) };
                    return Ok(Some(Row { line, raw: &self.raw, oversized, fields, ends }));
                }
                End => return Ok(None),
            }
        }
    }
}

/// Most columns a caller may ask for.
const MAX_COLUMNS: usize = 12;

/// A CSV file read by column name: other columns are ignored.
pub struct CsvFile {
    path: String,
    rows: RowReader<BufReader<Box<dyn Read + Send>>>,
    header: Vec<String>,
    columns: Vec<(&'static str, Option<usize>)>,
}

impl CsvFile {
    /// `required` columns must be in the header; `optional` ones may be absent.
    pub fn open(
        path: &Path,
        required: &[&'static str],
        optional: &[&'static str],
    ) -> Result<Self, FileError> {
        Self::from_reader(path.display().to_string(), open(path)?, required, optional)
    }

    /// Like [`CsvFile::open`] over any input; `name` is what errors call it.
    pub fn from_reader(
        name: String,
        input: Box<dyn Read + Send>,
        required: &[&'static str],
        optional: &[&'static str],
    ) -> Result<Self, FileError> {
        let mut file = Self::headed(name, input)?;
        file.select(required, optional)?;
        Ok(file)
    }

    /// Reads the header only; [`CsvFile::select`] then picks the columns.
    pub fn headed(name: String, input: Box<dyn Read + Send>) -> Result<Self, FileError> {
        let mut rows = RowReader::new(BufReader::with_capacity(64 * 1024, input));
        let header = match rows.next_row() {
            Err(source) => return Err(FileError::Io { path: name, source }),
            Ok(None) => return Err(FileError::Header { path: name, reason: "the file is empty".into() }),
            Ok(Some(row)) if row.oversized => {
                return Err(FileError::Header { path: name, reason: "the header is too long".into() });
            }
            Ok(Some(row)) => (0..row.len())
                .map(|i| std::str::from_utf8(row.field(i).unwrap_or_default()).map(|h| h.trim().to_owned()))
                .collect::<Result<Vec<_>, _>>(),
        };
        let header = header
            .map_err(|e| FileError::Header { path: name.clone(), reason: format!("not UTF-8 ({e})") })?;
        Ok(Self { path: name, rows, header, columns: Vec::new() })
    }

    /// Chooses the columns rows are read by: `required` ones must be in the header,
    /// `optional` ones may be absent. Fields come in that order.
    pub fn select(&mut self, required: &[&'static str], optional: &[&'static str]) -> Result<(), FileError> {
        let find = |c: &str| self.header.iter().position(|h| h == c);
        let mut columns = Vec::new();
        for &column in required {
            let i = find(column).ok_or_else(|| FileError::MissingColumn {
                path: self.path.clone(),
                column,
                header: self.header.join(","),
            })?;
            columns.push((column, Some(i)));
        }
        columns.extend(optional.iter().map(|&c| (c, find(c))));
        columns.truncate(MAX_COLUMNS);
        self.columns = columns;
        Ok(())
    }

    /// Calls `each(line, raw, fields)` per row until it breaks, `fields` in the order
    /// the columns were named, or why the row cannot be read (a field that is not UTF-8,
    /// a row over [`MAX_ROW_BYTES`]). Only input errors fail the file.
    pub fn rows(
        mut self,
        mut each: impl FnMut(u64, &[u8], Result<&[Option<&str>], RejectReason>) -> ControlFlow<()>,
    ) -> Result<(), FileError> {
        let path = self.path;
        loop {
            let row = match self.rows.next_row() {
                Ok(Some(row)) => row,
                Ok(None) => return Ok(()),
                Err(source) => return Err(FileError::Io { path, source }),
            };
            let mut fields = [None; MAX_COLUMNS];
            let decoded = if row.oversized {
                Err(RejectReason::Malformed(format!(
                    "row longer than {MAX_ROW_BYTES} bytes or {MAX_FIELDS} fields"
                )))
            } else {
                fields.iter_mut().zip(&self.columns).try_for_each(|(field, &(name, column))| {
                    let Some(bytes) = column.and_then(|i| row.field(i)) else { return Ok(()) };
                    let text = std::str::from_utf8(bytes)
                        .map_err(|e| RejectReason::Malformed(format!("field `{name}` is not UTF-8 ({e})")))?;
                    *field = Some(text);
                    Ok(())
                })
            };
            let fields = decoded.map(|()| &fields[..self.columns.len()]);
            if each(row.line, row.raw, fields).is_break() {
                return Ok(());
            }
        }
    }

    /// Calls `each(line, fields)` per row; a row that cannot be read fails the file (the
    /// CLI's inputs are files it made).
    pub fn for_each(self, mut each: impl FnMut(u64, &[Option<&str>])) -> Result<(), FileError> {
        let path = self.path.clone();
        let mut unreadable = None;
        self.rows(|line, _, fields| match fields {
            Ok(fields) => {
                each(line, fields);
                ControlFlow::Continue(())
            }
            Err(reason) => {
                unreadable = Some(FileError::Row { path: path.clone(), line, reason });
                ControlFlow::Break(())
            }
        })?;
        unreadable.map_or(Ok(()), Err)
    }
}

/// Columns of a transactions file; anything else (e.g. `tx_fraud`) is ignored.
pub const TRANSACTION_COLUMNS: [&str; 5] =
    ["transaction_id", "tx_datetime", "customer_id", "terminal_id", "tx_amount"];

/// Parses one transactions-file row (fields in [`TRANSACTION_COLUMNS`] order, then an
/// optional `currency`).
pub fn transaction_from_row(
    fields: &[Option<&str>],
    default_currency: Currency,
    now: DateTime<Utc>,
) -> Result<Transaction, RejectReason> {
    let nonempty = |i: usize| fields.get(i).copied().flatten().filter(|s| !s.is_empty());
    Transaction::parse(
        RawTransaction {
            transaction_id: nonempty(0),
            timestamp: nonempty(1),
            customer_id: nonempty(2),
            terminal_id: nonempty(3),
            amount: nonempty(4),
            currency: nonempty(5),
        },
        default_currency,
        now,
    )
}

/// Columns of a labels file.
pub const LABEL_COLUMNS: [&str; 3] = ["transaction_id", "tx_fraud", "known_at"];

/// A transfers-and-cash file: these columns, then any of [`FLOW_OPTIONAL`], each with the
/// wire field's name and meaning.
pub const FLOW_COLUMNS: [&str; 4] = ["transaction_id", "channel", "amount", "timestamp"];
pub const FLOW_OPTIONAL: [&str; 8] = [
    "currency",
    "payer_account",
    "payee_account",
    "payee_name",
    "payee_bic",
    "payee_country",
    "account_id",
    "location",
];

/// Parses one transfers-and-cash row (fields in [`FLOW_COLUMNS`] then [`FLOW_OPTIONAL`]
/// order) through the wire format, so a file row and a stream record obey one rule set.
pub fn flow_from_row(
    fields: &[Option<&str>],
    default_currency: Currency,
    now: DateTime<Utc>,
) -> Result<crate::wire::Event, RejectReason> {
    let names = FLOW_COLUMNS.iter().chain(&FLOW_OPTIONAL);
    let object: serde_json::Map<String, serde_json::Value> = names
        .zip(fields)
        .filter_map(|(name, value)| Some(((*name).to_owned(), serde_json::Value::from((*value)?))))
        .filter(|(_, v)| v.as_str().is_some_and(|s| !s.is_empty()))
        .collect();
    let bytes = serde_json::to_vec(&object).map_err(|e| RejectReason::Malformed(e.to_string()))?;
    match crate::wire::Event::from_json(&bytes, default_currency, now)? {
        event @ crate::wire::Event::Flow(_) => Ok(event),
        _ => Err(RejectReason::UnknownChannel("card (a card file has customer_id and terminal_id)".into())),
    }
}

pub fn label_from_row(fields: &[Option<&str>], now: DateTime<Utc>) -> Result<LabelEvent, RejectReason> {
    let nonempty = |i: usize| fields.get(i).copied().flatten().filter(|s| !s.is_empty());
    LabelEvent::parse(nonempty(0), nonempty(1), nonempty(2), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn now() -> DateTime<Utc> {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }

    fn read_all(path: &Path) -> Vec<Result<Transaction, RejectReason>> {
        let file = CsvFile::open(path, &TRANSACTION_COLUMNS, &["currency"]).unwrap();
        let mut out = Vec::new();
        file.for_each(|_, f| out.push(transaction_from_row(f, Currency::USD, now()))).unwrap();
        out
    }

    /// A row as read: line, raw bytes, fields or the reason it cannot be read.
    type RowRead = (u64, Vec<u8>, Result<Vec<String>, String>);

    /// Every row of `text`.
    fn rows_of(text: &[u8], required: &[&'static str]) -> Vec<RowRead> {
        let file = CsvFile::from_reader(
            "t.csv".into(),
            Box::new(std::io::Cursor::new(text.to_vec())),
            required,
            &[],
        )
        .unwrap();
        let mut out = Vec::new();
        file.rows(|line, raw, fields| {
            let fields = fields
                .map(|f| f.iter().map(|f| f.unwrap_or_default().to_owned()).collect())
                .map_err(|r| r.to_string());
            out.push((line, raw.to_vec(), fields));
            ControlFlow::Continue(())
        })
        .unwrap();
        out
    }

    #[test]
    fn columns_are_found_by_name_and_extra_ones_ignored() {
        let dir = std::env::temp_dir().join(format!("vigil-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("t.csv");
        let text = "tx_fraud,transaction_id,tx_datetime,customer_id,terminal_id,tx_amount\n\
                    1,0,2018-04-01T00:00:31Z,596,3156,57.16\n\
                    0,1,2018-04-01T00:02:10Z,4961,3412,-3\n\
                    0,2,2018-04-01T00:02:10Z,4961\n";
        std::fs::write(&plain, text).unwrap();
        let gz = dir.join("t.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();

        for path in [&plain, &gz] {
            let rows = read_all(path);
            assert_eq!(rows.len(), 3);
            assert_eq!(rows[0].as_ref().unwrap().customer.as_str(), "596");
            assert_eq!(rows[1].as_ref().unwrap_err().code(), "INVALID_AMOUNT");
            assert_eq!(rows[2].as_ref().unwrap_err(), &RejectReason::MissingField("terminal_id"));
        }
    }

    #[test]
    fn a_missing_column_is_a_clear_error() {
        let path = std::env::temp_dir().join(format!("vigil-csv-missing-{}.csv", std::process::id()));
        std::fs::write(&path, "transaction_id,tx_datetime\n1,2\n").unwrap();
        let err = CsvFile::open(&path, &TRANSACTION_COLUMNS, &[]).err().unwrap();
        assert!(err.to_string().contains("missing column `customer_id`"), "{err}");
    }

    #[test]
    fn a_row_that_is_not_utf8_is_refused_alone_with_its_raw_bytes() {
        let text = b"a,b\n1,x\n2,\xff\xfe\n3,z\n";
        let rows = rows_of(text, &["a", "b"]);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].2, Ok(vec!["1".to_owned(), "x".to_owned()]));
        assert_eq!(rows[1].0, 3, "line");
        assert_eq!(rows[1].1, b"2,\xff\xfe");
        assert!(rows[1].2.as_ref().unwrap_err().contains("field `b` is not UTF-8"), "{:?}", rows[1].2);
        assert_eq!(rows[2].2, Ok(vec!["3".to_owned(), "z".to_owned()]));
        // The CLI's reading still fails on it, naming the line.
        let file = CsvFile::from_reader(
            "t.csv".into(),
            Box::new(std::io::Cursor::new(text.to_vec())),
            &["a"],
            &["b"],
        );
        let err = file.unwrap().for_each(|_, _| {}).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn an_oversized_row_is_refused_alone_and_its_raw_bytes_cut() {
        let long = "y".repeat(MAX_ROW_BYTES * 3);
        let text = format!("a,b\r\n1,x\r\n2,\"{long}\"\r\n\r\n3,z\r\n");
        let rows = rows_of(text.as_bytes(), &["a", "b"]);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].1, b"1,x", "terminators are not part of a row");
        assert!(rows[1].2.as_ref().unwrap_err().contains("row longer than"));
        assert_eq!(rows[1].1.len(), MAX_ROW_BYTES);
        assert_eq!(
            (rows[2].0, &rows[2].2),
            (5, &Ok(vec!["3".to_owned(), "z".to_owned()])),
            "blank line skipped"
        );

        let many = vec!["1"; MAX_FIELDS + 1].join(",");
        let rows = rows_of(format!("a\n{many}\n2\n").as_bytes(), &["a"]);
        assert!(rows[0].2.is_err());
        assert_eq!(rows[1].2, Ok(vec!["2".to_owned()]));
    }

    #[test]
    fn quoted_fields_keep_commas_and_newlines() {
        let rows = rows_of(b"a,b\n\"x,1\",\"two\nlines\"\n3,\"q\"\"uote\"\n", &["a", "b"]);
        assert_eq!(rows[0].2, Ok(vec!["x,1".to_owned(), "two\nlines".to_owned()]));
        assert_eq!((rows[1].0, &rows[1].2), (4, &Ok(vec!["3".to_owned(), "q\"uote".to_owned()])));
    }

    #[test]
    fn bounded_readers_stop_past_their_limit() {
        let mut exact = Bounded::new(&b"12345"[..], 5, Limit::File);
        let mut all = Vec::new();
        exact.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"12345");
        let mut over = Bounded::new(&b"123456"[..], 5, Limit::File);
        let err = over.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(LimitExceeded::of(&err), Some(LimitExceeded { which: Limit::File, limit: 5 }));

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b'0'; 1 << 20]).unwrap();
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 4096, "a megabyte of zeros compresses to {} bytes", bomb.len());
        let mut inflated = decompressed_within(std::io::Cursor::new(bomb), 1000).unwrap();
        let err = inflated.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(LimitExceeded::of(&err).map(|l| l.which), Some(Limit::Decompressed));
    }
}
