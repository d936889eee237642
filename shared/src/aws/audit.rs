//! The audit trail in S3: one object per entry, `audit/entries/<12-digit seq>.json`, in a
//! versioned bucket under Object Lock (COMPLIANCE), so no version can be deleted or
//! shortened. An entry is created with `If-None-Match: *`: a number already taken is
//! refused by S3 itself, and the writer appends after it instead.
//!
//! The head is found by listing the prefix: tens of entries a day are a few listing
//! pages a year.

use super::describe;
use crate::audit::{AuditError, AuditStore, StoredEntry};
use aws_sdk_s3::Client;
use std::collections::BTreeMap;

/// Where the entries are, under the bucket.
pub const PREFIX: &str = "audit/entries/";

pub struct S3AuditStore {
    client: Client,
    bucket: String,
}

fn failed(e: &(dyn std::error::Error + 'static)) -> AuditError {
    AuditError::Store { service: "S3", message: describe(e) }
}

impl S3AuditStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    pub fn key(seq: u64) -> String {
        format!("{PREFIX}{seq:012}.json")
    }

    fn seq_of(key: &str) -> Option<u64> {
        key.strip_prefix(PREFIX)?.strip_suffix(".json")?.parse().ok()
    }

    /// Every entry's sequence number, by number.
    async fn numbers(&self) -> Result<Vec<u64>, AuditError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(PREFIX)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| failed(&e))?;
            out.extend(page.contents().iter().filter_map(|o| o.key().and_then(Self::seq_of)));
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    async fn read(&self, seq: u64) -> Result<Vec<u8>, AuditError> {
        let out = self.client.get_object().bucket(&self.bucket).key(Self::key(seq)).send().await;
        let body = out.map_err(|e| failed(&e))?.body.collect().await.map_err(|e| failed(&e))?;
        Ok(body.into_bytes().to_vec())
    }

    /// How many versions (not delete markers) each entry's object has.
    async fn versions(&self) -> Result<BTreeMap<u64, usize>, AuditError> {
        let mut out = BTreeMap::new();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(PREFIX)
                .set_key_marker(key_marker)
                .set_version_id_marker(version_marker)
                .send()
                .await
                .map_err(|e| failed(&e))?;
            for v in page.versions() {
                if let Some(seq) = v.key().and_then(Self::seq_of) {
                    *out.entry(seq).or_default() += 1;
                }
            }
            if page.is_truncated() != Some(true) {
                return Ok(out);
            }
            (key_marker, version_marker) = (page.next_key_marker, page.next_version_id_marker);
        }
    }
}

impl AuditStore for S3AuditStore {
    async fn head(&self) -> Result<Option<StoredEntry>, AuditError> {
        let Some(&seq) = self.numbers().await?.last() else { return Ok(None) };
        Ok(Some(StoredEntry { seq, bytes: self.read(seq).await?, versions: 1, deleted: false }))
    }

    /// `false` when the number is taken (or another write of it is under way).
    async fn create(&self, seq: u64, bytes: Vec<u8>) -> Result<bool, AuditError> {
        crate::aws::s3::put_if_absent(&self.client, &self.bucket, Self::key(seq), bytes, "application/json")
            .await
            .map_err(|e| AuditError::Store { service: e.service, message: e.message })
    }

    async fn entries(&self) -> Result<Vec<StoredEntry>, AuditError> {
        let versions = self.versions().await?;
        let listed = self.numbers().await?;
        let mut out = Vec::new();
        // An entry whose newest version is a delete marker is not listed, but its versions
        // are (Object Lock keeps them): so a deleted newest entry is found too.
        let all: std::collections::BTreeSet<u64> = listed.iter().chain(versions.keys()).copied().collect();
        for seq in all {
            let versions = versions.get(&seq).copied().unwrap_or(1);
            if listed.binary_search(&seq).is_ok() {
                out.push(StoredEntry { seq, bytes: self.read(seq).await?, versions, deleted: false });
            } else {
                out.push(StoredEntry { seq, bytes: Vec::new(), versions, deleted: true });
            }
        }
        Ok(out)
    }
}
