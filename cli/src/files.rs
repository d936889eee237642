//! Reading the CLI's input files; invalid rows are kept with their reason, never dropped.

use anyhow::Result;
use chrono::{DateTime, Utc};
use std::path::Path;
use vigil_shared::csvio::{self, CsvFile, LABEL_COLUMNS, TRANSACTION_COLUMNS};
use vigil_shared::{Currency, LabelEvent, RejectReason, Transaction};

/// A transactions file: valid rows parsed, invalid ones with their reason.
#[derive(Default)]
pub struct Transactions {
    pub valid: Vec<Transaction>,
    /// Input row (0-based, header excluded) of each valid transaction.
    pub row_of: Vec<usize>,
    /// The `tx_fraud` column of each valid row, when the file has it.
    pub fraud: Vec<Option<bool>>,
    pub rejected: Vec<Rejected>,
    pub rows: usize,
}

pub struct Rejected {
    pub row: usize,
    pub line: u64,
    pub raw_id: String,
    pub reason: RejectReason,
}

pub fn read_transactions(path: &Path, now: DateTime<Utc>) -> Result<Transactions> {
    let file = CsvFile::open(path, &TRANSACTION_COLUMNS, &["currency", "tx_fraud"])?;
    let mut out = Transactions::default();
    file.for_each(|line, fields| {
        let row = out.rows;
        out.rows += 1;
        match csvio::transaction_from_row(fields, Currency::USD, now) {
            Ok(tx) => {
                out.valid.push(tx);
                out.row_of.push(row);
                out.fraud.push(fields[6].map(|f| f.trim() == "1"));
            }
            Err(reason) => out.rejected.push(Rejected {
                row,
                line,
                raw_id: fields[0].unwrap_or_default().to_owned(),
                reason,
            }),
        }
    })?;
    Ok(out)
}

/// Labels; invalid rows are reported and counted.
pub fn read_labels(path: &Path, now: DateTime<Utc>) -> Result<(Vec<LabelEvent>, Vec<Rejected>)> {
    let file = CsvFile::open(path, &LABEL_COLUMNS, &[])?;
    let (mut labels, mut rejected) = (Vec::new(), Vec::new());
    let mut row = 0;
    file.for_each(|line, fields| {
        match csvio::label_from_row(fields, now) {
            Ok(l) => labels.push(l),
            Err(reason) => rejected.push(Rejected {
                row,
                line,
                raw_id: fields[0].unwrap_or_default().to_owned(),
                reason,
            }),
        }
        row += 1;
    })?;
    Ok((labels, rejected))
}

pub fn report_rejected(what: &str, rejected: &[Rejected]) {
    if rejected.is_empty() {
        return;
    }
    eprintln!("{what}: {} invalid rows quarantined, for example:", rejected.len());
    for r in rejected.iter().take(5) {
        eprintln!("  line {} (id `{}`): {} [{}]", r.line, r.raw_id, r.reason, r.reason.code());
    }
}

/// A timestamp as the CSV files write it: `2018-04-01T00:00:31Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Writes CSV to `path`, or to stdout for `-`.
pub fn csv_writer(path: &Path) -> Result<csv::Writer<Box<dyn std::io::Write>>> {
    let out: Box<dyn std::io::Write> = if path == Path::new("-") {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?))
    };
    Ok(csv::Writer::from_writer(out))
}
