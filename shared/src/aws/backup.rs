//! S3 for the backup: the primary buckets as its [`Source`], the Object Lock bucket as a
//! [`BackupTarget`] (server-side copies: the bytes never pass through the function on
//! this path; they are hashed as they stream to Azure), and the restore bucket as a
//! [`RestoreSink`].

use super::describe;
use crate::backup::{
    BackupError, BackupTarget, Chunks, Digests, Lock, RestoreSink, Sha256Hex, Source, SourceObject, Stored,
    TargetKind, Upload, composite_sha256_base64, md5_base64,
};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, DateTime as SdkDateTime};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, MetadataDirective,
    ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode,
};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use sha2::Digest;

fn transient(e: impl std::error::Error + 'static) -> BackupError {
    BackupError::transient("S3", describe(&e))
}

/// Whether an SDK error is the service's 404 (no such key, version, or a delete marker).
fn not_found<E>(e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool {
    e.raw_response().is_some_and(|r| r.status().as_u16() == 404)
}

fn to_chrono(t: Option<&SdkDateTime>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())).unwrap_or_default()
}

/// A body as [`Chunks`].
fn chunks(body: ByteStream) -> Chunks {
    futures::stream::unfold(body, |mut body| async move {
        body.next().await.map(|chunk| (chunk.map_err(transient), body))
    })
    .boxed()
}

/// `bucket/key?versionId=v`, URL-encoded as CopySource wants it.
fn copy_source(bucket: &str, key: &str, version: &str) -> String {
    let mut out = format!("{bucket}/");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if version != "null" {
        out.push_str(&format!("?versionId={version}"));
    }
    out
}

/// The primary buckets.
pub struct S3Source {
    pub client: Client,
}

impl Source for S3Source {
    fn head<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<SourceObject>, BackupError>> {
        async move {
            let out = match self
                .client
                .head_object()
                .bucket(bucket)
                .key(key)
                .set_version_id(version.map(str::to_owned))
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) if not_found(&e) => return Ok(None),
                // A version id S3 does not know is a 400, not a 404.
                Err(e)
                    if version.is_some() && e.raw_response().is_some_and(|r| r.status().as_u16() == 400) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(transient(e)),
            };
            Ok(Some(SourceObject {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version: out.version_id.clone().unwrap_or_else(|| "null".into()),
                size: u64::try_from(out.content_length.unwrap_or(0)).unwrap_or(0),
                last_modified: to_chrono(out.last_modified.as_ref()),
            }))
        }
        .boxed()
    }

    fn read<'a>(&'a self, object: &'a SourceObject) -> BoxFuture<'a, Result<Chunks, BackupError>> {
        async move {
            let version = (object.version != "null").then(|| object.version.clone());
            let out = self
                .client
                .get_object()
                .bucket(&object.bucket)
                .key(&object.key)
                .set_version_id(version)
                .send()
                .await;
            Ok(chunks(out.map_err(transient)?.body))
        }
        .boxed()
    }

    fn versions<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SourceObject>, BackupError>> {
        async move {
            let mut out = Vec::new();
            let (mut key_marker, mut version_marker) = (None, None);
            loop {
                let page = self
                    .client
                    .list_object_versions()
                    .bucket(bucket)
                    .prefix(prefix)
                    .set_key_marker(key_marker.take())
                    .set_version_id_marker(version_marker.take())
                    .send()
                    .await
                    .map_err(transient)?;
                for v in page.versions() {
                    let Some(key) = v.key() else { continue };
                    out.push(SourceObject {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                        version: v.version_id().unwrap_or("null").to_owned(),
                        size: u64::try_from(v.size().unwrap_or(0)).unwrap_or(0),
                        last_modified: to_chrono(v.last_modified()),
                    });
                }
                if page.is_truncated() != Some(true) {
                    return Ok(out);
                }
                key_marker = page.next_key_marker;
                version_marker = page.next_version_id_marker;
            }
        }
        .boxed()
    }
}

/// The Object Lock bucket: every copy a new version, locked in COMPLIANCE mode.
pub struct S3Target {
    pub client: Client,
    pub bucket: String,
    pub retention_days: u32,
    pub multipart_threshold: u64,
    pub part_size: u64,
}

impl S3Target {
    fn retain_until(&self) -> SdkDateTime {
        let until = Utc::now() + chrono::Duration::days(i64::from(self.retention_days));
        SdkDateTime::from_secs(until.timestamp())
    }

    /// The copy under `name` (its `version`, else the current one), checksum included.
    async fn head(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<(Stored, Option<String>)>, BackupError> {
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(name)
            .set_version_id(version.map(str::to_owned))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(transient(e)),
        };
        let lock = match (out.object_lock_mode(), out.object_lock_retain_until_date()) {
            (Some(mode), Some(until)) => {
                Some(Lock { mode: mode.as_str().to_owned(), retain_until: to_chrono(Some(until)) })
            }
            _ => None,
        };
        let sha256 = out.metadata().and_then(|m| m.get("sha256")).and_then(|s| Sha256Hex::parse(s));
        let stored = Stored {
            location: self.bucket.clone(),
            name: name.to_owned(),
            version: out.version_id().map(str::to_owned),
            size: u64::try_from(out.content_length().unwrap_or(0)).unwrap_or(0),
            sha256,
            lock,
            content_md5: None,
            block_md5s: Vec::new(),
        };
        Ok(Some((stored, out.checksum_sha256().map(str::to_owned))))
    }

    /// Copies `object` to `name` server-side; returns the new version's id.
    async fn copy(
        &self,
        object: &SourceObject,
        name: &str,
        digests: &Digests,
    ) -> Result<Option<String>, BackupError> {
        let source = copy_source(&object.bucket, &object.key, &object.version);
        let metadata = [("sha256", digests.sha256.to_string()), ("source-version", object.version.clone())];
        if !object_is_multipart(object.size, self.multipart_threshold) {
            let mut copy = self
                .client
                .copy_object()
                .bucket(&self.bucket)
                .key(name)
                .copy_source(&source)
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .metadata_directive(MetadataDirective::Replace)
                .object_lock_mode(ObjectLockMode::Compliance)
                .object_lock_retain_until_date(self.retain_until());
            for (k, v) in metadata {
                copy = copy.metadata(k, v);
            }
            let out = copy.send().await.map_err(transient)?;
            return Ok(out.version_id);
        }
        let mut create = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(name)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(self.retain_until());
        for (k, v) in metadata {
            create = create.metadata(k, v);
        }
        let upload = create.send().await.map_err(transient)?;
        let id = upload.upload_id.ok_or_else(|| BackupError::transient("S3", "no upload id"))?;
        let result = self.copy_parts(&source, name, &id, object.size).await;
        if result.is_err() {
            // Parts of a copy that failed are not kept (and billed) until a lifecycle rule.
            let abort = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(name)
                .upload_id(&id)
                .send()
                .await;
            if let Err(e) = abort {
                tracing::warn!(error = %describe(&e), "could not abort a failed multipart copy");
            }
        }
        result
    }

    async fn copy_parts(
        &self,
        source: &str,
        name: &str,
        id: &str,
        size: u64,
    ) -> Result<Option<String>, BackupError> {
        let mut parts = Vec::new();
        let mut start = 0u64;
        let mut number = 1i32;
        while start < size {
            let end = (start + self.part_size).min(size) - 1;
            let out = self
                .client
                .upload_part_copy()
                .bucket(&self.bucket)
                .key(name)
                .upload_id(id)
                .part_number(number)
                .copy_source(source)
                .copy_source_range(format!("bytes={start}-{end}"))
                .send()
                .await
                .map_err(transient)?;
            let (e_tag, checksum) =
                out.copy_part_result.map(|r| (r.e_tag, r.checksum_sha256)).unwrap_or_default();
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(e_tag)
                    .set_checksum_sha256(checksum)
                    .build(),
            );
            start = end + 1;
            number += 1;
        }
        let done = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
        let out = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(name)
            .upload_id(id)
            .multipart_upload(done)
            .send()
            .await
            .map_err(transient)?;
        Ok(out.version_id)
    }
}

fn object_is_multipart(size: u64, threshold: u64) -> bool {
    size >= threshold
}

struct S3Upload<'a> {
    target: &'a S3Target,
    object: &'a SourceObject,
    name: String,
    /// SHA-256 of each part so far, and of the part being read: S3's checksum of a
    /// multipart copy is their composite.
    parts: Vec<[u8; 32]>,
    part: sha2::Sha256,
    in_part: u64,
}

impl<'a> Upload<'a> for S3Upload<'a> {
    fn write(&mut self, mut chunk: Bytes) -> BoxFuture<'_, Result<(), BackupError>> {
        async move {
            while !chunk.is_empty() {
                let room = usize::try_from(self.target.part_size - self.in_part).unwrap_or(usize::MAX);
                let piece = chunk.split_to(room.min(chunk.len()));
                self.part.update(&piece);
                self.in_part += piece.len() as u64;
                if self.in_part == self.target.part_size {
                    self.parts.push(std::mem::take(&mut self.part).finalize().into());
                    self.in_part = 0;
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn finish(mut self: Box<Self>, digests: Digests) -> BoxFuture<'a, Result<Stored, BackupError>> {
        async move {
            if self.in_part > 0 {
                self.parts.push(std::mem::take(&mut self.part).finalize().into());
            }
            let target = self.target;
            let version = target.copy(self.object, &self.name, &digests).await?;
            let (mut stored, checksum) =
                target.head(&self.name, version.as_deref()).await?.ok_or_else(|| {
                    BackupError::transient("S3", format!("{} is not there after its copy", self.name))
                })?;
            // S3 computed this from the bytes it stored: the copy is checked, not trusted. A
            // multipart copy's is the composite of its parts' (`…-<parts>`; moto leaves the
            // count off), anything else's the SHA-256 of the whole.
            let composite = composite_sha256_base64(&self.parts);
            let bare = composite.rsplit_once('-').map_or(composite.as_str(), |(c, _)| c);
            let expected = if object_is_multipart(self.object.size, target.multipart_threshold) {
                vec![composite.clone(), bare.to_owned()]
            } else {
                vec![digests.sha256.to_base64()]
            };
            if stored.size != digests.size || checksum.as_ref().is_some_and(|c| !expected.contains(c)) {
                return Err(BackupError::transient(
                    "S3",
                    format!(
                        "{}: stored {} bytes, checksum {checksum:?}; expected {} bytes, {}",
                        self.name,
                        stored.size,
                        digests.size,
                        expected.join(" or ")
                    ),
                ));
            }
            if stored.lock.as_ref().is_none_or(|l| l.mode != "COMPLIANCE") {
                // A completed multipart upload on a stand-in may not carry the lock it was
                // created with: set it on the version.
                let until = target.retain_until();
                let retention = ObjectLockRetention::builder()
                    .mode(ObjectLockRetentionMode::Compliance)
                    .retain_until_date(until)
                    .build();
                target
                    .client
                    .put_object_retention()
                    .bucket(&target.bucket)
                    .key(&self.name)
                    .set_version_id(version.clone())
                    .retention(retention)
                    .send()
                    .await
                    .map_err(transient)?;
                stored.lock = Some(Lock { mode: "COMPLIANCE".into(), retain_until: to_chrono(Some(&until)) });
            }
            stored.sha256 = Some(digests.sha256);
            Ok(stored)
        }
        .boxed()
    }
}

impl BackupTarget for S3Target {
    fn kind(&self) -> TargetKind {
        TargetKind::S3
    }

    fn location(&self) -> &str {
        &self.bucket
    }

    fn stat<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Stored>, BackupError>> {
        async move { Ok(self.head(name, None).await?.map(|(stored, _)| stored)) }.boxed()
    }

    fn upload<'a>(
        &'a self,
        object: &'a SourceObject,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Upload<'a> + 'a>, BackupError>> {
        async move {
            let upload: Box<dyn Upload<'a> + 'a> = Box::new(S3Upload {
                target: self,
                object,
                name: name.to_owned(),
                parts: Vec::new(),
                part: sha2::Sha256::new(),
                in_part: 0,
            });
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
            let out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(name)
                .set_version_id(version.map(str::to_owned))
                .send()
                .await;
            match out {
                Ok(out) => Ok(Some(chunks(out.body))),
                Err(e) if not_found(&e) => Ok(None),
                Err(e) => Err(transient(e)),
            }
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
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(name)
                .content_md5(md5_base64(&body))
                .checksum_sha256(sha256.to_base64())
                .metadata("sha256", sha256.to_string())
                .object_lock_mode(ObjectLockMode::Compliance)
                .object_lock_retain_until_date(self.retain_until())
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(transient)?;
            Ok(())
        }
        .boxed()
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, BackupError>> {
        async move { list(&self.client, &self.bucket, prefix).await }.boxed()
    }
}

/// Keys under `prefix` (current objects), sorted.
pub async fn list(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<String>, BackupError> {
    let mut out = Vec::new();
    let mut pages = client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(transient)?;
        out.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
    }
    out.sort();
    Ok(out)
}

/// The restore bucket: objects written whole up to a part, in parts beyond.
pub struct S3RestoreSink {
    pub client: Client,
    /// Part size (and largest object put in one request).
    pub part_size: usize,
}

impl S3RestoreSink {
    async fn write_parts(
        &self,
        bucket: &str,
        key: &str,
        first: Vec<u8>,
        mut body: Chunks,
    ) -> Result<(), BackupError> {
        let upload =
            self.client.create_multipart_upload().bucket(bucket).key(key).send().await.map_err(transient)?;
        let id = upload.upload_id.ok_or_else(|| BackupError::transient("S3", "no upload id"))?;
        let mut parts = Vec::new();
        let mut pending = first;
        let mut ended = false;
        while !ended || !pending.is_empty() {
            while !ended && pending.len() < self.part_size {
                match body.next().await {
                    Some(chunk) => pending.extend_from_slice(&chunk?),
                    None => ended = true,
                }
            }
            let take = pending.len().min(self.part_size);
            let part: Vec<u8> = pending.drain(..take).collect();
            let number = i32::try_from(parts.len() + 1).unwrap_or(i32::MAX);
            let out = self
                .client
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(&id)
                .part_number(number)
                .body(ByteStream::from(part))
                .send()
                .await
                .map_err(transient)?;
            parts.push(CompletedPart::builder().part_number(number).set_e_tag(out.e_tag).build());
        }
        let done = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
        self.client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .multipart_upload(done)
            .send()
            .await
            .map_err(transient)?;
        Ok(())
    }
}

impl RestoreSink for S3RestoreSink {
    fn write<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        _size: u64,
        mut body: Chunks,
    ) -> BoxFuture<'a, Result<(), BackupError>> {
        async move {
            let mut first = Vec::new();
            while first.len() <= self.part_size {
                match body.next().await {
                    Some(chunk) => first.extend_from_slice(&chunk?),
                    None => {
                        self.client
                            .put_object()
                            .bucket(bucket)
                            .key(key)
                            .body(ByteStream::from(first))
                            .send()
                            .await
                            .map_err(transient)?;
                        return Ok(());
                    }
                }
            }
            self.write_parts(bucket, key, first, body).await
        }
        .boxed()
    }

    fn read<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Chunks>, BackupError>> {
        async move {
            match self.client.get_object().bucket(bucket).key(key).send().await {
                Ok(out) => Ok(Some(chunks(out.body))),
                Err(e) if not_found(&e) => Ok(None),
                Err(e) => Err(transient(e)),
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::copy_source;

    #[test]
    fn copy_sources_are_encoded_and_name_their_version() {
        assert_eq!(
            copy_source("lake", "decisions/dt=2018-04-01/a b.parquet", "3HL4kqtJ"),
            "lake/decisions/dt%3D2018-04-01/a%20b.parquet?versionId=3HL4kqtJ"
        );
        assert_eq!(copy_source("lake", "k", "null"), "lake/k");
    }
}
