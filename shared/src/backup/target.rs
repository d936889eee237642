//! The ports: where objects come from ([`Source`]) and where their copies go
//! ([`BackupTarget`]). Boxed futures, so the copier holds its targets as `dyn` — one
//! list, whatever services are behind it.

use super::digest::{Digests, Sha256Hex};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

/// An object's bytes, chunk by chunk, as they arrive.
pub type Chunks = BoxStream<'static, Result<Bytes, BackupError>>;

/// What goes wrong, by what happens next (STYLE §3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    /// The request cannot be served as asked (a bucket or prefix not backed up, an object
    /// that does not exist, a malformed event): retrying would fail the same way. Counted
    /// and alarmed (`EventsRefused`), not retried.
    #[error("{0}")]
    Invalid(String),
    /// A service failed, timed out or answered something inconsistent: the invocation fails
    /// and Lambda retries it; what was copied stays copied.
    #[error("{target} unavailable: {message}")]
    Transient { target: &'static str, message: String },
}

impl BackupError {
    pub fn transient(target: &'static str, message: impl Into<String>) -> BackupError {
        BackupError::Transient { target, message: message.into() }
    }
}

/// One version of an object in a source bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceObject {
    pub bucket: String,
    pub key: String,
    /// `null` for an object written before versioning was on.
    pub version: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// The primary buckets.
pub trait Source: Send + Sync {
    /// The version (the current one if `None`), or `None` if there is no such object.
    fn head<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<SourceObject>, BackupError>>;
    /// The version's bytes.
    fn read<'a>(&'a self, object: &'a SourceObject) -> BoxFuture<'a, Result<Chunks, BackupError>>;
    /// Every version of every object under `prefix` (delete markers left out).
    fn versions<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SourceObject>, BackupError>>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    S3,
    Azure,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::S3 => "S3",
            TargetKind::Azure => "Azure",
        }
    }
}

/// A retention lock on a stored copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// `COMPLIANCE` (nobody, root included, may shorten or delete) or `GOVERNANCE`.
    pub mode: String,
    pub retain_until: DateTime<Utc>,
}

/// What a target holds under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Bucket or container.
    pub location: String,
    pub name: String,
    /// The S3 version the copy is (Azure: none; a container policy keeps blobs instead).
    pub version: Option<String>,
    pub size: u64,
    /// The SHA-256 the copier recorded on the copy (metadata): a copy without one was left
    /// half-done and is made again.
    pub sha256: Option<Sha256Hex>,
    pub lock: Option<Lock>,
    /// Azure: the blob's Content-MD5 and each block's, base64.
    pub content_md5: Option<String>,
    pub block_md5s: Vec<String>,
}

/// Where copies go: one adapter per service.
pub trait BackupTarget: Send + Sync {
    fn kind(&self) -> TargetKind;
    /// Bucket or container.
    fn location(&self) -> &str;
    /// What is stored under `name`, from its metadata; `None` if nothing.
    fn stat<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Stored>, BackupError>>;
    /// Starts copying `object` to `name`. The copier feeds the upload every chunk of the
    /// object in order, then finishes it with the whole object's digests; the upload checks
    /// what the service stored against them.
    fn upload<'a>(
        &'a self,
        object: &'a SourceObject,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Upload<'a> + 'a>, BackupError>>;
    /// The bytes under `name`: the `version` given, else what a reader gets now; `None` if
    /// missing.
    fn read<'a>(
        &'a self,
        name: &'a str,
        version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Chunks>, BackupError>>;
    /// Stores a small object whole (a manifest segment, a verify report), with its SHA-256
    /// for the service to check where it can.
    fn put<'a>(
        &'a self,
        name: &'a str,
        body: Bytes,
        sha256: &'a Sha256Hex,
    ) -> BoxFuture<'a, Result<(), BackupError>>;
    /// Names under `prefix`, sorted.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, BackupError>>;
}

/// A copy in progress (see [`BackupTarget::upload`]).
pub trait Upload<'a>: Send {
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, Result<(), BackupError>>;
    /// Completes the copy and checks it: the stored copy, as [`BackupTarget::stat`] would
    /// describe it.
    fn finish(self: Box<Self>, digests: Digests) -> BoxFuture<'a, Result<Stored, BackupError>>;
}
