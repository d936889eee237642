//! Parquet encoding of the lake's tables, one object per table, day (`dt=`) and batch.
//! Athena reads them through the Glue tables in `template.yaml`, `vigil report` through
//! DataFusion, both with the SQL under `infra/reports`. Plain column writer, no Arrow:
//! the rows are few and flat.

use super::{BatchKey, Lake, LakeRow};
use crate::alert::{About, Alert};
use crate::aml::CtrFiling;
use crate::features::FEATURE_NAMES;
use crate::label::LabelEvent;
use chrono::{DateTime, NaiveDate, Utc};
use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, FloatType, Int32Type, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every decision, whatever the channel, with what decided it and when it was ingested.
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
  required binary rule_codes (STRING);
  required binary model_version (STRING);
  required binary rules_version (STRING);
  optional binary list_version (STRING);
  optional binary features (STRING);
  required int64 ingested_at (TIMESTAMP(MILLIS,true));
}";

/// One row per rule, typology or screening hit of a decision (`SANCTIONS_HIT` rows name
/// the list entry, program and score in `detail`): per-rule reports without unnesting,
/// which Athena and DataFusion spell differently.
pub const RULE_HITS_SCHEMA: &str = "message rule_hit {
  required binary transaction_id (STRING);
  required binary code (STRING);
  required binary detail (STRING);
  required binary verdict (STRING);
  required int64 tx_time (TIMESTAMP(MILLIS,true));
  required int64 ingested_at (TIMESTAMP(MILLIS,true));
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
  required int64 ingested_at (TIMESTAMP(MILLIS,true));
}";

pub const LABELS_SCHEMA: &str = "message label {
  required binary transaction_id (STRING);
  required boolean fraud;
  required int64 known_at (TIMESTAMP(MILLIS,true));
  required int64 ingested_at (TIMESTAMP(MILLIS,true));
}";

/// Fraud and compliance alerts as sent; `accounts` (JSON) every account of an AML pattern.
pub const ALERTS_SCHEMA: &str = "message alert {
  required binary alert_id (STRING);
  required binary audience (STRING);
  required binary transaction_id (STRING);
  required binary severity (STRING);
  required binary verdict (STRING);
  required float score;
  required int64 alert_time (TIMESTAMP(MILLIS,true));
  required binary channel (STRING);
  required binary codes (STRING);
  required binary accounts (STRING);
  optional int64 amount (DECIMAL(18,2));
  optional binary list_version (STRING);
  required int64 ingested_at (TIMESTAMP(MILLIS,true));
}";

/// Records refused by validation, counted by reject code (the records themselves are
/// sealed in the quarantine prefix).
pub const QUARANTINE_SCHEMA: &str = "message quarantine {
  required binary batch (STRING);
  required binary code (STRING);
  required int64 records;
  required int64 ingested_at (TIMESTAMP(MILLIS,true));
}";

/// The lake's tables: name (the S3 prefix and Glue table) and Parquet schema.
pub const TABLES: [(&str, &str); 6] = [
    ("decisions", DECISIONS_SCHEMA),
    ("rule_hits", RULE_HITS_SCHEMA),
    ("labels", LABELS_SCHEMA),
    ("ctr_filings", FILINGS_SCHEMA),
    ("alerts", ALERTS_SCHEMA),
    ("quarantine", QUARANTINE_SCHEMA),
];

/// One lake object: `table/dt=YYYY-MM-DD/<batch>.parquet`.
#[derive(Debug)]
pub struct LakeObject {
    pub key: String,
    pub body: Vec<u8>,
}

/// The objects one batch adds: per table, one per day its rows fall on (decisions, rule
/// hits and alerts by transaction time, labels by `known_at`, CTR filings by business
/// day, quarantine counts by ingestion).
pub fn objects(batch: &BatchKey, lake: &Lake<'_>) -> Result<Vec<LakeObject>, ParquetError> {
    let mut out = Vec::new();
    let mut add = |table: &str, day: NaiveDate, body: Vec<u8>| {
        out.push(LakeObject { key: format!("{table}/dt={day}/{}.parquet", batch.as_str()), body })
    };
    for (day, rows) in by_day(lake.decisions, |r| r.at.date_naive()) {
        add("decisions", day, decisions(&rows, lake)?);
        let hits = rule_hits(&rows, lake)?;
        if let Some(hits) = hits {
            add("rule_hits", day, hits);
        }
    }
    for (day, rows) in by_day(lake.labels, |l| l.known_at.date_naive()) {
        add("labels", day, labels(&rows, lake)?);
    }
    for (day, rows) in by_day(lake.filings, |f| f.business_day) {
        add("ctr_filings", day, filings(&rows, lake)?);
    }
    for (day, rows) in by_day(lake.alerts, |a| a.at.date_naive()) {
        add("alerts", day, alerts(&rows, lake)?);
    }
    // A quarantine count has no event time of its own (and a replay quarantines nothing).
    if let (false, super::Clock::At(now)) = (lake.quarantined.is_empty(), lake.clock) {
        add("quarantine", now.date_naive(), quarantine(batch, lake.quarantined, now)?);
    }
    Ok(out)
}

fn by_day<T>(rows: &[T], day: impl Fn(&T) -> NaiveDate) -> BTreeMap<NaiveDate, Vec<&T>> {
    let mut out: BTreeMap<NaiveDate, Vec<&T>> = BTreeMap::new();
    for r in rows {
        out.entry(day(r)).or_default().push(r);
    }
    out
}

enum Column {
    Text(Vec<ByteArray>),
    /// Nullable columns: the values present, and a definition level per row.
    OptText(Vec<ByteArray>, Vec<i16>),
    OptInt(Vec<i64>, Vec<i16>),
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

fn times(values: impl Iterator<Item = DateTime<Utc>>) -> Column {
    Column::Int(values.map(|t| t.timestamp_millis()).collect())
}

/// Cents of a decimal (amounts and CTR totals, two decimal places at most within 10M).
fn cents(value: Decimal) -> i64 {
    let mut d = value.round_dp(2);
    d.rescale(2);
    i64::try_from(d.mantissa()).unwrap_or(i64::MAX)
}

/// Rule, typology and screening codes: every reason that is not a model feature.
fn is_rule(code: &str) -> bool {
    !FEATURE_NAMES.contains(&code)
}

fn decisions(rows: &[&LakeRow<'_>], lake: &Lake<'_>) -> Result<Vec<u8>, ParquetError> {
    let json = |r: &&LakeRow<'_>| serde_json::to_string(&r.decision.reasons).unwrap_or_default();
    let reasons: Vec<String> = rows.iter().map(json).collect();
    let codes: Vec<String> = rows
        .iter()
        .map(|r| {
            let codes: Vec<&str> =
                r.decision.reasons.iter().map(|x| x.code.as_str()).filter(|c| is_rule(c)).collect();
            codes.join(",")
        })
        .collect();
    let features: Vec<Option<String>> = rows
        .iter()
        .map(|r| {
            r.features.map(|f| {
                let named: serde_json::Map<String, serde_json::Value> =
                    FEATURE_NAMES.iter().zip(f.0).map(|(n, v)| ((*n).to_owned(), v.into())).collect();
                serde_json::Value::Object(named).to_string()
            })
        })
        .collect();
    let v = lake.versions;
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
            times(rows.iter().map(|r| r.at)),
            Column::Int(rows.iter().map(|r| cents(r.amount.value())).collect()),
            text(rows.iter().map(|r| r.currency.as_str())),
            Column::Float(rows.iter().map(|r| r.decision.score).collect()),
            text(rows.iter().map(|r| r.decision.verdict.as_str())),
            text(reasons.iter().map(String::as_str)),
            text(codes.iter().map(String::as_str)),
            text(rows.iter().map(|_| v.model.as_str())),
            text(rows.iter().map(|_| v.rules.as_str())),
            optional(rows.iter().map(|r| r.list_version)),
            optional(features.iter().map(Option::as_deref)),
            times(rows.iter().map(|r| lake.clock.ingested(r.at))),
        ],
    )
}

/// The rule hits of `rows`, if any fired.
fn rule_hits(rows: &[&LakeRow<'_>], lake: &Lake<'_>) -> Result<Option<Vec<u8>>, ParquetError> {
    let hits: Vec<(&LakeRow<'_>, &crate::decision::Reason)> = rows
        .iter()
        .flat_map(|r| r.decision.reasons.iter().filter(|x| is_rule(&x.code)).map(move |x| (*r, x)))
        .collect();
    if hits.is_empty() {
        return Ok(None);
    }
    write(
        RULE_HITS_SCHEMA,
        vec![
            text(hits.iter().map(|(r, _)| r.transaction_id.as_str())),
            text(hits.iter().map(|(_, x)| x.code.as_str())),
            text(hits.iter().map(|(_, x)| x.detail.as_str())),
            text(hits.iter().map(|(r, _)| r.decision.verdict.as_str())),
            times(hits.iter().map(|(r, _)| r.at)),
            times(hits.iter().map(|(r, _)| lake.clock.ingested(r.at))),
        ],
    )
    .map(Some)
}

fn filings(rows: &[&&CtrFiling], lake: &Lake<'_>) -> Result<Vec<u8>, ParquetError> {
    let owners: Vec<String> = rows.iter().map(|f| f.owner.key()).collect();
    let listed: Vec<String> =
        rows.iter().map(|f| serde_json::to_string(&f.transactions).unwrap_or_default()).collect();
    let epoch = NaiveDate::default();
    // A replay files at the end of the business day the filing covers.
    let filed = |f: &&&CtrFiling| {
        let end = f.business_day.and_hms_opt(23, 59, 59).unwrap_or_default().and_utc();
        lake.clock.ingested(end)
    };
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
            times(rows.iter().map(filed)),
        ],
    )
}

fn labels(rows: &[&&LabelEvent], lake: &Lake<'_>) -> Result<Vec<u8>, ParquetError> {
    write(
        LABELS_SCHEMA,
        vec![
            text(rows.iter().map(|l| l.transaction_id.as_str())),
            Column::Bool(rows.iter().map(|l| l.fraud).collect()),
            times(rows.iter().map(|l| l.known_at)),
            times(rows.iter().map(|l| lake.clock.ingested(l.known_at))),
        ],
    )
}

fn alerts(rows: &[&Alert], lake: &Lake<'_>) -> Result<Vec<u8>, ParquetError> {
    let (mut amounts, mut levels) = (Vec::new(), Vec::new());
    let mut channels = Vec::new();
    let mut accounts = Vec::new();
    let mut lists = Vec::new();
    for a in rows {
        let (channel, amount, listed, list) = match &a.about {
            About::FraudOps { amount, .. } => ("card", Some(*amount), Vec::new(), None),
            About::Compliance { channel, accounts, amount, list_version, .. } => (
                channel.as_str(),
                *amount,
                accounts.iter().map(|a| a.as_str()).collect(),
                list_version.as_deref(),
            ),
        };
        channels.push(channel);
        levels.push(i16::from(amount.is_some()));
        amounts.extend(amount.map(|a| cents(a.value())));
        accounts.push(serde_json::to_string(&listed).unwrap_or_default());
        lists.push(list);
    }
    let codes: Vec<String> = rows.iter().map(|a| a.rule_codes().collect::<Vec<_>>().join(",")).collect();
    write(
        ALERTS_SCHEMA,
        vec![
            text(rows.iter().map(|a| a.id.as_str())),
            text(rows.iter().map(|a| a.audience().as_str())),
            text(rows.iter().map(|a| a.transaction_id.as_str())),
            text(rows.iter().map(|a| a.severity.as_str())),
            text(rows.iter().map(|a| a.verdict.as_str())),
            Column::Float(rows.iter().map(|a| a.score).collect()),
            times(rows.iter().map(|a| a.at)),
            text(channels.into_iter()),
            text(codes.iter().map(String::as_str)),
            text(accounts.iter().map(String::as_str)),
            Column::OptInt(amounts, levels),
            optional(lists.into_iter()),
            times(rows.iter().map(|a| lake.clock.ingested(a.at))),
        ],
    )
}

fn quarantine(
    batch: &BatchKey,
    rejected: &[(String, &'static str)],
    now: DateTime<Utc>,
) -> Result<Vec<u8>, ParquetError> {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for (_, c) in rejected {
        *counts.entry(c).or_default() += 1;
    }
    write(
        QUARANTINE_SCHEMA,
        vec![
            text(counts.keys().map(|_| batch.as_str())),
            text(counts.keys().copied()),
            Column::Int(counts.values().copied().collect()),
            times(counts.keys().map(|_| now)),
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
            Column::OptInt(v, levels) => col.typed::<Int64Type>().write_batch(&v, Some(&levels), None)?,
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

/// A table's columns as Glue (Hive) declares them for Athena, from its Parquet schema:
/// what `template.yaml`'s Glue tables must say.
pub fn glue_columns(schema: &str) -> Result<Vec<(String, String)>, ParquetError> {
    use parquet::basic::{LogicalType, Type as Physical};
    let message = parse_message_type(schema)?;
    let columns = message.get_fields().iter().map(|field| {
        let kind = match (field.get_basic_info().logical_type_ref(), field.get_physical_type()) {
            (Some(LogicalType::String), _) => "string".to_owned(),
            (Some(LogicalType::Timestamp(_)), _) => "timestamp".to_owned(),
            (Some(LogicalType::Date), _) => "date".to_owned(),
            (Some(LogicalType::Decimal(d)), _) => format!("decimal({},{})", d.precision, d.scale),
            (_, Physical::INT64) => "bigint".to_owned(),
            (_, Physical::INT32) => "int".to_owned(),
            (_, Physical::FLOAT) => "float".to_owned(),
            (_, Physical::DOUBLE) => "double".to_owned(),
            (_, Physical::BOOLEAN) => "boolean".to_owned(),
            (_, other) => format!("{other}").to_lowercase(),
        };
        (field.name().to_owned(), kind)
    });
    Ok(columns.collect())
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
    use crate::archive::{Clock, Versions};
    use crate::decision::{Decision, Reason, Verdict};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    fn versions() -> Versions {
        Versions { model: "m1".into(), rules: "r1".into() }
    }

    /// The objects of one batch holding `rows`, written on `clock`.
    fn lake_objects(rows: &[LakeRow<'_>], labels: &[&LabelEvent], clock: Clock) -> Vec<LakeObject> {
        let v = versions();
        let lake = Lake {
            decisions: rows,
            labels,
            filings: &[],
            alerts: &[],
            quarantined: &[
                ("1".into(), "bad_json"),
                ("2".into(), "bad_json"),
                ("5".into(), "negative_amount"),
            ],
            versions: &v,
            clock,
        };
        objects(&BatchKey("b1".into()), &lake).unwrap()
    }

    fn body<'a>(objects: &'a [LakeObject], key: &str) -> &'a [u8] {
        &objects.iter().find(|o| o.key == key).unwrap_or_else(|| panic!("no {key}")).body
    }

    fn decision(
        tx: &crate::transaction::Transaction,
        verdict: Verdict,
        reasons: &[(&str, &str)],
    ) -> Decision {
        let reasons =
            reasons.iter().map(|(c, d)| Reason { code: (*c).into(), detail: (*d).into() }).collect();
        Decision { transaction_id: tx.id.clone(), score: 0.75, verdict, reasons }
    }

    #[test]
    fn decisions_round_trip_with_exact_amounts_versions_and_ingestion() {
        let tx = crate::test_support::tx("t1", "c1", "p1", "1234.5", "2018-04-01T10:00:00Z");
        let d = decision(
            &tx,
            Verdict::Review,
            &[("RULE_AMOUNT_OVER_THRESHOLD", "1234.5"), ("tx_amount", "1234.5")],
        );
        let now = "2024-01-01T00:00:00Z".parse().unwrap();
        let objects = lake_objects(&[LakeRow::card(&tx, &d)], &[], Clock::At(now));
        let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "decisions/dt=2018-04-01/b1.parquet",
                "rule_hits/dt=2018-04-01/b1.parquet",
                "quarantine/dt=2024-01-01/b1.parquet"
            ]
        );
        let reader = SerializedFileReader::new(bytes::Bytes::from(body(&objects, keys[0]).to_vec())).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 1);
        let row = reader.get_row_iter(None).unwrap().next().unwrap().unwrap();
        let fields: Vec<(String, Field)> = row.into_columns();
        let get = |name: &str| fields.iter().find(|(n, _)| n == name).unwrap().1.to_string();
        assert_eq!(get("transaction_id"), "\"t1\"");
        assert_eq!(get("amount"), "1234.50");
        assert_eq!(get("verdict"), "\"REVIEW\"");
        assert!(get("reasons").contains("tx_amount"));
        assert_eq!(get("rule_codes"), "\"RULE_AMOUNT_OVER_THRESHOLD\"", "features are not rules");
        assert_eq!(get("model_version"), "\"m1\"");
        assert_eq!(get("ingested_at"), Field::TimestampMillis(now.timestamp_millis()).to_string());
        let quarantine = text_rows(body(&objects, keys[2]).to_vec()).unwrap();
        let counts: Vec<(String, String)> =
            quarantine.iter().map(|r| (r[1].1.clone(), r[2].1.clone())).collect();
        assert_eq!(counts, [("bad_json".into(), "2".into()), ("negative_amount".into(), "1".into())]);
        assert!(quarantine.iter().all(|r| r[0] == ("batch".into(), "b1".into())), "{quarantine:?}");
    }

    #[test]
    fn a_replay_ingests_each_row_at_its_own_time() {
        let tx = crate::test_support::tx("t1", "c1", "p1", "99.9", "2018-04-01T10:00:00Z");
        let d = decision(&tx, Verdict::Accept, &[]);
        let label = LabelEvent {
            transaction_id: tx.id.clone(),
            fraud: true,
            known_at: "2018-04-08T10:00:00Z".parse().unwrap(),
        };
        let objects = lake_objects(&[LakeRow::card(&tx, &d)], &[&label], Clock::EventTime);
        let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            ["decisions/dt=2018-04-01/b1.parquet", "labels/dt=2018-04-08/b1.parquet"],
            "no rule hit, no quarantine"
        );
        let rows = text_rows(body(&objects, keys[0]).to_vec()).unwrap();
        let get = |name: &str| rows[0].iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(get("customer_id"), "c1");
        assert_eq!(get("channel"), "card");
        assert!(rows[0].iter().all(|(n, _)| n != "account_id"), "absent, not empty");
        assert_eq!(get("amount"), "99.90");
        assert_eq!(get("tx_time"), "2018-04-01T10:00:00+00:00");
        assert_eq!(get("ingested_at"), "2018-04-01T10:00:00+00:00");
        let labels = text_rows(body(&objects, keys[1]).to_vec()).unwrap();
        assert_eq!(labels[0][3], ("ingested_at".to_owned(), "2018-04-08T10:00:00+00:00".to_owned()));
    }
}
