//! The manifest: one JSON line per object version copied, kept in every target.
//!
//! Each invocation appends a *segment* (`manifest/segments/<day>/<id>.jsonl`, the lines it
//! added), stored in every target with its own SHA-256, then one *index* entry per line
//! (`manifest/index/<bucket>/<key>@<version>.json`, in the primary target) for the
//! lookup before a copy. Segments are written before the index, so whatever the index
//! holds, a segment holds too: a crash in between leaves a copy the next run finds
//! already stored and records without copying it again.

use super::digest::Sha256Hex;
use super::target::{BackupError, BackupTarget, Chunks, Lock, SourceObject, Stored, TargetKind};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// Where a copy is, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Copy {
    /// Bucket or container.
    pub location: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_md5: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block_md5s: Vec<String>,
}

impl Copy {
    pub fn of(stored: &Stored) -> Copy {
        Copy {
            location: stored.location.clone(),
            name: stored.name.clone(),
            version: stored.version.clone(),
            lock_mode: stored.lock.as_ref().map(|l| l.mode.clone()),
            retain_until: stored.lock.as_ref().map(|l| l.retain_until),
            content_md5: stored.content_md5.clone(),
            block_md5s: stored.block_md5s.clone(),
        }
    }

    pub fn lock(&self) -> Option<Lock> {
        Some(Lock { mode: self.lock_mode.clone()?, retain_until: self.retain_until? })
    }
}

/// One object version, backed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub source_bucket: String,
    pub key: String,
    pub version: String,
    pub size: u64,
    pub sha256: Sha256Hex,
    pub last_modified: DateTime<Utc>,
    pub copied_at: DateTime<Utc>,
    /// One per target.
    pub copies: BTreeMap<TargetKind, Copy>,
}

impl Entry {
    /// `bucket/key@version`: what findings and reports name.
    pub fn id(&self) -> String {
        format!("{}/{}@{}", self.source_bucket, self.key, self.version)
    }

    pub fn is(&self, object: &SourceObject) -> bool {
        self.source_bucket == object.bucket && self.key == object.key && self.version == object.version
    }
}

/// The name a version's copy has in every target: `objects/<bucket>/<key>@<version>`,
/// so a new version of a key is a new copy and never overwrites an older one (a container
/// under a time-based retention policy refuses overwrites anyway).
pub fn object_name(bucket: &str, key: &str, version: &str) -> String {
    format!("objects/{bucket}/{key}@{version}")
}

fn index_name(bucket: &str, key: &str, version: &str) -> String {
    format!("manifest/index/{bucket}/{key}@{version}.json")
}

pub const SEGMENTS: &str = "manifest/segments/";

/// Most bytes of manifest text read into memory at once (a segment, an index entry).
const MAX_SEGMENT_BYTES: usize = 64 * 1024 * 1024;

/// Reads a whole (small) object into memory, refusing more than `limit` bytes.
pub(crate) async fn collect(mut chunks: Chunks, limit: usize, what: &str) -> Result<Vec<u8>, BackupError> {
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if out.len() + chunk.len() > limit {
            return Err(BackupError::Invalid(format!("{what} is larger than {limit} bytes")));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The manifest in the targets; the first is the primary (the index lives there).
pub struct Manifest<'a> {
    pub targets: &'a [&'a dyn BackupTarget],
}

/// The manifest as read from one target.
#[derive(Debug, Default)]
pub struct Loaded {
    pub entries: Vec<Entry>,
    /// Segments whose bytes no longer match their recorded SHA-256, or that cannot be read.
    pub corrupt: Vec<String>,
    pub segments: Vec<String>,
}

impl Manifest<'_> {
    fn primary(&self) -> Result<&dyn BackupTarget, BackupError> {
        self.targets.first().copied().ok_or_else(|| BackupError::Invalid("no backup target".into()))
    }

    /// The entry recorded for this version, if it was backed up.
    pub async fn lookup(&self, object: &SourceObject) -> Result<Option<Entry>, BackupError> {
        let name = index_name(&object.bucket, &object.key, &object.version);
        let Some(chunks) = self.primary()?.read(&name, None).await? else { return Ok(None) };
        let bytes = collect(chunks, MAX_SEGMENT_BYTES, &name).await?;
        let entry: Entry = serde_json::from_slice(&bytes).map_err(|e| {
            BackupError::transient("manifest", format!("{name} does not read as an entry: {e}"))
        })?;
        Ok(entry.is(object).then_some(entry))
    }

    /// Appends `entries`: one segment in every target, then the index. Returns the
    /// segment's name.
    pub async fn append(&self, entries: &[Entry], now: DateTime<Utc>) -> Result<Option<String>, BackupError> {
        if entries.is_empty() {
            return Ok(None);
        }
        let mut text = String::new();
        for e in entries {
            let line = serde_json::to_string(e).map_err(|e| BackupError::Invalid(e.to_string()))?;
            text.push_str(&line);
            text.push('\n');
        }
        let body = Bytes::from(text);
        let sha = Sha256Hex::of(&body);
        // Named by time and content: the same lines appended twice are one segment.
        let name = format!(
            "{SEGMENTS}{}/{}-{}.jsonl",
            now.format("%Y-%m-%d"),
            now.format("%H%M%S%.3f"),
            &sha.as_str()[..16]
        );
        for target in self.targets {
            target.put(&name, body.clone(), &sha).await?;
        }
        let primary = self.primary()?;
        for e in entries {
            let body = Bytes::from(serde_json::to_vec(e).map_err(|e| BackupError::Invalid(e.to_string()))?);
            let sha = Sha256Hex::of(&body);
            primary.put(&index_name(&e.source_bucket, &e.key, &e.version), body, &sha).await?;
        }
        Ok(Some(name))
    }

    /// Every entry in `target`'s segments (each version once), with each segment checked
    /// against its own SHA-256.
    pub async fn load(target: &dyn BackupTarget) -> Result<Loaded, BackupError> {
        let mut out = Loaded::default();
        let mut seen = HashSet::new();
        for name in target.list(SEGMENTS).await? {
            let recorded = target.stat(&name).await?.and_then(|s| s.sha256);
            let Some(chunks) = target.read(&name, None).await? else {
                out.corrupt.push(name);
                continue;
            };
            let bytes = match collect(chunks, MAX_SEGMENT_BYTES, &name).await {
                Ok(bytes) => bytes,
                Err(BackupError::Invalid(_)) => {
                    out.corrupt.push(name);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if recorded.as_ref() != Some(&Sha256Hex::of(&bytes)) {
                tracing::warn!(segment = %name, target = target.kind().as_str(), "manifest segment does not match its SHA-256");
                out.corrupt.push(name);
                continue;
            }
            for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let entry: Entry = serde_json::from_slice(line).map_err(|e| {
                    BackupError::transient(
                        "manifest",
                        format!("{name}: a line does not read as an entry: {e}"),
                    )
                })?;
                if seen.insert(entry.id()) {
                    out.entries.push(entry);
                }
            }
            out.segments.push(name);
        }
        Ok(out)
    }
}
