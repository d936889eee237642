//! S3: the decision lake (Parquet, `<table>/dt=YYYY-MM-DD/<batch>.parquet`: see
//! `archive::parquet`), quarantined records (JSON lines), and reading the
//! batch files upstream systems drop for the producer.

use super::{PARALLELISM, describe};
use crate::alert::DeliveryError;
use crate::archive::{BatchKey, DecisionArchive, Lake, parquet};
use crate::batch::{Quarantine, Quarantined};
use crate::privacy::{Privacy, Purpose, SealError};
use crate::redact::scrub;
use crate::store::StoreError;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use std::sync::Arc;

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

/// Reads a whole object; for small ones (quarantine and lake objects in tests and the
/// local demo). The producer streams its batch files with [`size`] and [`body`] instead.
pub async fn get(client: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, DeliveryError> {
    let out = client.get_object().bucket(bucket).key(key).send().await.map_err(error)?;
    let body = out.body.collect().await.map_err(error)?;
    Ok(body.into_bytes().to_vec())
}

/// An object's size in bytes (HeadObject): known before any byte of it is fetched.
/// Copies every object under `prefix` to `dir`, keys relative to the prefix (a lake for
/// `vigil report --lake s3://…`); at most `limit` objects. Returns how many.
pub async fn download(
    client: &Client,
    bucket: &str,
    prefix: &str,
    dir: &std::path::Path,
    limit: usize,
) -> Result<usize, DeliveryError> {
    let prefix =
        if prefix.is_empty() || prefix.ends_with('/') { prefix.to_owned() } else { format!("{prefix}/") };
    let mut pages = client.list_objects_v2().bucket(bucket).prefix(&prefix).into_paginator().send();
    let mut copied = 0;
    while let Some(page) = pages.next().await {
        for object in page.map_err(error)?.contents() {
            let Some(key) = object.key() else { continue };
            let relative = &key[prefix.len()..];
            // Keys are the lake's own (`table/dt=…/batch.parquet`); nothing climbs out.
            if relative.is_empty() || relative.split('/').any(|p| p == ".." || p.is_empty()) {
                continue;
            }
            if copied == limit {
                return Err(DeliveryError {
                    service: "S3",
                    message: format!("more than {limit} objects under {prefix}"),
                });
            }
            let path = dir.join(relative);
            let body = get(client, bucket, key).await?;
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&path, body));
            written.map_err(|e| DeliveryError {
                service: "local disk",
                message: format!("{}: {e}", path.display()),
            })?;
            copied += 1;
        }
    }
    Ok(copied)
}

pub async fn size(client: &Client, bucket: &str, key: &str) -> Result<u64, DeliveryError> {
    let out = client.head_object().bucket(bucket).key(key).send().await.map_err(error)?;
    let length = out.content_length.ok_or_else(|| DeliveryError {
        service: "S3",
        message: format!("no size for s3://{bucket}/{key}"),
    })?;
    // S3 sizes are never negative; a negative one would be a broken response.
    u64::try_from(length).map_err(|_| DeliveryError {
        service: "S3",
        message: format!("size {length} for s3://{bucket}/{key}"),
    })
}

/// An object's body, fetched as it is read.
pub async fn body(client: &Client, bucket: &str, key: &str) -> Result<ByteStream, DeliveryError> {
    Ok(client.get_object().bucket(bucket).key(key).send().await.map_err(error)?.body)
}

/// Body chunks in flight between the network and a blocking reader: with the SDK's
/// chunks of at most a few tens of kilobytes, well under a megabyte.
const BODY_CHUNKS: usize = 16;

/// `body` as a blocking [`std::io::Read`], for a parser on a blocking thread: the
/// returned future moves chunks from the network to the reader through a small channel,
/// and must be polled while the reader is read. Both stop when either is dropped.
pub fn blocking_body(
    mut body: ByteStream,
) -> (impl std::future::Future<Output = Result<(), DeliveryError>> + Send, BodyReader) {
    let (tx, rx) = tokio::sync::mpsc::channel(BODY_CHUNKS);
    let pump = async move {
        while let Some(chunk) = body.next().await {
            let (piece, failed) = match chunk.map_err(error) {
                Ok(bytes) => (Piece::Data(bytes), None),
                Err(e) => (Piece::Failed(e.message.clone()), Some(e)),
            };
            // A closed channel: the reader stopped early (a refused file), nothing more to fetch.
            if tx.send(piece).await.is_err() {
                return Ok(());
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
        let _ = tx.send(Piece::End).await;
        Ok(())
    };
    (pump, BodyReader { rx, current: bytes::Bytes::new() })
}

/// What [`blocking_body`] hands its reader: the end is said, so that a body cut short
/// (or a pump dropped) is never taken for the end of the file.
enum Piece {
    Data(bytes::Bytes),
    End,
    Failed(String),
}

/// The reading end of [`blocking_body`]; blocks, so only on a blocking thread.
pub struct BodyReader {
    rx: tokio::sync::mpsc::Receiver<Piece>,
    current: bytes::Bytes,
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Piece::Data(bytes)) => self.current = bytes,
                Some(Piece::End) => return Ok(0),
                Some(Piece::Failed(e)) => return Err(std::io::Error::other(e)),
                None => return Err(std::io::Error::other("the object's body stopped before its end")),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
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

/// Creates `key` unless an object is there (`If-None-Match: *`); `false` when one is: an
/// earlier attempt stored it (412) or a concurrent one is storing it (409).
pub async fn put_if_absent(
    client: &Client,
    bucket: &str,
    key: String,
    body: Vec<u8>,
    content_type: &str,
) -> Result<bool, DeliveryError> {
    let sent = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .if_none_match("*")
        .content_type(content_type)
        .body(ByteStream::from(body))
        .send()
        .await;
    match sent {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.raw_response().map(|r| r.status().as_u16()), Some(412 | 409)) => Ok(false),
        Err(e) => Err(error(e)),
    }
}

/// Creates a lake object once: a retried write keeps what the first stored.
async fn create_once(client: &Client, bucket: &str, key: String, body: Vec<u8>) -> Result<(), DeliveryError> {
    put_if_absent(client, bucket, key, body, "application/vnd.apache.parquet").await.map(drop)
}

impl DecisionArchive for S3Lake {
    /// One object per table and day a batch touches, named by the batch key and created
    /// once (`If-None-Match: *`): a retried batch finds its objects there and keeps them.
    async fn put(&self, batch: &BatchKey, lake: &Lake<'_>) -> Result<(), DeliveryError> {
        let puts = parquet::objects(batch, lake)
            .map_err(error)?
            .into_iter()
            .map(|o| create_once(&self.client, &self.bucket, o.key, o.body));
        stream::iter(puts).buffer_unordered(PARALLELISM).try_collect::<Vec<()>>().await?;
        Ok(())
    }
}

impl crate::archive::compact::LakeObjects for S3Lake {
    async fn list(&self, prefix: &str) -> Result<Vec<crate::archive::compact::ListedObject>, DeliveryError> {
        let mut out = Vec::new();
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            for o in page.map_err(error)?.contents() {
                let (Some(key), Some(modified)) = (o.key(), o.last_modified()) else { continue };
                let modified =
                    DateTime::from_timestamp(modified.secs(), modified.subsec_nanos()).unwrap_or_default();
                out.push(crate::archive::compact::ListedObject { key: key.to_owned(), modified });
            }
        }
        Ok(out)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, DeliveryError> {
        get(&self.client, &self.bucket, key).await
    }

    async fn create(&self, key: &str, body: Vec<u8>) -> Result<(), DeliveryError> {
        create_once(&self.client, &self.bucket, key.to_owned(), body).await
    }

    async fn delete(&self, key: &str) -> Result<(), DeliveryError> {
        self.client.delete_object().bucket(&self.bucket).key(key).send().await.map(drop).map_err(error)
    }
}

/// The reports bucket: results, pages and manifests of the report trigger's runs.
pub struct S3Reports {
    client: Client,
    bucket: String,
    /// Where reports go in the bucket (`reports/`: what the backup copier copies).
    prefix: String,
}

impl S3Reports {
    pub fn new(client: Client, bucket: &str, prefix: &str) -> Self {
        Self { client, bucket: bucket.into(), prefix: prefix.into() }
    }
}

impl crate::report::trigger::ReportStore for S3Reports {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Result<String, DeliveryError> {
        let key = format!("{}{key}", self.prefix);
        put(&self.client, &self.bucket, key.clone(), body, content_type).await?;
        Ok(format!("s3://{}/{key}", self.bucket))
    }
}

pub struct S3Quarantine {
    client: Client,
    bucket: String,
    privacy: Arc<Privacy>,
}

impl S3Quarantine {
    pub fn new(client: Client, bucket: impl Into<String>, privacy: Arc<Privacy>) -> Self {
        Self { client, bucket: bucket.into(), privacy }
    }
}

/// One JSON line per record: its position (the stream's shard and sequence, or the file
/// and line: where to find it again), code and reason (scrubbed), and the payload as
/// received sealed for compliance (`vigil reveal` opens it, to inspect and replay): a
/// refused record may hold a card number or a name in the clear.
pub async fn quarantine_lines(records: &[Quarantined], privacy: &Privacy) -> Result<String, SealError> {
    let mut out = String::new();
    for r in records {
        let mut line = serde_json::json!({
            "position": r.position,
            "code": r.code,
            "reason": scrub(&r.reason),
        });
        if !r.payload.is_empty() {
            line["payload_sealed"] =
                privacy.envelope.seal(Purpose::Quarantine, &r.payload).await?.as_str().into();
        }
        out.push_str(&line.to_string());
        out.push('\n');
    }
    Ok(out)
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
        let lines = quarantine_lines(&records, &self.privacy)
            .await
            .map_err(|e| StoreError::Transient(e.to_string()))?;
        put(&self.client, &self.bucket, key, lines.into_bytes(), "application/x-ndjson")
            .await
            .map_err(|e| StoreError::Transient(e.to_string()))
    }
}
