//! Entries and their links: how one is made from the one before, and how a chain is
//! checked.

use super::{AuditAction, AuditRecord, StoredEntry, sha256_tag};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// What the first entry is chained to.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// One entry as stored (canonical JSON: these fields, in this order, nothing else).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub who: String,
    pub action: AuditAction,
    pub what: String,
    pub inputs: BTreeMap<String, String>,
    pub result: String,
    /// The configuration last recorded, carried forward by every entry, so the newest
    /// entry alone tells what is in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    /// The previous entry's `hash` ([`GENESIS`] for the first).
    pub prev: String,
    /// SHA-256 of this entry serialised with `hash` empty.
    pub hash: String,
}

impl AuditEntry {
    /// The entry that follows `head` (the first if there is none) recording `record`.
    pub fn next(head: Option<&AuditEntry>, record: &AuditRecord, at: DateTime<Utc>) -> Self {
        let mut entry = AuditEntry {
            seq: head.map_or(1, |h| h.seq + 1),
            at,
            who: record.who.clone(),
            action: record.action,
            what: record.what.clone(),
            inputs: record.inputs.clone(),
            result: record.result.clone(),
            configuration: record
                .configuration
                .clone()
                .or_else(|| head.and_then(|h| h.configuration.clone())),
            prev: head.map_or_else(|| GENESIS.to_owned(), |h| h.hash.clone()),
            hash: String::new(),
        };
        entry.hash = entry.content_hash();
        entry
    }

    fn content_hash(&self) -> String {
        let unhashed = AuditEntry { hash: String::new(), ..self.clone() };
        sha256_tag(&unhashed.to_bytes())
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Strings, numbers and a map of strings: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|_| unreachable!("plain data"))
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| crate::redact::json_error(&e))
    }
}

/// What is wrong with an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No entry has this number, though later ones exist (deleted, or never written).
    Missing,
    /// Its object was written over: it has more than one version.
    Rewritten {
        versions: usize,
    },
    Unreadable(String),
    /// Stored under another number than the one it carries.
    Misplaced {
        carries: u64,
    },
    /// Its bytes are not what was written (not canonical, or the hash does not match).
    Altered(&'static str),
    /// The next entry was chained to another hash: this one was replaced.
    Replaced,
    /// Hidden behind a delete marker (its versions are still kept).
    Deleted,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => f.write_str("missing"),
            Problem::Deleted => f.write_str("deleted (a delete marker hides it)"),
            Problem::Rewritten { versions } => write!(f, "written over ({versions} versions)"),
            Problem::Unreadable(why) => write!(f, "unreadable ({why})"),
            Problem::Misplaced { carries } => {
                write!(f, "stored in the place of another (carries number {carries})")
            }
            Problem::Altered(why) => write!(f, "altered ({why})"),
            Problem::Replaced => f.write_str("replaced (the next entry is chained to another hash)"),
        }
    }
}

/// The first entry that breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub seq: u64,
    pub problem: Problem,
    /// Entries before it that checked out.
    pub intact: usize,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entry {}: {}", self.seq, self.problem)
    }
}

/// A chain that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: usize,
    /// The newest entry's hash (GENESIS for an empty chain): what an anchor kept
    /// elsewhere (the backup's copies) must match.
    pub head: String,
}

/// Checks `stored` (by sequence number) from the first entry: numbers contiguous from 1,
/// each object written once, each entry canonical, its hash its content's, and chained
/// to the one before.
pub fn verify(stored: &[StoredEntry]) -> Result<Verified, Broken> {
    let mut prev: Option<AuditEntry> = None;
    for (i, s) in stored.iter().enumerate() {
        let expected = i as u64 + 1;
        let broken = |seq, problem| Broken { seq, problem, intact: i };
        if s.seq != expected {
            return Err(broken(expected, Problem::Missing));
        }
        if s.deleted {
            return Err(broken(s.seq, Problem::Deleted));
        }
        if s.versions > 1 {
            return Err(broken(s.seq, Problem::Rewritten { versions: s.versions }));
        }
        let entry = AuditEntry::parse(&s.bytes).map_err(|why| broken(s.seq, Problem::Unreadable(why)))?;
        if entry.seq != s.seq {
            return Err(broken(s.seq, Problem::Misplaced { carries: entry.seq }));
        }
        if entry.to_bytes() != s.bytes {
            return Err(broken(s.seq, Problem::Altered("not as it was written")));
        }
        if entry.hash != entry.content_hash() {
            return Err(broken(s.seq, Problem::Altered("its hash does not match its content")));
        }
        let chained_to = prev.as_ref().map_or(GENESIS, |p| p.hash.as_str());
        if entry.prev != chained_to && s.seq == 1 {
            return Err(broken(1, Problem::Altered("the first entry is chained to something")));
        }
        if entry.prev != chained_to {
            // Each entry's own hash checked out, so the one before was swapped for another.
            return Err(Broken { seq: s.seq - 1, problem: Problem::Replaced, intact: i.saturating_sub(1) });
        }
        prev = Some(entry);
    }
    Ok(Verified { entries: stored.len(), head: prev.map_or_else(|| GENESIS.to_owned(), |p| p.hash) })
}
