//! The audit store in memory, versioned like the S3 bucket: for tests.

use super::{AuditError, AuditStore, StoredEntry};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct MemoryAuditStore {
    /// Sequence number → every version written, oldest first.
    objects: Mutex<BTreeMap<u64, Vec<Vec<u8>>>>,
}

impl MemoryAuditStore {
    fn objects(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Vec<Vec<u8>>>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes a new version of entry `seq` (what someone tampering would do).
    pub fn overwrite(&self, seq: u64, bytes: Vec<u8>) {
        self.objects().entry(seq).or_default().push(bytes);
    }

    /// Hides entry `seq` (a delete marker, under versioning).
    pub fn delete(&self, seq: u64) {
        self.objects().remove(&seq);
    }

    /// Replaces entry `seq` in place, leaving one version (what a store without Object
    /// Lock would allow).
    pub fn replace(&self, seq: u64, bytes: Vec<u8>) {
        self.objects().insert(seq, vec![bytes]);
    }

    pub fn latest(&self, seq: u64) -> Option<Vec<u8>> {
        self.objects().get(&seq).and_then(|v| v.last().cloned())
    }
}

impl AuditStore for MemoryAuditStore {
    async fn head(&self) -> Result<Option<StoredEntry>, AuditError> {
        let objects = self.objects();
        Ok(objects.iter().next_back().map(|(seq, v)| StoredEntry {
            seq: *seq,
            bytes: v.last().cloned().unwrap_or_default(),
            versions: v.len(),
            deleted: false,
        }))
    }

    async fn create(&self, seq: u64, bytes: Vec<u8>) -> Result<bool, AuditError> {
        let mut objects = self.objects();
        if objects.contains_key(&seq) {
            return Ok(false);
        }
        objects.insert(seq, vec![bytes]);
        Ok(true)
    }

    async fn entries(&self) -> Result<Vec<StoredEntry>, AuditError> {
        let objects = self.objects();
        Ok(objects
            .iter()
            .map(|(seq, v)| StoredEntry {
                seq: *seq,
                bytes: v.last().cloned().unwrap_or_default(),
                versions: v.len(),
                deleted: false,
            })
            .collect())
    }
}
