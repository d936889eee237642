//! Parquet encoding of the lake's tables (Athena reads them through Glue tables in
//! `infra/`). Plain column writer, no Arrow: the rows are few and flat.

use super::LakeRow;
use crate::aml::CtrFiling;
use crate::label::LabelEvent;
use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, FloatType, Int32Type, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use rust_decimal::Decimal;
use std::sync::Arc;

pub const DECISIONS_SCHEMA: &str = "message decision {
  required binary transaction_id (STRING);
  required binary channel (STRING);
  optional binary customer_id (STRING);
  optional binary terminal_id (STRING);
  optional binary account_id (STRING);
  optional binary counterparty (STRING);
  optional binary counterparty_country (STRING);
  required int64 tx_time (TIMESTAMP(MILLIS,true));
  required int64 amount (DECIMAL(18,2));
  required binary currency (STRING);
  required float score;
  required binary verdict (STRING);
  required binary reasons (STRING);
}";

/// CTR filings: one row per owner, business day and direction over the threshold, each
/// later revision (more cash the same day) a new row.
pub const FILINGS_SCHEMA: &str = "message ctr_filing {
  required binary owner (STRING);
  required int32 business_day (DATE);
  required binary direction (STRING);
  required int64 total (DECIMAL(18,2));
  required int64 count;
  required int64 revision;
  required binary transactions (STRING);
}";

pub const LABELS_SCHEMA: &str = "message label {
  required binary transaction_id (STRING);
  required boolean fraud;
  required int64 known_at (TIMESTAMP(MILLIS,true));
}";

enum Column {
    Text(Vec<ByteArray>),
    /// Nullable text: the values present, and a definition level per row.
    OptText(Vec<ByteArray>, Vec<i16>),
    Date(Vec<i32>),
    Int(Vec<i64>),
    Float(Vec<f32>),
    Bool(Vec<bool>),
}

fn text<'a>(values: impl Iterator<Item = &'a str>) -> Column {
    Column::Text(values.map(|v| ByteArray::from(v.as_bytes().to_vec())).collect())
}

fn optional<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Column {
    let (mut present, mut levels) = (Vec::new(), Vec::new());
    for v in values {
        levels.push(i16::from(v.is_some()));
        present.extend(v.map(|v| ByteArray::from(v.as_bytes().to_vec())));
    }
    Column::OptText(present, levels)
}

/// Cents of a decimal (amounts and CTR totals, two decimal places at most within 10M).
fn cents(value: Decimal) -> i64 {
    let mut d = value.round_dp(2);
    d.rescale(2);
    i64::try_from(d.mantissa()).unwrap_or(i64::MAX)
}

pub fn decisions(rows: &[LakeRow<'_>]) -> Result<Vec<u8>, ParquetError> {
    let reasons: Vec<String> =
        rows.iter().map(|r| serde_json::to_string(&r.decision.reasons).unwrap_or_default()).collect();
    write(
        DECISIONS_SCHEMA,
        vec![
            text(rows.iter().map(|r| r.transaction_id.as_str())),
            text(rows.iter().map(|r| r.channel)),
            optional(rows.iter().map(|r| r.customer)),
            optional(rows.iter().map(|r| r.terminal)),
            optional(rows.iter().map(|r| r.account)),
            optional(rows.iter().map(|r| r.counterparty)),
            optional(rows.iter().map(|r| r.counterparty_country)),
            Column::Int(rows.iter().map(|r| r.at.timestamp_millis()).collect()),
            Column::Int(rows.iter().map(|r| cents(r.amount.value())).collect()),
            text(rows.iter().map(|r| r.currency.as_str())),
            Column::Float(rows.iter().map(|r| r.decision.score).collect()),
            text(rows.iter().map(|r| r.decision.verdict.as_str())),
            text(reasons.iter().map(String::as_str)),
        ],
    )
}

pub fn filings(rows: &[&CtrFiling]) -> Result<Vec<u8>, ParquetError> {
    let owners: Vec<String> = rows.iter().map(|f| f.owner.key()).collect();
    let listed: Vec<String> =
        rows.iter().map(|f| serde_json::to_string(&f.transactions).unwrap_or_default()).collect();
    let epoch = chrono::NaiveDate::default();
    write(
        FILINGS_SCHEMA,
        vec![
            text(owners.iter().map(String::as_str)),
            Column::Date(rows.iter().map(|f| (f.business_day - epoch).num_days() as i32).collect()),
            text(rows.iter().map(|f| f.direction.as_str())),
            Column::Int(rows.iter().map(|f| cents(f.total)).collect()),
            Column::Int(rows.iter().map(|f| i64::from(f.count)).collect()),
            Column::Int(rows.iter().map(|f| i64::from(f.revision)).collect()),
            text(listed.iter().map(String::as_str)),
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
            Column::OptText(v, levels) => {
                col.typed::<ByteArrayType>().write_batch(&v, Some(&levels), None)?
            }
            Column::Date(v) => col.typed::<Int32Type>().write_batch(&v, None, None)?,
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
    use crate::decision::{Decision, Reason, Verdict};
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
        let bytes = decisions(&[LakeRow::card(&tx, &d)]).unwrap();
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
        let rows = text_rows(decisions(&[LakeRow::card(&tx, &d)]).unwrap()).unwrap();
        let get = |name: &str| rows[0].iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(get("customer_id"), "c1");
        assert_eq!(get("channel"), "card");
        assert!(rows[0].iter().all(|(n, _)| n != "account_id"), "absent, not empty");
        assert_eq!(get("amount"), "99.90");
        assert_eq!(get("tx_time"), "2018-04-01T10:00:00+00:00");
    }
}
