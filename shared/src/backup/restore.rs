//! Restore: a prefix of a source bucket, as it stood at a time, copied from one target to
//! a scratch location, then read back there and compared with the manifest's SHA-256s.
//! The manifest read is the target's own, so a restore needs nothing but that target.

use super::copy::Backup;
use super::manifest::{Entry, Manifest};
use super::target::{BackupError, BackupTarget, Chunks, TargetKind};
use super::verify::sha256_of;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRequest {
    pub source_bucket: String,
    pub prefix: String,
    /// The latest version of each key last modified at or before this; `None`: now.
    pub as_of: Option<DateTime<Utc>>,
    pub from: TargetKind,
    pub to_bucket: String,
    /// Restored objects are named `<to_prefix><source bucket>/<key>`.
    pub to_prefix: String,
}

/// Where restored objects go (a scratch bucket).
pub trait RestoreSink: Send + Sync {
    fn write<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        size: u64,
        body: Chunks,
    ) -> BoxFuture<'a, Result<(), BackupError>>;
    fn read<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Chunks>, BackupError>>;
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RestoreReport {
    pub objects: usize,
    pub identical: usize,
    /// Source keys whose restored bytes differ from the manifest's SHA-256.
    pub differing: Vec<String>,
    /// Source keys the target no longer has.
    pub missing: Vec<String>,
}

impl RestoreReport {
    pub fn passed(&self) -> bool {
        self.identical == self.objects
    }
}

enum Restored {
    Identical,
    Differing(String),
    Missing(String),
}

impl Backup<'_> {
    pub async fn restore(
        &self,
        request: &RestoreRequest,
        sink: &dyn RestoreSink,
    ) -> Result<RestoreReport, BackupError> {
        let target = self.targets.iter().copied().find(|t| t.kind() == request.from).ok_or_else(|| {
            BackupError::Invalid(format!("no {} target to restore from", request.from.as_str()))
        })?;
        let loaded = Manifest::load(target).await?;
        let as_of = request.as_of.unwrap_or_else(Utc::now);
        let mut latest: BTreeMap<&str, &Entry> = BTreeMap::new();
        for e in &loaded.entries {
            if e.source_bucket != request.source_bucket
                || !e.key.starts_with(&request.prefix)
                || e.last_modified > as_of
            {
                continue;
            }
            let slot = latest.entry(e.key.as_str()).or_insert(e);
            if (e.last_modified, e.copied_at) > (slot.last_modified, slot.copied_at) {
                *slot = e;
            }
        }
        let restores = latest.values().map(|e| restore_one(target, e, request, sink));
        let results: Vec<Restored> =
            stream::iter(restores).buffer_unordered(self.config.parallelism).try_collect().await?;
        let mut report = RestoreReport { objects: results.len(), ..RestoreReport::default() };
        for r in results {
            match r {
                Restored::Identical => report.identical += 1,
                Restored::Differing(key) => report.differing.push(key),
                Restored::Missing(key) => report.missing.push(key),
            }
        }
        report.differing.sort();
        report.missing.sort();
        Ok(report)
    }
}

async fn restore_one(
    target: &dyn BackupTarget,
    entry: &Entry,
    request: &RestoreRequest,
    sink: &dyn RestoreSink,
) -> Result<Restored, BackupError> {
    let Some(copy) = entry.copies.get(&target.kind()) else {
        return Ok(Restored::Missing(entry.key.clone()));
    };
    let Some(body) = target.read(&copy.name, copy.version.as_deref()).await? else {
        return Ok(Restored::Missing(entry.key.clone()));
    };
    // No more than the manifest's size goes to the sink: a longer copy differs anyway.
    let limit = entry.size;
    let mut sent = 0u64;
    let body = body
        .map(move |chunk| {
            chunk.and_then(|c| {
                sent += c.len() as u64;
                if sent > limit {
                    Err(BackupError::Invalid(format!("copy is longer than its {limit} bytes")))
                } else {
                    Ok(c)
                }
            })
        })
        .boxed();
    let key = format!("{}{}/{}", request.to_prefix, entry.source_bucket, entry.key);
    match sink.write(&request.to_bucket, &key, entry.size, body).await {
        Ok(()) => {}
        Err(BackupError::Invalid(_)) => return Ok(Restored::Differing(entry.key.clone())),
        Err(e) => return Err(e),
    }
    let Some(back) = sink.read(&request.to_bucket, &key).await? else {
        return Ok(Restored::Missing(entry.key.clone()));
    };
    Ok(match sha256_of(back, entry.size).await? {
        Some(sha) if sha == entry.sha256 => Restored::Identical,
        _ => Restored::Differing(entry.key.clone()),
    })
}
