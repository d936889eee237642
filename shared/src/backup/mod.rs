//! Backup: every object version of the lake, the reports and the audit trail copied to
//! targets that outlive the primary bucket, the account and the cloud — an S3 bucket under
//! Object Lock (COMPLIANCE) and an Azure Blob container — each copy checked by a SHA-256
//! of the object's bytes computed here as they stream past (S3's own multipart checksums
//! are composites of the parts, not a hash of the file), and recorded in a manifest kept
//! in both targets.
//!
//! - [`Backup::copy_version`]: one object version (an S3 "Object Created" event), after a
//!   manifest lookup: a version already recorded is not copied again.
//! - [`Backup::reconcile`]: every version under the configured prefixes the manifest lacks.
//! - [`Backup::verify`]: downloads copies from each target and recomputes their hashes.
//! - [`Backup::restore`]: copies a prefix, as of a time, from a target to a scratch
//!   location and compares hashes with the manifest.
//!
//! The services are behind two ports, [`Source`] and [`BackupTarget`] (one trait for every
//! target, one adapter per service: `aws::backup` for S3, `azure` for Blob), with
//! in-memory adapters here for the unit tests.

mod config;
mod copy;
mod digest;
mod manifest;
mod memory;
mod restore;
mod target;
mod verify;

pub use config::{BackupConfig, ConfigError, SourceSpec};
pub use copy::{Backup, CopyOutcome, ReconcileReport};
pub use digest::{Digests, Hasher, Sha256Hex, composite_sha256_base64, md5_base64, sha256_bytes};
pub use manifest::{Copy, Entry, Loaded, Manifest, SEGMENTS, object_name};
pub use memory::{MemorySink, MemorySource, MemoryTarget};
pub use restore::{RestoreReport, RestoreRequest, RestoreSink};
pub use target::{BackupError, BackupTarget, Chunks, Lock, Source, SourceObject, Stored, TargetKind, Upload};
pub use verify::{Finding, FindingKind, VerifyMode, VerifyReport};
