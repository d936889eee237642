//! Sanctions lists from S3, loaded once per container at cold start. The lists bucket is
//! versioned: a list update is a new object version, which new containers pick up. If the
//! newest versions do not parse (a truncated upload, a changed format), the load says so
//! loudly and screens with the previous versions that do, never with nothing.

use super::describe;
use crate::sanctions::{ListError, SanctionsLists};
use aws_sdk_s3::Client;

/// Where the lists are: OFAC's two CSV files, and optionally the UN XML (plain or gzip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListObjects {
    pub bucket: String,
    pub sdn: String,
    pub alt: String,
    pub un: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListLoadError {
    #[error("sanctions list s3://{bucket}/{key}: {message}")]
    Unavailable { bucket: String, key: String, message: String },
    #[error("no version of the sanctions lists parses (newest: {0})")]
    NoGoodVersion(ListError),
}

/// Versions of one object, newest first.
async fn versions(s3: &Client, bucket: &str, key: &str) -> Result<Vec<String>, ListLoadError> {
    let out = s3.list_object_versions().bucket(bucket).prefix(key).send().await.map_err(|e| {
        ListLoadError::Unavailable { bucket: bucket.to_owned(), key: key.to_owned(), message: describe(&e) }
    })?;
    let mut found: Vec<(aws_sdk_s3::primitives::DateTime, String)> = out
        .versions()
        .iter()
        .filter(|v| v.key() == Some(key))
        .filter_map(|v| Some((v.last_modified()?.to_owned(), v.version_id()?.to_owned())))
        .collect();
    found.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    Ok(found.into_iter().map(|(_, v)| v).take(MAX_FALLBACK).collect())
}

/// Versions tried, newest first: the latest upload and the ones before it.
const MAX_FALLBACK: usize = 3;

async fn get(s3: &Client, bucket: &str, key: &str, version: Option<&str>) -> Result<Vec<u8>, ListLoadError> {
    let unavailable = |message: String| ListLoadError::Unavailable {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message,
    };
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_owned))
        .send()
        .await
        .map_err(|e| unavailable(describe(&e)))?;
    let bytes = out.body.collect().await.map_err(|e| unavailable(e.to_string()))?;
    Ok(bytes.to_vec())
}

/// The newest versions of the lists that parse, and whether older ones had to stand in.
pub async fn load(s3: &Client, at: &ListObjects) -> Result<(SanctionsLists, bool), ListLoadError> {
    let keys: Vec<&str> =
        [Some(at.sdn.as_str()), Some(at.alt.as_str()), at.un.as_deref()].into_iter().flatten().collect();
    let mut candidates = Vec::with_capacity(keys.len());
    for key in &keys {
        let mut v: Vec<Option<String>> = versions(s3, &at.bucket, key).await?.into_iter().map(Some).collect();
        if v.is_empty() {
            v.push(None); // an unversioned bucket: the object as it is
        }
        candidates.push(v);
    }
    // Newest of everything first; then each file stepped back alone, as an update usually
    // replaces one file.
    let depth = candidates.iter().map(Vec::len).max().unwrap_or(1);
    let mut newest_error = None;
    for step in 0..depth {
        for stepped in 0..keys.len() {
            if step == 0 && stepped > 0 {
                break;
            }
            let mut bodies = Vec::with_capacity(keys.len());
            for (i, key) in keys.iter().enumerate() {
                let pick = if i == stepped { step } else { 0 };
                let Some(version) = candidates[i].get(pick) else { continue };
                bodies.push(get(s3, &at.bucket, key, version.as_deref()).await?);
            }
            if bodies.len() < keys.len() {
                continue;
            }
            let un = bodies.get(2).map(Vec::as_slice);
            match SanctionsLists::load(bodies[0].as_slice(), bodies[1].as_slice(), un) {
                Ok(lists) => {
                    if step > 0 {
                        let error = newest_error.as_ref().map(ToString::to_string).unwrap_or_default();
                        tracing::error!(%error, list = keys[stepped], "the newest sanctions list does not parse: screening with the previous version");
                    }
                    return Ok((lists, step > 0));
                }
                Err(e) => {
                    newest_error.get_or_insert(e);
                }
            }
        }
    }
    Err(ListLoadError::NoGoodVersion(newest_error.unwrap_or(ListError::Empty { file: "sdn.csv" })))
}
