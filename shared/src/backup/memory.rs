//! In-memory adapters of the backup's ports, for the domain's unit tests (the S3 and
//! Azure adapters are tested against moto and Azurite in `tests/`).

use super::digest::{Digests, Sha256Hex};
use super::restore::RestoreSink;
use super::target::{BackupError, BackupTarget, Chunks, Source, SourceObject, Stored, TargetKind, Upload};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, stream};
use std::collections::BTreeMap;
use std::sync::Mutex;

fn chunks_of(bytes: Bytes) -> Chunks {
    // Small chunks, so streaming code sees more than one.
    let pieces: Vec<Result<Bytes, BackupError>> =
        (0..bytes.len()).step_by(1000).map(|i| Ok(bytes.slice(i..(i + 1000).min(bytes.len())))).collect();
    stream::iter(pieces).boxed()
}

/// An object's versions, oldest first.
type Versions = Vec<(SourceObject, Bytes)>;

/// Buckets of versioned objects: `(bucket, key)` → versions.
#[derive(Default)]
pub struct MemorySource {
    objects: Mutex<BTreeMap<(String, String), Versions>>,
}

impl MemorySource {
    /// Writes a new version; returns its id.
    pub fn put(&self, bucket: &str, key: &str, body: &[u8], at: DateTime<Utc>) -> String {
        let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        let versions = objects.entry((bucket.to_owned(), key.to_owned())).or_default();
        let version = format!("v{}", versions.len() + 1);
        let object = SourceObject {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version: version.clone(),
            size: body.len() as u64,
            last_modified: at,
        };
        versions.push((object, Bytes::copy_from_slice(body)));
        version
    }

    fn find(&self, bucket: &str, key: &str, version: Option<&str>) -> Option<(SourceObject, Bytes)> {
        let objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        let versions = objects.get(&(bucket.to_owned(), key.to_owned()))?;
        match version {
            Some(v) => versions.iter().find(|(o, _)| o.version == v).cloned(),
            None => versions.last().cloned(),
        }
    }
}

impl Source for MemorySource {
    fn head<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<SourceObject>, BackupError>> {
        async move { Ok(self.find(bucket, key, version).map(|(o, _)| o)) }.boxed()
    }

    fn read<'a>(&'a self, object: &'a SourceObject) -> BoxFuture<'a, Result<Chunks, BackupError>> {
        async move {
            let (_, body) = self
                .find(&object.bucket, &object.key, Some(&object.version))
                .ok_or_else(|| BackupError::transient("memory", "gone"))?;
            Ok(chunks_of(body))
        }
        .boxed()
    }

    fn versions<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SourceObject>, BackupError>> {
        async move {
            let objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
            Ok(objects
                .iter()
                .filter(|((b, k), _)| b == bucket && k.starts_with(prefix))
                .flat_map(|(_, versions)| versions.iter().map(|(o, _)| o.clone()))
                .collect())
        }
        .boxed()
    }
}

/// A target keeping every version of every name; the last is what a reader gets, and
/// `None` is a delete marker.
/// A stored version: its id, bytes and the SHA-256 recorded with it; `None` is a delete marker.
type Held = Option<(String, Bytes, Option<Sha256Hex>)>;

pub struct MemoryTarget {
    pub kind: TargetKind,
    objects: Mutex<BTreeMap<String, Vec<Held>>>,
    /// While set, every call fails (an outage).
    pub down: std::sync::atomic::AtomicBool,
}

impl MemoryTarget {
    pub fn new(kind: TargetKind) -> MemoryTarget {
        MemoryTarget { kind, objects: Mutex::default(), down: Default::default() }
    }

    fn check(&self) -> Result<(), BackupError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(BackupError::transient(self.kind.as_str(), "outage"));
        }
        Ok(())
    }

    fn store(&self, name: &str, body: Bytes, sha256: Option<Sha256Hex>) -> String {
        let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        let versions = objects.entry(name.to_owned()).or_default();
        let version = format!("b{}", versions.len() + 1);
        versions.push(Some((version.clone(), body, sha256)));
        version
    }

    /// Lays other bytes over `name` (a new version, as anyone with write access could).
    pub fn overwrite(&self, name: &str, body: &[u8]) {
        self.store(name, Bytes::copy_from_slice(body), None);
    }

    /// Hides `name` behind a delete marker.
    pub fn delete(&self, name: &str) {
        let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        objects.entry(name.to_owned()).or_default().push(None);
    }

    pub fn names(&self) -> Vec<String> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }

    fn current(&self, name: &str, version: Option<&str>) -> Option<(String, Bytes, Option<Sha256Hex>)> {
        let objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        let versions = objects.get(name)?;
        match version {
            Some(v) => versions.iter().flatten().find(|(id, _, _)| id == v).cloned(),
            None => versions.last().cloned().flatten(),
        }
    }
}

struct MemoryUpload<'a> {
    target: &'a MemoryTarget,
    name: String,
    body: Vec<u8>,
}

impl<'a> Upload<'a> for MemoryUpload<'a> {
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, Result<(), BackupError>> {
        async move {
            self.target.check()?;
            self.body.extend_from_slice(&chunk);
            Ok(())
        }
        .boxed()
    }

    fn finish(self: Box<Self>, digests: Digests) -> BoxFuture<'a, Result<Stored, BackupError>> {
        async move {
            self.target.check()?;
            let size = self.body.len() as u64;
            let version = self.target.store(&self.name, Bytes::from(self.body), Some(digests.sha256.clone()));
            Ok(Stored {
                location: "memory".into(),
                name: self.name,
                version: (self.target.kind == TargetKind::S3).then_some(version),
                size,
                sha256: Some(digests.sha256),
                lock: None,
                content_md5: Some(digests.md5),
                block_md5s: Vec::new(),
            })
        }
        .boxed()
    }
}

impl BackupTarget for MemoryTarget {
    fn kind(&self) -> TargetKind {
        self.kind
    }

    fn location(&self) -> &str {
        "memory"
    }

    fn stat<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Stored>, BackupError>> {
        async move {
            self.check()?;
            Ok(self.current(name, None).map(|(version, body, sha256)| Stored {
                location: "memory".into(),
                name: name.to_owned(),
                version: Some(version),
                size: body.len() as u64,
                sha256,
                lock: None,
                content_md5: None,
                block_md5s: Vec::new(),
            }))
        }
        .boxed()
    }

    fn upload<'a>(
        &'a self,
        _object: &'a SourceObject,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Upload<'a> + 'a>, BackupError>> {
        async move {
            self.check()?;
            let upload: Box<dyn Upload<'a> + 'a> =
                Box::new(MemoryUpload { target: self, name: name.to_owned(), body: Vec::new() });
            Ok(upload)
        }
        .boxed()
    }

    fn read<'a>(
        &'a self,
        name: &'a str,
        version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Chunks>, BackupError>> {
        async move {
            self.check()?;
            Ok(self.current(name, version).map(|(_, body, _)| chunks_of(body)))
        }
        .boxed()
    }

    fn put<'a>(
        &'a self,
        name: &'a str,
        body: Bytes,
        sha256: &'a Sha256Hex,
    ) -> BoxFuture<'a, Result<(), BackupError>> {
        async move {
            self.check()?;
            self.store(name, body, Some(sha256.clone()));
            Ok(())
        }
        .boxed()
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, BackupError>> {
        async move {
            self.check()?;
            let objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
            Ok(objects
                .iter()
                .filter(|(n, v)| n.starts_with(prefix) && v.last().is_some_and(Option::is_some))
                .map(|(n, _)| n.clone())
                .collect())
        }
        .boxed()
    }
}

/// A scratch bucket in memory.
#[derive(Default)]
pub struct MemorySink {
    pub objects: Mutex<BTreeMap<(String, String), Bytes>>,
}

impl RestoreSink for MemorySink {
    fn write<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        _size: u64,
        mut body: Chunks,
    ) -> BoxFuture<'a, Result<(), BackupError>> {
        async move {
            let mut bytes = Vec::new();
            while let Some(chunk) = body.next().await {
                bytes.extend_from_slice(&chunk?);
            }
            let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
            objects.insert((bucket.to_owned(), key.to_owned()), Bytes::from(bytes));
            Ok(())
        }
        .boxed()
    }

    fn read<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Chunks>, BackupError>> {
        async move {
            let objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
            Ok(objects.get(&(bucket.to_owned(), key.to_owned())).cloned().map(chunks_of))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::{
        Backup, BackupConfig, CopyOutcome, FindingKind, Manifest, RestoreRequest, VerifyMode, object_name,
    };

    fn at(day: u32) -> DateTime<Utc> {
        format!("2026-11-{day:02}T00:00:00Z").parse().unwrap()
    }

    fn config() -> BackupConfig {
        let sources = BackupConfig::parse_sources("lake=decisions/,labels/").unwrap();
        BackupConfig { sources, ..BackupConfig::default() }
    }

    struct World {
        source: MemorySource,
        s3: MemoryTarget,
        azure: MemoryTarget,
        config: BackupConfig,
    }

    impl World {
        fn new() -> World {
            World {
                source: MemorySource::default(),
                s3: MemoryTarget::new(TargetKind::S3),
                azure: MemoryTarget::new(TargetKind::Azure),
                config: config(),
            }
        }

        fn backup(&self) -> Backup<'_> {
            Backup { source: &self.source, targets: vec![&self.s3, &self.azure], config: &self.config }
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        pollster::block_on(f)
    }

    #[test]
    fn a_version_is_copied_once_and_a_redelivered_event_is_a_no_op() {
        let w = World::new();
        let v = w.source.put("lake", "decisions/a.parquet", &[7u8; 2500], at(1));
        let first =
            block_on(w.backup().copy_version("lake", "decisions/a.parquet", Some(&v), at(2))).unwrap();
        let CopyOutcome::Copied(entry) = first else { panic!("copied first: {first:?}") };
        assert_eq!(entry.sha256, Sha256Hex::of(&[7u8; 2500]));
        assert_eq!(entry.copies.len(), 2);
        let before = (w.s3.names(), w.azure.names());
        let again =
            block_on(w.backup().copy_version("lake", "decisions/a.parquet", Some(&v), at(3))).unwrap();
        assert!(matches!(again, CopyOutcome::AlreadyBackedUp(_)), "{again:?}");
        assert_eq!((w.s3.names(), w.azure.names()), before, "nothing written the second time");
    }

    #[test]
    fn bad_input_is_refused_with_its_reason() {
        let w = World::new();
        w.source.put("lake", "quarantine/x.jsonl", b"x", at(1));
        let err = block_on(w.backup().copy_version("lake", "quarantine/x.jsonl", None, at(2))).unwrap_err();
        assert!(matches!(&err, BackupError::Invalid(m) if m.contains("not under a backed-up")), "{err}");
        let err = block_on(w.backup().copy_version("lake", "decisions/none", None, at(2))).unwrap_err();
        assert!(matches!(&err, BackupError::Invalid(m) if m.contains("does not exist")), "{err}");
    }

    #[test]
    fn an_outage_mid_copy_fails_the_run_and_the_retry_copies_only_what_is_missing() {
        let w = World::new();
        let v = w.source.put("lake", "decisions/a.parquet", b"abc", at(1));
        w.azure.down.store(true, std::sync::atomic::Ordering::SeqCst);
        let err =
            block_on(w.backup().copy_version("lake", "decisions/a.parquet", Some(&v), at(2))).unwrap_err();
        assert!(matches!(err, BackupError::Transient { target: "Azure", .. }), "{err}");
        w.azure.down.store(false, std::sync::atomic::Ordering::SeqCst);
        let s3_versions = w.s3.names();
        let retried =
            block_on(w.backup().copy_version("lake", "decisions/a.parquet", Some(&v), at(3))).unwrap();
        assert!(matches!(retried, CopyOutcome::Copied(_)));
        let name = object_name("lake", "decisions/a.parquet", &v);
        assert!(s3_versions.contains(&name), "S3 was copied before the outage");
        let s3 = block_on(w.s3.stat(&name)).unwrap().unwrap();
        assert_eq!(s3.version.as_deref(), Some("b1"), "not copied to S3 again");
    }

    #[test]
    fn reconcile_copies_what_the_manifest_lacks_then_nothing() {
        let w = World::new();
        for i in 0..5 {
            w.source.put("lake", &format!("decisions/{i}.parquet"), format!("body {i}").as_bytes(), at(1));
        }
        w.source.put("lake", "decisions/0.parquet", b"second version", at(2));
        w.source.put("lake", "quarantine/q.jsonl", b"not backed up", at(1));
        let report = block_on(w.backup().reconcile(at(3))).unwrap();
        assert_eq!((report.versions, report.copied.len(), report.already), (6, 6, 0));
        let again = block_on(w.backup().reconcile(at(4))).unwrap();
        assert_eq!((again.versions, again.copied.len(), again.already), (6, 0, 6));
        let loaded = block_on(Manifest::load(&w.azure)).unwrap();
        assert_eq!(loaded.entries.len(), 6, "the manifest is in both targets");
    }

    #[test]
    fn verify_finds_exactly_the_corrupt_and_missing_copies_and_restore_compares() {
        let w = World::new();
        for i in 0..4 {
            w.source.put("lake", &format!("decisions/{i}.parquet"), format!("body {i}").as_bytes(), at(1));
        }
        block_on(w.backup().reconcile(at(2))).unwrap();
        let clean = block_on(w.backup().verify(VerifyMode::Full, at(3), 1)).unwrap();
        assert!(clean.passed(), "{:?}", clean.findings);
        assert_eq!(clean.checked, 4);
        let name = |i: u32| object_name("lake", &format!("decisions/{i}.parquet"), "v1");
        w.s3.overwrite(&name(0), b"tampered");
        w.s3.delete(&name(1));
        w.azure.overwrite(&name(2), b"bit rot");
        w.azure.delete(&name(3));
        let report = block_on(w.backup().verify(VerifyMode::Full, at(4), 2)).unwrap();
        assert!(!report.passed());
        for (target, kind, i) in [
            (TargetKind::S3, FindingKind::Corrupt, 0),
            (TargetKind::S3, FindingKind::Missing, 1),
            (TargetKind::Azure, FindingKind::Corrupt, 2),
            (TargetKind::Azure, FindingKind::Missing, 3),
        ] {
            assert_eq!(report.count(target, kind), 1, "{target:?} {kind:?}");
            assert!(
                report.findings.iter().any(|f| f.target == target && f.kind == kind && f.name == name(i))
            );
        }
        assert_eq!(report.findings.len(), 4);
        assert!(
            report
                .findings
                .iter()
                .filter(|f| f.target == TargetKind::S3)
                .all(|f| f.recoverable == Some(true))
        );

        let sink = MemorySink::default();
        let request = |from| RestoreRequest {
            source_bucket: "lake".into(),
            prefix: "decisions/".into(),
            as_of: None,
            from,
            to_bucket: "scratch".into(),
            to_prefix: "restore/".into(),
        };
        let from_s3 = block_on(w.backup().restore(&request(TargetKind::S3), &sink)).unwrap();
        assert_eq!((from_s3.objects, from_s3.identical), (4, 4), "the locked versions restore: {from_s3:?}");
        let from_azure = block_on(w.backup().restore(&request(TargetKind::Azure), &sink)).unwrap();
        assert_eq!((from_azure.identical, from_azure.differing.len(), from_azure.missing.len()), (2, 1, 1));
    }

    #[test]
    fn due_verification_checks_stale_copies_and_a_sample() {
        let w = World::new();
        for i in 0..10 {
            w.source.put("lake", &format!("decisions/{i}.parquet"), &[i as u8; 10], at(1));
        }
        block_on(w.backup().reconcile(at(1))).unwrap();
        let due = VerifyMode::Due { max_age_days: 30, sample: 3 };
        let fresh = block_on(w.backup().verify(due, at(5), 1)).unwrap();
        assert_eq!(fresh.checked, 3, "only the sample: everything was copied days ago");
        let later = at(1) + chrono::Duration::days(40);
        let stale = block_on(w.backup().verify(due, later, 2)).unwrap();
        assert_eq!(stale.checked, 10, "every copy is older than 30 days and unverified since");
    }

    #[test]
    fn restore_as_of_a_time_takes_the_version_current_then() {
        let w = World::new();
        w.source.put("lake", "decisions/a.parquet", b"old", at(1));
        w.source.put("lake", "decisions/a.parquet", b"new", at(5));
        block_on(w.backup().reconcile(at(6))).unwrap();
        let sink = MemorySink::default();
        let request = RestoreRequest {
            source_bucket: "lake".into(),
            prefix: "decisions/".into(),
            as_of: Some(at(3)),
            from: TargetKind::S3,
            to_bucket: "scratch".into(),
            to_prefix: "r/".into(),
        };
        let report = block_on(w.backup().restore(&request, &sink)).unwrap();
        assert_eq!((report.objects, report.identical), (1, 1));
        let objects = sink.objects.lock().unwrap();
        assert_eq!(&objects[&("scratch".to_owned(), "r/lake/decisions/a.parquet".to_owned())][..], b"old");
    }
}
