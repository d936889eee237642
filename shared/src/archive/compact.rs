//! Compaction: a lake partition (`table/dt=D/`) of many small batch objects becomes one
//! object whose row groups are theirs, copied byte for byte (no row is decoded, so none
//! can change, be lost or be doubled). In two steps, so a report running meanwhile never
//! misses a file it listed: a run writes the compacted object (naming what it covers in
//! its Parquet metadata) and leaves the small objects; a run at least [`RETIRE_AFTER`]
//! later deletes them. In between both are there, and the reports' views keep one copy of
//! every row (`infra/reports/views.sql`). Every step is safe to repeat or to interrupt.

use super::parquet::TABLES;
use crate::alert::DeliveryError;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::ParquetError;
use parquet::file::metadata::{KeyValue, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::Arc;

/// How long covered objects outlive their compacted copy: longer than any report or
/// analyst query runs (Athena's own limit is hours, not days), shorter than the daily
/// schedule, so the next day's run retires them.
pub const RETIRE_AFTER: TimeDelta = TimeDelta::hours(12);

/// Most objects one compacted object takes in (a day's batches: a few thousand), so a
/// run's memory stays bounded (the objects are read whole).
pub const MAX_INPUTS: usize = 5_000;

/// Where compacted objects say what they cover.
const COVERS: &str = "vigil.compacted_from";

/// One object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub modified: DateTime<Utc>,
}

/// The lake as compaction sees it: S3 (`aws::s3::S3Lake`) or a directory (`DirLake`).
pub trait LakeObjects: Send + Sync {
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<ListedObject>, DeliveryError>> + Send;
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, DeliveryError>> + Send;
    /// Creates `key` unless it exists (a repeated run keeps the first copy).
    fn create(&self, key: &str, body: Vec<u8>) -> impl Future<Output = Result<(), DeliveryError>> + Send;
    /// Deletes `key`; one already gone is fine.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error(transparent)]
    Store(#[from] DeliveryError),
    #[error("{key}: {source}")]
    Parquet { key: String, source: ParquetError },
}

/// What one run did to one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Compacted {
    pub partition: String,
    /// The compacted object written, and how many objects and rows it holds.
    pub written: Option<String>,
    pub inputs: usize,
    pub rows: i64,
    /// Objects of another schema, left as they are.
    pub skipped: usize,
    /// Covered objects deleted, their compacted copy being old enough.
    pub retired: usize,
}

fn is_compacted(key: &str) -> bool {
    key.rsplit('/').next().is_some_and(|name| name.starts_with("compacted-"))
}

fn parquet_error(key: &str) -> impl FnOnce(ParquetError) -> CompactError + '_ {
    move |source| CompactError::Parquet { key: key.to_owned(), source }
}

fn metadata(key: &str, bytes: &bytes::Bytes) -> Result<ParquetMetaData, CompactError> {
    ParquetMetaDataReader::new().parse_and_finish(bytes).map_err(parquet_error(key))
}

/// The keys a compacted object covers, from its own metadata.
fn covered(key: &str, bytes: &bytes::Bytes) -> Result<Vec<String>, CompactError> {
    let meta = metadata(key, bytes)?;
    let value = meta
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|kv| kv.key == COVERS).and_then(|kv| kv.value.clone()));
    Ok(value.and_then(|v| serde_json::from_str(&v).ok()).unwrap_or_default())
}

/// Compacts, then retires, `table/dt=day/` as of `now`.
pub async fn partition<L: LakeObjects>(
    lake: &L,
    table: &str,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Compacted, CompactError> {
    let prefix = format!("{table}/dt={day}/");
    let schema = TABLES.iter().find(|(name, _)| *name == table).map(|(_, s)| *s);
    let expected = schema
        .map(|s| parquet::schema::parser::parse_message_type(s).map(Arc::new))
        .transpose()
        .map_err(parquet_error(table))?;
    let listed = lake.list(&prefix).await?;
    let mut report = Compacted { partition: prefix.clone(), ..Compacted::default() };
    let mut already = std::collections::BTreeSet::new();
    let mut retire = Vec::new();
    for object in listed.iter().filter(|o| is_compacted(&o.key)) {
        let bytes = bytes::Bytes::from(lake.get(&object.key).await?);
        let covers = covered(&object.key, &bytes)?;
        if object.modified + RETIRE_AFTER <= now {
            retire.extend(covers.iter().cloned());
        }
        already.extend(covers);
    }
    let present: std::collections::BTreeSet<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    for key in retire.iter().filter(|k| present.contains(k.as_str())) {
        lake.delete(key).await?;
        report.retired += 1;
    }
    // Small objects no compacted object covers yet, in listing order (by key) up to the
    // cap; sorted below, so the same inputs always make the same object under the same key.
    let mut inputs = Vec::new();
    for object in listed.iter().filter(|o| !is_compacted(&o.key) && !already.contains(&o.key)) {
        if inputs.len() == MAX_INPUTS {
            break;
        }
        let bytes = bytes::Bytes::from(lake.get(&object.key).await?);
        let meta = metadata(&object.key, &bytes)?;
        let same = expected.as_ref().is_some_and(|e| meta.file_metadata().schema() == e.as_ref());
        if same {
            inputs.push((object.key.clone(), bytes, meta));
        } else {
            report.skipped += 1;
        }
    }
    if inputs.len() < 2 {
        return Ok(report);
    }
    inputs.sort_by(|a, b| a.0.cmp(&b.0));
    let keys: Vec<&str> = inputs.iter().map(|(k, _, _)| k.as_str()).collect();
    let digest: String =
        Sha256::digest(keys.join("\n").as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
    let key = format!("{prefix}compacted-{digest}.parquet");
    let body = concat(&inputs, &keys).map_err(parquet_error(&key))?;
    lake.create(&key, body).await?;
    report.rows = inputs.iter().map(|(_, _, m)| m.file_metadata().num_rows()).sum();
    report.inputs = inputs.len();
    report.written = Some(key);
    Ok(report)
}

/// Every table's partition of `day`.
pub async fn day<L: LakeObjects>(
    lake: &L,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<Compacted>, CompactError> {
    let mut out = Vec::with_capacity(TABLES.len());
    for (table, _) in TABLES {
        out.push(partition(lake, table, day, now).await?);
    }
    Ok(out)
}

/// One file holding every row group of `inputs` (all of one schema), their column chunks
/// copied as they are, with the inputs' keys in its metadata.
fn concat(
    inputs: &[(String, bytes::Bytes, ParquetMetaData)],
    keys: &[&str],
) -> Result<Vec<u8>, ParquetError> {
    let first = &inputs[0].2;
    let schema = first.file_metadata().schema_descr().root_schema_ptr();
    let covers = serde_json::to_string(keys).map_err(|e| ParquetError::General(e.to_string()))?;
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new(COVERS.to_owned(), covers)]));
    let mut out = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut out, schema, Arc::new(props.build()))?;
    for (_, bytes, meta) in inputs {
        for group in meta.row_groups() {
            let mut copy = writer.next_row_group()?;
            for column in group.columns() {
                let chunk = ColumnCloseResult {
                    bytes_written: column.compressed_size() as _,
                    rows_written: group.num_rows() as _,
                    metadata: column.clone(),
                    bloom_filter: None,
                    column_index: None,
                    offset_index: None,
                };
                copy.append_column(bytes, chunk)?;
            }
            copy.close()?;
        }
    }
    writer.close()?;
    Ok(out)
}
