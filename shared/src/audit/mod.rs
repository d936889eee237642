//! The audit trail: who did what, when, to what, with what result, for every sensitive
//! act (a reveal of sealed fields, a report run, a change of model, rules, thresholds or
//! lists, a backup run and a restore).
//!
//! Entries form a hash chain: each carries the SHA-256 of the one before, and its own.
//! The store keeps them one object per entry under Object Lock (`aws::audit`), and an
//! entry is created only if its sequence number is free, so concurrent writers never fork
//! the chain: the loser re-reads the head and appends after the winner. [`verify`] reads
//! the whole chain back and names the first entry that is missing, altered or rewritten.
//!
//! Inputs are recorded as hashes, never as values: the trail says *that* a sealed account
//! number was revealed, not which.

pub mod chain;
mod memory;

pub use chain::{AuditEntry, Broken, Problem, Verified, verify};
pub use memory::MemoryAuditStore;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// Sealed fields opened for compliance.
    Reveal,
    /// A reveal asked for and refused (not the compliance role, or KMS said no).
    RevealRefused,
    ReportRun,
    /// The model, rules, thresholds or sanctions lists in force changed.
    ConfigurationChange,
    /// A backup reconciliation or verification run.
    Backup,
    Restore,
}

/// One act, as the caller describes it; the chain adds sequence, time and hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The caller's identity (an IAM ARN, or `lambda:<function>`).
    pub who: String,
    pub action: AuditAction,
    /// What it was done to (a report and its period, a bucket and prefix, `sealed:party`).
    pub what: String,
    /// Name → `sha256:<hex>` of each input.
    pub inputs: BTreeMap<String, String>,
    pub result: String,
    /// For a configuration change: the digest of the configuration now in force.
    pub configuration: Option<String>,
}

impl AuditRecord {
    pub fn new(
        who: impl Into<String>,
        action: AuditAction,
        what: impl Into<String>,
        result: impl Into<String>,
    ) -> Self {
        Self {
            who: who.into(),
            action,
            what: what.into(),
            inputs: BTreeMap::new(),
            result: result.into(),
            configuration: None,
        }
    }

    /// Records the SHA-256 of an input under `name`.
    pub fn input(mut self, name: impl Into<String>, bytes: &[u8]) -> Self {
        self.inputs.insert(name.into(), sha256_tag(bytes));
        self
    }
}

/// `sha256:<64 hex digits>`.
pub fn sha256_tag(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One stored entry: its sequence number (from where it is stored), its bytes, and how
/// many versions its object has (more than one: it was written over).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub seq: u64,
    pub bytes: Vec<u8>,
    pub versions: usize,
    /// Hidden behind a delete marker: listed among the versions, not among the entries.
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("audit store ({service}): {message}")]
    Store { service: &'static str, message: String },
    /// The newest entry does not parse: the chain must be verified before it grows.
    #[error("audit entry {seq} is not an audit entry: {reason}")]
    Corrupt { seq: u64, reason: String },
    #[error("audit trail busy: {0} writers were first in a row")]
    Contended(u32),
}

/// Where entries are kept: one object per sequence number, created at most once.
pub trait AuditStore: Send + Sync {
    /// The entry with the greatest sequence number, if any.
    fn head(&self) -> impl Future<Output = Result<Option<StoredEntry>, AuditError>> + Send;
    /// Creates entry `seq`; `false` when one exists already (another writer was first).
    fn create(&self, seq: u64, bytes: Vec<u8>) -> impl Future<Output = Result<bool, AuditError>> + Send;
    /// Every entry there is, by sequence number.
    fn entries(&self) -> impl Future<Output = Result<Vec<StoredEntry>, AuditError>> + Send;
}

/// Attempts at appending before giving up on a busy trail.
const APPEND_ATTEMPTS: u32 = 12;

/// The chain over a store.
pub struct AuditTrail<S> {
    pub store: S,
}

impl<S: AuditStore> AuditTrail<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    /// Appends `record` after the newest entry; retried after another writer's entry.
    pub async fn append(&self, record: AuditRecord) -> Result<AuditEntry, AuditError> {
        for attempt in 0..APPEND_ATTEMPTS {
            let head = self.head().await?;
            let entry = AuditEntry::next(head.as_ref(), &record, Utc::now());
            if self.store.create(entry.seq, entry.to_bytes()).await? {
                return Ok(entry);
            }
            // Another entry took this number: back off a little, jittered, and re-read.
            let jitter = u64::from(crate::privacy::seal::random_bytes::<1>()[0] % 16);
            tokio::time::sleep(Duration::from_millis((5 << attempt.min(6)) + jitter)).await;
        }
        Err(AuditError::Contended(APPEND_ATTEMPTS))
    }

    /// Appends a configuration change when `configuration` (a digest) is not the one the
    /// chain last recorded; `None` when it is (nothing changed).
    pub async fn record_configuration(
        &self,
        who: &str,
        configuration: &str,
        describe: &str,
    ) -> Result<Option<AuditEntry>, AuditError> {
        if self.head().await?.is_some_and(|h| h.configuration.as_deref() == Some(configuration)) {
            return Ok(None);
        }
        let mut record = AuditRecord::new(who, AuditAction::ConfigurationChange, describe, "in force");
        record.configuration = Some(configuration.to_owned());
        // Two containers starting at once may both record it: twice is honest, never lost.
        self.append(record).await.map(Some)
    }

    async fn head(&self) -> Result<Option<AuditEntry>, AuditError> {
        match self.store.head().await? {
            None => Ok(None),
            Some(stored) => AuditEntry::parse(&stored.bytes)
                .map(Some)
                .map_err(|reason| AuditError::Corrupt { seq: stored.seq, reason }),
        }
    }

    /// Reads the chain back and checks every link.
    pub async fn verify(&self) -> Result<Result<Verified, Broken>, AuditError> {
        Ok(verify(&self.store.entries().await?))
    }
}

#[cfg(test)]
mod tests;
