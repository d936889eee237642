//! S3: the decision lake (Parquet, `decisions/dt=YYYY-MM-DD/<batch>.parquet` and
//! `labels/dt=…/<batch>.parquet`), quarantined records (JSON lines), and reading the
//! batch files upstream systems drop for the producer.

use super::{PARALLELISM, describe};
use crate::alert::DeliveryError;
use crate::archive::BatchKey;
use crate::archive::{DecisionArchive, parquet};
use crate::batch::{Quarantine, Quarantined};
use crate::decision::Decision;
use crate::label::LabelEvent;
use crate::store::StoreError;
use crate::transaction::Transaction;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::BTreeMap;

/// An S3 client; path-style addressing when an endpoint is configured (`AWS_ENDPOINT_URL`,
/// a local stand-in: moto has no virtual-host DNS).
pub fn client(config: &aws_config::SdkConfig) -> Client {
    let local = config.endpoint_url().is_some();
    let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(local).build();
    Client::from_conf(s3)
}

fn error(e: impl std::error::Error + 'static) -> DeliveryError {
    DeliveryError { service: "S3", message: describe(&e) }
}

async fn put(
    client: &Client,
    bucket: &str,
    key: String,
    body: Vec<u8>,
    content_type: &str,
) -> Result<(), DeliveryError> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(error)?;
    Ok(())
}

/// Reads a whole object (the producer's batch files).
pub async fn get(client: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, DeliveryError> {
    let out = client.get_object().bucket(bucket).key(key).send().await.map_err(error)?;
    let body = out.body.collect().await.map_err(error)?;
    Ok(body.into_bytes().to_vec())
}

pub struct S3Lake {
    client: Client,
    bucket: String,
}

impl S3Lake {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }
}

fn by_day<T>(rows: &[T], day: impl Fn(&T) -> NaiveDate) -> BTreeMap<NaiveDate, Vec<&T>> {
    let mut out: BTreeMap<NaiveDate, Vec<&T>> = BTreeMap::new();
    for r in rows {
        out.entry(day(r)).or_default().push(r);
    }
    out
}

impl DecisionArchive for S3Lake {
    /// One object per table and day a batch touches, named by the batch key: a retried
    /// batch overwrites its own objects.
    async fn put(
        &self,
        batch: &BatchKey,
        decisions: &[(&Transaction, &Decision)],
        labels: &[&LabelEvent],
    ) -> Result<(), DeliveryError> {
        let mut objects = Vec::new();
        for (day, rows) in by_day(decisions, |(t, _)| t.at.date_naive()) {
            let rows: Vec<_> = rows.into_iter().copied().collect();
            let body = parquet::decisions(&rows).map_err(error)?;
            objects.push((format!("decisions/dt={day}/{}.parquet", batch.as_str()), body));
        }
        for (day, rows) in by_day(labels, |l| l.known_at.date_naive()) {
            let rows: Vec<_> = rows.into_iter().copied().collect();
            let body = parquet::labels(&rows).map_err(error)?;
            objects.push((format!("labels/dt={day}/{}.parquet", batch.as_str()), body));
        }
        let puts = objects
            .into_iter()
            .map(|(key, body)| put(&self.client, &self.bucket, key, body, "application/vnd.apache.parquet"));
        stream::iter(puts).buffer_unordered(PARALLELISM).try_collect::<Vec<()>>().await?;
        Ok(())
    }
}

pub struct S3Quarantine {
    client: Client,
    bucket: String,
}

impl S3Quarantine {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }
}

/// One JSON line per record: its position, reason and the payload as received (text, or
/// base64 when it is not UTF-8), so it can be inspected and replayed.
pub fn quarantine_lines(records: &[Quarantined]) -> String {
    use base64::Engine;
    let mut out = String::new();
    for r in records {
        let mut line = serde_json::json!({ "position": r.position, "code": r.code, "reason": r.reason });
        match std::str::from_utf8(&r.payload) {
            Ok(text) => line["payload"] = text.into(),
            Err(_) => {
                line["payload_base64"] = base64::engine::general_purpose::STANDARD.encode(&r.payload).into()
            }
        }
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

impl Quarantine for S3Quarantine {
    /// Named by the first record's position and the count, so a retried batch overwrites.
    async fn put(&self, records: Vec<Quarantined>) -> Result<(), StoreError> {
        let Some(first) = records.first() else { return Ok(()) };
        let key = format!(
            "quarantine/dt={}/{}-{}.jsonl",
            Utc::now().date_naive(),
            first.position.replace(['/', '@'], "_"),
            records.len()
        );
        put(&self.client, &self.bucket, key, quarantine_lines(&records).into_bytes(), "application/x-ndjson")
            .await
            .map_err(|e| StoreError::Transient(e.to_string()))
    }
}
