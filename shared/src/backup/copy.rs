//! Copying: one version after a manifest lookup, or every version the manifest lacks.

use super::config::BackupConfig;
use super::digest::{Digests, Hasher};
use super::manifest::{Copy, Entry, Manifest, object_name};
use super::target::{BackupError, BackupTarget, Source, SourceObject, Stored, Upload};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::{BTreeMap, HashSet};

/// The backup: a source, its targets (the first is the primary: the manifest's index is
/// there), and the configuration.
pub struct Backup<'a> {
    pub source: &'a dyn Source,
    pub targets: Vec<&'a dyn BackupTarget>,
    pub config: &'a BackupConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyOutcome {
    /// The manifest already records this version: nothing was read or written.
    AlreadyBackedUp(Box<Entry>),
    /// Copied (to the targets that lacked it) and recorded.
    Copied(Box<Entry>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Versions under the configured prefixes.
    pub versions: usize,
    pub already: usize,
    pub copied: Vec<Entry>,
    pub bytes: u64,
}

/// Entries appended to the manifest per segment during a reconciliation: a crash loses
/// at most this many records (their copies are found stored and recorded next time).
const SEGMENT_ENTRIES: usize = 100;

impl Backup<'_> {
    fn manifest(&self) -> Manifest<'_> {
        Manifest { targets: &self.targets }
    }

    /// Backs up one version of `bucket`/`key` (the current one if `version` is `None`):
    /// what an S3 "Object Created" event asks. A version the manifest records is a no-op,
    /// so a redelivered event changes nothing.
    pub async fn copy_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<CopyOutcome, BackupError> {
        if !self.config.covers(bucket, key) {
            return Err(BackupError::Invalid(format!(
                "s3://{bucket}/{key} is not under a backed-up bucket and prefix"
            )));
        }
        let object = self.source.head(bucket, key, version).await?.ok_or_else(|| {
            BackupError::Invalid(format!(
                "s3://{bucket}/{key} (version {}) does not exist: nothing to back up",
                version.unwrap_or("current")
            ))
        })?;
        let manifest = self.manifest();
        if let Some(entry) = manifest.lookup(&object).await? {
            return Ok(CopyOutcome::AlreadyBackedUp(Box::new(entry)));
        }
        let entry = self.copy_object(&object, now).await?;
        manifest.append(std::slice::from_ref(&entry), now).await?;
        Ok(CopyOutcome::Copied(Box::new(entry)))
    }

    /// Copies every version under the configured prefixes that the manifest lacks (the
    /// scheduled full reconciliation: events lost or never sent).
    pub async fn reconcile(&self, now: DateTime<Utc>) -> Result<ReconcileReport, BackupError> {
        let primary =
            self.targets.first().copied().ok_or_else(|| BackupError::Invalid("no target".into()))?;
        let recorded: HashSet<String> =
            Manifest::load(primary).await?.entries.iter().map(Entry::id).collect();
        let mut report = ReconcileReport::default();
        let mut todo = Vec::new();
        for spec in &self.config.sources {
            for prefix in &spec.prefixes {
                for object in self.source.versions(&spec.bucket, prefix).await? {
                    report.versions += 1;
                    let id = format!("{}/{}@{}", object.bucket, object.key, object.version);
                    if recorded.contains(&id) {
                        report.already += 1;
                    } else if object.size > self.config.max_object_bytes {
                        tracing::error!(object = %id, size = object.size, "too large to back up: skipped");
                    } else {
                        todo.push(object);
                    }
                }
            }
        }
        for batch in todo.chunks(SEGMENT_ENTRIES) {
            let copies = batch.iter().map(|o| self.copy_object(o, now));
            let entries: Vec<Entry> =
                stream::iter(copies).buffer_unordered(self.config.parallelism).try_collect().await?;
            self.manifest().append(&entries, now).await?;
            report.bytes += entries.iter().map(|e| e.size).sum::<u64>();
            report.copied.extend(entries);
        }
        Ok(report)
    }

    /// Copies `object` to each target that does not already hold it (a copy with its
    /// SHA-256 recorded: an earlier attempt got that far), streaming it once through the
    /// hashes and the uploads, and returns its manifest entry.
    async fn copy_object(&self, object: &SourceObject, now: DateTime<Utc>) -> Result<Entry, BackupError> {
        if object.size > self.config.max_object_bytes {
            return Err(BackupError::Invalid(format!(
                "s3://{}/{} is {} bytes, over the {}-byte limit of one copy",
                object.bucket, object.key, object.size, self.config.max_object_bytes
            )));
        }
        let name = object_name(&object.bucket, &object.key, &object.version);
        let mut done: Vec<(&dyn BackupTarget, Stored)> = Vec::new();
        let mut uploads: Vec<(&dyn BackupTarget, Box<dyn Upload<'_> + '_>)> = Vec::new();
        // A target that fails does not stop the others: what they stored stays stored, and
        // the retry copies only to the target that failed.
        let mut failed: Option<BackupError> = None;
        for target in &self.targets {
            match target.stat(&name).await {
                Ok(Some(stored)) if stored.sha256.is_some() && stored.size == object.size => {
                    done.push((*target, stored))
                }
                Ok(_) => match target.upload(object, &name).await {
                    Ok(upload) => uploads.push((*target, upload)),
                    Err(e) => failed = Some(e),
                },
                Err(e) => failed = Some(e),
            }
        }
        let mut digests = None;
        if !uploads.is_empty() {
            let mut chunks = self.source.read(object).await?;
            let mut hasher = Hasher::new();
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk?;
                hasher.update(&chunk);
                if hasher.size() > object.size {
                    break;
                }
                let mut i = 0;
                while i < uploads.len() {
                    match uploads[i].1.write(chunk.clone()).await {
                        Ok(()) => i += 1,
                        Err(e) => {
                            uploads.remove(i);
                            failed = Some(e);
                        }
                    }
                }
            }
            if hasher.size() != object.size {
                return Err(BackupError::transient(
                    "S3",
                    format!(
                        "s3://{}/{}: read {} bytes of {}",
                        object.bucket,
                        object.key,
                        hasher.size(),
                        object.size
                    ),
                ));
            }
            let whole = hasher.finish();
            for (target, upload) in uploads {
                match upload.finish(whole.clone()).await {
                    Ok(stored) => done.push((target, stored)),
                    Err(e) => failed = Some(e),
                }
            }
            digests = Some(whole);
        }
        if let Some(e) = failed {
            return Err(e);
        }
        let sha256 = match (&digests, done.first()) {
            (Some(Digests { sha256, .. }), _) => sha256.clone(),
            (None, Some((_, stored))) => {
                stored.sha256.clone().ok_or_else(|| BackupError::transient("manifest", "no SHA-256"))?
            }
            (None, None) => return Err(BackupError::Invalid("no backup target".into())),
        };
        let mut copies = BTreeMap::new();
        for (target, stored) in &done {
            if stored.sha256.as_ref() != Some(&sha256) {
                return Err(BackupError::transient(
                    target.kind().as_str(),
                    format!(
                        "{name} holds a copy of other bytes than the source's (SHA-256 {:?})",
                        stored.sha256
                    ),
                ));
            }
            copies.insert(target.kind(), Copy::of(stored));
        }
        tracing::info!(object = %name, size = object.size, sha256 = %sha256, "backed up");
        Ok(Entry {
            source_bucket: object.bucket.clone(),
            key: object.key.clone(),
            version: object.version.clone(),
            size: object.size,
            sha256,
            last_modified: object.last_modified,
            copied_at: now,
            copies,
        })
    }
}
