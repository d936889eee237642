//! Verification: copies downloaded from each target and their SHA-256 recomputed. What a
//! reader of the target gets now is what is checked (a delete marker or a newer version
//! laid over an S3 copy is a finding, though the locked version under it is intact: the
//! finding says whether it is, i.e. whether a restore would still succeed).

use super::copy::Backup;
use super::digest::{Hasher, Sha256Hex};
use super::manifest::{Entry, Manifest, collect};
use super::target::{BackupError, BackupTarget, Chunks, TargetKind};
use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyMode {
    /// Every copy the manifest records.
    Full,
    /// Copies not verified for `max_age_days` (the configuration's), plus a random sample
    /// of `sample` others.
    Due { max_age_days: u32, sample: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Missing,
    Corrupt,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub target: TargetKind,
    pub kind: FindingKind,
    /// `bucket/key@version` of the source object, or a manifest segment's name.
    pub object: String,
    /// The copy's name in the target.
    pub name: String,
    /// S3: whether the locked version the manifest recorded is still intact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recoverable: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub run: String,
    pub at: DateTime<Utc>,
    /// Versions the manifest records.
    pub entries: usize,
    /// Versions checked, and those found intact in every target.
    pub checked: usize,
    pub verified: Vec<String>,
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }

    pub fn count(&self, target: TargetKind, kind: FindingKind) -> usize {
        self.findings.iter().filter(|f| f.target == target && f.kind == kind).count()
    }
}

pub const REPORTS: &str = "verify/";
const MAX_REPORT_BYTES: usize = 256 * 1024 * 1024;

/// The SHA-256 of a stream, reading at most `limit` bytes (more is a mismatch anyway).
pub(crate) async fn sha256_of(mut chunks: Chunks, limit: u64) -> Result<Option<Sha256Hex>, BackupError> {
    let mut hasher = Hasher::new();
    while let Some(chunk) = chunks.next().await {
        hasher.update(&chunk?);
        if hasher.size() > limit {
            return Ok(None);
        }
    }
    Ok(Some(hasher.finish().sha256))
}

impl Backup<'_> {
    /// Verifies copies (which ones: `mode`); the report is stored in the primary target
    /// under `verify/<day>/`. Any finding means the run failed: the caller says so.
    pub async fn verify(
        &self,
        mode: VerifyMode,
        now: DateTime<Utc>,
        seed: u64,
    ) -> Result<VerifyReport, BackupError> {
        let primary =
            self.targets.first().copied().ok_or_else(|| BackupError::Invalid("no target".into()))?;
        let loaded = Manifest::load(primary).await?;
        let mut findings: Vec<Finding> = Vec::new();
        let segment = |target: TargetKind, kind, name: &str| Finding {
            target,
            kind,
            object: name.to_owned(),
            name: name.to_owned(),
            recoverable: None,
        };
        findings.extend(loaded.corrupt.iter().map(|n| segment(primary.kind(), FindingKind::Corrupt, n)));
        // The manifest's other copies: every segment of the primary's, intact.
        for target in self.targets.iter().skip(1) {
            let other = Manifest::load(*target).await?;
            findings.extend(other.corrupt.iter().map(|n| segment(target.kind(), FindingKind::Corrupt, n)));
            let present: BTreeSet<&String> = other.segments.iter().chain(&other.corrupt).collect();
            for name in loaded.segments.iter().filter(|n| !present.contains(n)) {
                findings.push(segment(target.kind(), FindingKind::Missing, name));
            }
        }
        let chosen = self.choose(&loaded.entries, mode, now, seed).await?;
        let checks = chosen.iter().map(|e| self.check(e));
        let results: Vec<(String, Vec<Finding>)> =
            stream::iter(checks).buffer_unordered(self.config.parallelism).try_collect().await?;
        let mut verified = Vec::new();
        for (id, found) in results {
            if found.is_empty() {
                verified.push(id);
            }
            findings.extend(found);
        }
        verified.sort();
        findings.sort_by(|a, b| (a.target, &a.object).cmp(&(b.target, &b.object)));
        let run = format!("{}-{:08x}", now.format("%Y%m%dT%H%M%S"), seed as u32);
        let report = VerifyReport {
            run,
            at: now,
            entries: loaded.entries.len(),
            checked: chosen.len(),
            verified,
            findings,
        };
        let body = Bytes::from(serde_json::to_vec(&report).map_err(|e| BackupError::Invalid(e.to_string()))?);
        let name = format!("{REPORTS}{}/{}.json", now.format("%Y-%m-%d"), report.run);
        primary.put(&name, body.clone(), &Sha256Hex::of(&body)).await?;
        Ok(report)
    }

    async fn choose<'e>(
        &self,
        entries: &'e [Entry],
        mode: VerifyMode,
        now: DateTime<Utc>,
        seed: u64,
    ) -> Result<Vec<&'e Entry>, BackupError> {
        let VerifyMode::Due { max_age_days, sample } = mode else { return Ok(entries.iter().collect()) };
        let since = now - Duration::days(i64::from(max_age_days));
        let last = self.last_verified(since).await?;
        let (mut due, rest): (Vec<&Entry>, Vec<&Entry>) = entries.iter().partition(|e| {
            let at = last.get(&e.id()).copied().unwrap_or(e.copied_at).max(e.copied_at);
            at < since
        });
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let picked = rand::seq::index::sample(&mut rng, rest.len(), sample.min(rest.len()));
        due.extend(picked.iter().map(|i| rest[i]));
        Ok(due)
    }

    /// When each version was last found intact, from the reports since `since`.
    async fn last_verified(
        &self,
        since: DateTime<Utc>,
    ) -> Result<HashMap<String, DateTime<Utc>>, BackupError> {
        let primary = self.targets[0];
        let mut out: HashMap<String, DateTime<Utc>> = HashMap::new();
        for name in primary.list(REPORTS).await? {
            let day = name.strip_prefix(REPORTS).and_then(|rest| rest.split('/').next());
            let recent = day
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .is_some_and(|d| d >= since.date_naive());
            if !recent {
                continue;
            }
            let Some(chunks) = primary.read(&name, None).await? else { continue };
            let report: VerifyReport = match serde_json::from_slice(
                &collect(chunks, MAX_REPORT_BYTES, &name).await?,
            ) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(report = %name, error = %e, "unreadable verify report: its copies count as unverified");
                    continue;
                }
            };
            for id in report.verified {
                let at = out.entry(id).or_insert(report.at);
                *at = (*at).max(report.at);
            }
        }
        Ok(out)
    }

    /// One version in every target: `(its id, what is wrong)`.
    async fn check(&self, entry: &Entry) -> Result<(String, Vec<Finding>), BackupError> {
        let mut found = Vec::new();
        for target in &self.targets {
            if let Some(kind) = check_copy(*target, entry).await? {
                let copy = entry.copies.get(&target.kind());
                let recoverable = match copy.and_then(|c| c.version.as_deref()) {
                    Some(version) => Some(intact(*target, entry, version).await?),
                    None => None,
                };
                found.push(Finding {
                    target: target.kind(),
                    kind,
                    object: entry.id(),
                    name: copy.map(|c| c.name.clone()).unwrap_or_default(),
                    recoverable,
                });
            }
        }
        Ok((entry.id(), found))
    }
}

/// What is wrong with `entry`'s copy in `target`, as a reader gets it now.
async fn check_copy(target: &dyn BackupTarget, entry: &Entry) -> Result<Option<FindingKind>, BackupError> {
    let Some(copy) = entry.copies.get(&target.kind()) else { return Ok(Some(FindingKind::Missing)) };
    let Some(chunks) = target.read(&copy.name, None).await? else { return Ok(Some(FindingKind::Missing)) };
    let sha = sha256_of(chunks, entry.size).await?;
    Ok((sha.as_ref() != Some(&entry.sha256)).then_some(FindingKind::Corrupt))
}

/// Whether the recorded version of the copy still has the recorded bytes.
async fn intact(target: &dyn BackupTarget, entry: &Entry, version: &str) -> Result<bool, BackupError> {
    let Some(copy) = entry.copies.get(&target.kind()) else { return Ok(false) };
    let Some(chunks) = target.read(&copy.name, Some(version)).await? else { return Ok(false) };
    Ok(sha256_of(chunks, entry.size).await?.as_ref() == Some(&entry.sha256))
}
