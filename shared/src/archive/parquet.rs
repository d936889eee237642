//! Parquet encoding of the lake's tables (Athena reads them through Glue tables in
//! `infra/`). Plain column writer, no Arrow: the rows are few and flat.

use crate::decision::Decision;
use crate::label::LabelEvent;
use crate::transaction::Transaction;
use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, FloatType, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::sync::Arc;

pub const DECISIONS_SCHEMA: &str = "message decision {
  required binary transaction_id (STRING);
  required binary customer_id (STRING);
  required binary terminal_id (STRING);
  required int64 tx_time (TIMESTAMP(MILLIS,true));
  required int64 amount (DECIMAL(18,2));
  required binary currency (STRING);
  required float score;
  required binary verdict (STRING);
  required binary reasons (STRING);
}";

pub const LABELS_SCHEMA: &str = "message label {
  required binary transaction_id (STRING);
  required boolean fraud;
  required int64 known_at (TIMESTAMP(MILLIS,true));
}";

enum Column {
    Text(Vec<ByteArray>),
    Int(Vec<i64>),
    Float(Vec<f32>),
    Bool(Vec<bool>),
}

fn text<'a>(values: impl Iterator<Item = &'a str>) -> Column {
    Column::Text(values.map(|v| ByteArray::from(v.as_bytes().to_vec())).collect())
}

/// Cents: amounts are validated to two decimal places at most within 10M.
fn cents(tx: &Transaction) -> i64 {
    let mut d = tx.amount.value().round_dp(2);
    d.rescale(2);
    i64::try_from(d.mantissa()).unwrap_or(i64::MAX)
}

pub fn decisions(rows: &[(&Transaction, &Decision)]) -> Result<Vec<u8>, ParquetError> {
    let reasons: Vec<String> =
        rows.iter().map(|(_, d)| serde_json::to_string(&d.reasons).unwrap_or_default()).collect();
    write(
        DECISIONS_SCHEMA,
        vec![
            text(rows.iter().map(|(t, _)| t.id.as_str())),
            text(rows.iter().map(|(t, _)| t.customer.as_str())),
            text(rows.iter().map(|(t, _)| t.terminal.as_str())),
            Column::Int(rows.iter().map(|(t, _)| t.at.timestamp_millis()).collect()),
            Column::Int(rows.iter().map(|(t, _)| cents(t)).collect()),
            text(rows.iter().map(|(t, _)| t.currency.as_str())),
            Column::Float(rows.iter().map(|(_, d)| d.score).collect()),
            text(rows.iter().map(|(_, d)| d.verdict.as_str())),
            text(reasons.iter().map(String::as_str)),
        ],
    )
}

pub fn labels(rows: &[&LabelEvent]) -> Result<Vec<u8>, ParquetError> {
    write(
        LABELS_SCHEMA,
        vec![
            text(rows.iter().map(|l| l.transaction_id.as_str())),
            Column::Bool(rows.iter().map(|l| l.fraud).collect()),
            Column::Int(rows.iter().map(|l| l.known_at.timestamp_millis()).collect()),
        ],
    )
}

/// One row group holding `columns` in schema order.
fn write(schema: &str, columns: Vec<Column>) -> Result<Vec<u8>, ParquetError> {
    let schema = Arc::new(parse_message_type(schema)?);
    let props = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
    let mut out = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut out, schema, props)?;
    let mut group = writer.next_row_group()?;
    let mut columns = columns.into_iter();
    while let Some(mut col) = group.next_column()? {
        let Some(values) = columns.next() else {
            return Err(ParquetError::General("fewer columns than the schema".into()));
        };
        match values {
            Column::Text(v) => col.typed::<ByteArrayType>().write_batch(&v, None, None)?,
            Column::Int(v) => col.typed::<Int64Type>().write_batch(&v, None, None)?,
            Column::Float(v) => col.typed::<FloatType>().write_batch(&v, None, None)?,
            Column::Bool(v) => col.typed::<BoolType>().write_batch(&v, None, None)?,
        };
        col.close()?;
    }
    group.close()?;
    writer.close()?;
    Ok(out)
}

/// Rows of a Parquet file as text by column name, for the producer's batch files: strings
/// as they are, decimals and numbers in their decimal form, timestamps as RFC 3339 UTC.
pub fn text_rows(bytes: Vec<u8>) -> Result<Vec<Vec<(String, String)>>, ParquetError> {
    let mut rows = Vec::new();
    each_text_row(bytes, |row| {
        rows.push(row);
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(rows)
}

/// Like [`text_rows`], one row at a time until `each` breaks: memory holds the file and
/// a row, not every row (a row as text is ~100 times its compressed size).
pub fn each_text_row(
    bytes: Vec<u8>,
    mut each: impl FnMut(Vec<(String, String)>) -> std::ops::ControlFlow<()>,
) -> Result<(), ParquetError> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes))?;
    let millis = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339());
    for row in reader.get_row_iter(None)? {
        let row = row?;
        let text = row
            .into_columns()
            .into_iter()
            .filter_map(|(name, field)| {
                let value = match field {
                    Field::Null => return None,
                    Field::Str(s) => s,
                    Field::TimestampMillis(ms) => millis(ms)?,
                    Field::TimestampMicros(us) => millis(us.div_euclid(1000))?,
                    other => other.to_string(),
                };
                Some((name, value))
            })
            .collect();
        if each(text).is_break() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Reason, Verdict};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    #[test]
    fn decisions_round_trip_with_exact_amounts() {
        let tx = crate::test_support::tx("t1", "c1", "p1", "1234.5", "2018-04-01T10:00:00Z");
        let d = Decision {
            transaction_id: tx.id.clone(),
            score: 0.75,
            verdict: Verdict::Review,
            reasons: vec![Reason { code: "tx_amount".into(), detail: "1234.5".into() }],
        };
        let bytes = decisions(&[(&tx, &d)]).unwrap();
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 1);
        let row = reader.get_row_iter(None).unwrap().next().unwrap().unwrap();
        let fields: Vec<(String, Field)> = row.into_columns();
        let get = |name: &str| fields.iter().find(|(n, _)| n == name).unwrap().1.to_string();
        assert_eq!(get("transaction_id"), "\"t1\"");
        assert_eq!(get("amount"), "1234.50");
        assert_eq!(get("verdict"), "\"REVIEW\"");
        assert!(get("reasons").contains("tx_amount"));
    }

    #[test]
    fn text_rows_read_back_what_decisions_wrote() {
        let tx = crate::test_support::tx("t1", "c1", "p1", "99.9", "2018-04-01T10:00:00Z");
        let d =
            Decision { transaction_id: tx.id.clone(), score: 0.1, verdict: Verdict::Accept, reasons: vec![] };
        let rows = text_rows(decisions(&[(&tx, &d)]).unwrap()).unwrap();
        let get = |name: &str| rows[0].iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(get("customer_id"), "c1");
        assert_eq!(get("amount"), "99.90");
        assert_eq!(get("tx_time"), "2018-04-01T10:00:00+00:00");
    }
}
