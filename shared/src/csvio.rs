//! Batch files: transactions and labels as CSV, optionally gzip-compressed.

use crate::label::LabelEvent;
use crate::money::Currency;
use crate::transaction::{RawTransaction, RejectReason, Transaction};
use chrono::{DateTime, Utc};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is not valid CSV")]
    Csv { path: String, source: csv::Error },
    #[error("{path}: missing column `{column}` (header: {header})")]
    MissingColumn { path: String, column: &'static str, header: String },
}

/// Opens `path`, decompressing when it starts with the gzip magic bytes.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>, FileError> {
    let io = |source| FileError::Io { path: path.display().to_string(), source };
    decompressed(BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?)).map_err(io)
}

/// `input`, gunzipped if it starts with the gzip magic bytes.
pub fn decompressed<R: BufRead + Send + 'static>(mut input: R) -> std::io::Result<Box<dyn Read + Send>> {
    if input.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(1 << 20, flate2::bufread::MultiGzDecoder::new(input))))
    } else {
        Ok(Box::new(input))
    }
}

/// Most columns a caller may ask for.
const MAX_COLUMNS: usize = 8;

/// A CSV file read by column name: other columns are ignored.
pub struct CsvFile {
    path: String,
    reader: csv::Reader<Box<dyn Read + Send>>,
    columns: Vec<Option<usize>>,
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
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let header =
            reader.headers().map_err(|source| FileError::Csv { path: name.clone(), source })?.clone();
        let find = |c: &str| header.iter().position(|h| h.trim() == c);
        let mut columns = Vec::new();
        for &column in required {
            let i = find(column).ok_or_else(|| FileError::MissingColumn {
                path: name.clone(),
                column,
                header: header.iter().collect::<Vec<_>>().join(","),
            })?;
            columns.push(Some(i));
        }
        columns.extend(optional.iter().map(|c| find(c)));
        columns.truncate(MAX_COLUMNS);
        Ok(Self { path: name, reader, columns })
    }

    /// Calls `each(line, fields)` per row, `fields` in the order the columns were named.
    pub fn for_each(mut self, mut each: impl FnMut(u64, &[Option<&str>])) -> Result<(), FileError> {
        let mut row = csv::StringRecord::new();
        loop {
            match self.reader.read_record(&mut row) {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(source) => {
                    return Err(FileError::Csv { path: self.path, source });
                }
            }
            let line = row.position().map_or(0, |p| p.line());
            let mut fields = [None; MAX_COLUMNS];
            for (field, column) in fields.iter_mut().zip(&self.columns) {
                *field = column.and_then(|i| row.get(i));
            }
            each(line, &fields[..self.columns.len()]);
        }
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
}
