//! Azure Blob Storage, the backup's second cloud: block blobs over the REST API with
//! Shared Key authorization, on the hyper client, rustls and digests the AWS SDK already
//! builds. No Azure SDK: its HTTP stack (reqwest, ~40 more crates: about a minute more
//! of every cold build) would be a second one in the function, and its current release
//! signs with Entra ID or SAS only, not the Shared Key that Azurite takes over plain HTTP.
//!
//! Each block is put with its Content-MD5 (the service refuses a block whose bytes do
//! not match it); the block list carries the whole blob's MD5 (kept as its Content-MD5)
//! and the SHA-256 the copier computed (metadata `sha256`). With `immutability_days`, each
//! blob gets a locked version-level immutability policy (the account's container must have
//! version-level immutability support); without, the container's own time-based retention
//! policy protects it (README, Backup: what the account needs).

use crate::backup::{
    BackupError, BackupTarget, Chunks, Digests, Lock, Sha256Hex, SourceObject, Stored, TargetKind, Upload,
    md5_base64,
};
use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use hmac::Mac;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// The storage service version the requests are written for.
const VERSION: &str = "2021-12-02";
const TARGET: &str = "Azure";

/// The account, key and container, from Secrets Manager (never the template).
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureCredentials {
    pub account: String,
    /// The account key, base64, as the portal shows it.
    pub key: String,
    /// `https://<account>.blob.core.windows.net` by default; Azurite's is
    /// `http://127.0.0.1:<port>/<account>`.
    #[serde(default)]
    pub endpoint: Option<String>,
    pub container: String,
    /// Days of a locked immutability policy on each blob; unset: the container's policy.
    #[serde(default)]
    pub immutability_days: Option<u32>,
}

impl std::fmt::Debug for AzureCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureCredentials")
            .field("account", &self.account)
            .field("key", &"…")
            .field("endpoint", &self.endpoint)
            .field("container", &self.container)
            .field("immutability_days", &self.immutability_days)
            .finish()
    }
}

fn transient(message: impl Into<String>) -> BackupError {
    BackupError::transient(TARGET, message)
}

/// Percent-encodes all but unreserved characters (and `/` in paths).
fn encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// A container's blobs.
#[derive(Clone)]
pub struct AzureBlob {
    http: Client<Https, Full<Bytes>>,
    account: String,
    key: Vec<u8>,
    /// Scheme, host and path prefix: `https://acct.blob.core.windows.net`.
    endpoint: String,
    pub container: String,
    immutability_days: Option<u32>,
    /// One request, to its response headers.
    timeout: Duration,
    block_size: usize,
}

impl AzureBlob {
    pub fn new(credentials: &AzureCredentials, block_size: u64) -> Result<AzureBlob, String> {
        if credentials.account.trim().is_empty() || credentials.container.trim().is_empty() {
            return Err(
                "the Azure account or container is not set (put them in the secret: README, Backup)".into()
            );
        }
        let key = base64::engine::general_purpose::STANDARD
            .decode(credentials.key.trim())
            .map_err(|e| format!("the Azure account key is not base64: {e}"))?;
        let endpoint = credentials
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://{}.blob.core.windows.net", credentials.account));
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(AzureBlob {
            http: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(https),
            account: credentials.account.clone(),
            key,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            container: credentials.container.clone(),
            immutability_days: credentials.immutability_days,
            timeout: Duration::from_secs(30),
            block_size: usize::try_from(block_size).unwrap_or(usize::MAX).max(1),
        })
    }

    /// One signed request; `blob` `None` addresses the container. `query` values raw.
    async fn send(
        &self,
        method: Method,
        blob: Option<&str>,
        query: &[(&str, String)],
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<http::Response<hyper::body::Incoming>, BackupError> {
        let mut path = format!("{}/{}", self.endpoint, encode(&self.container, false));
        if let Some(blob) = blob {
            path.push('/');
            path.push_str(&encode(blob, true));
        }
        let mut query: Vec<(&str, String)> = query.to_vec();
        query.sort_by(|a, b| a.0.cmp(b.0));
        let mut url = path.clone();
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{k}={}", encode(v, false)));
        }
        let uri: http::Uri = url.parse().map_err(|e| BackupError::Invalid(format!("blob URL {url}: {e}")))?;
        let date = Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let mut x_ms: Vec<(String, String)> =
            vec![("x-ms-date".into(), date), ("x-ms-version".into(), VERSION.into())];
        let mut standard: Vec<(&str, String)> = Vec::new();
        for (name, value) in headers {
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("x-ms-") {
                x_ms.push((lower, value.clone()));
            } else {
                standard.push((name, value.clone()));
            }
        }
        x_ms.sort();
        let header = |name: &str| {
            standard.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).unwrap_or("")
        };
        let length = if body.is_empty() { String::new() } else { body.len().to_string() };
        let mut to_sign = format!(
            "{method}\n\n\n{length}\n{}\n{}\n\n\n\n\n\n\n",
            header("Content-MD5"),
            header("Content-Type")
        );
        for (name, value) in &x_ms {
            to_sign.push_str(&format!("{name}:{value}\n"));
        }
        let url_path = uri.path();
        to_sign.push_str(&format!("/{}{url_path}", self.account));
        for (k, v) in &query {
            to_sign.push_str(&format!("\n{}:{v}", k.to_ascii_lowercase()));
        }
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key)
            .map_err(|e| BackupError::Invalid(format!("Azure key: {e}")))?;
        mac.update(to_sign.as_bytes());
        let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let mut request = Request::builder().method(method.clone()).uri(uri);
        for (name, value) in
            x_ms.iter().map(|(n, v)| (n.as_str(), v)).chain(standard.iter().map(|(n, v)| (*n, v)))
        {
            request = request.header(name, value);
        }
        request = request
            .header("Authorization", format!("SharedKey {}:{signature}", self.account))
            .header("Content-Length", body.len());
        let request = request.body(Full::new(body)).map_err(|e| BackupError::Invalid(e.to_string()))?;
        let what = format!("{method} {}", blob.unwrap_or(&self.container));
        match tokio::time::timeout(self.timeout, self.http.request(request)).await {
            Err(_) => Err(transient(format!("{what}: no answer within {:?}", self.timeout))),
            Ok(Err(e)) => Err(transient(format!("{what}: {}", crate::aws::describe(&e)))),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// Fails unless the answer is `expected`; the service's error code in the message.
    async fn expect(
        response: http::Response<hyper::body::Incoming>,
        expected: StatusCode,
        what: &str,
    ) -> Result<http::Response<hyper::body::Incoming>, BackupError> {
        if response.status() == expected {
            return Ok(response);
        }
        let status = response.status();
        let code =
            response.headers().get("x-ms-error-code").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let text = String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned();
        Err(transient(format!("{what}: {status} {code} {text}")))
    }

    /// Creates the container (local stand-ins; a real one is made with its policy).
    pub async fn create_container(&self) -> Result<(), BackupError> {
        let query = [("restype", "container".to_owned())];
        let response = self.send(Method::PUT, None, &query, &[], Bytes::new()).await?;
        if response.status() == StatusCode::CONFLICT {
            return Ok(());
        }
        Self::expect(response, StatusCode::CREATED, "create container").await.map(drop)
    }

    /// A blob's answer to `method` (GET, HEAD); `None` if there is no such blob.
    async fn found(
        &self,
        method: Method,
        name: &str,
    ) -> Result<Option<http::Response<hyper::body::Incoming>>, BackupError> {
        let response = self.send(method, Some(name), &[], &[], Bytes::new()).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Self::expect(response, StatusCode::OK, name).await.map(Some)
    }

    /// A blob's size and properties; `None` if there is none.
    pub async fn properties(&self, name: &str) -> Result<Option<Stored>, BackupError> {
        let Some(response) = self.found(Method::HEAD, name).await? else { return Ok(None) };
        let h = response.headers();
        let text = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let size = text("content-length").and_then(|s| s.parse().ok()).unwrap_or(0);
        let lock = text("x-ms-immutability-policy-until-date")
            .and_then(|d| DateTime::parse_from_rfc2822(&d).ok())
            .map(|d| Lock {
                mode: text("x-ms-immutability-policy-mode").unwrap_or_else(|| "locked".into()),
                retain_until: d.with_timezone(&Utc),
            });
        Ok(Some(Stored {
            location: self.container.clone(),
            name: name.to_owned(),
            version: None,
            size,
            sha256: text("x-ms-meta-sha256").and_then(|s| Sha256Hex::parse(&s)),
            lock,
            content_md5: text("content-md5"),
            block_md5s: Vec::new(),
        }))
    }

    /// A blob's bytes as they arrive; `None` if there is none.
    pub async fn get(&self, name: &str) -> Result<Option<Chunks>, BackupError> {
        let Some(response) = self.found(Method::GET, name).await? else { return Ok(None) };
        let what = name.to_owned();
        let chunks = response
            .into_body()
            .into_data_stream()
            .map_err(move |e| transient(format!("reading {what}: {e}")))
            .boxed();
        Ok(Some(chunks))
    }

    /// Puts one block with its Content-MD5.
    async fn put_block(&self, name: &str, id: &str, block: Bytes) -> Result<String, BackupError> {
        let md5 = md5_base64(&block);
        let query = [("comp", "block".to_owned()), ("blockid", id.to_owned())];
        let response =
            self.send(Method::PUT, Some(name), &query, &[("Content-MD5", md5.clone())], block).await?;
        Self::expect(response, StatusCode::CREATED, &format!("put block {id} of {name}")).await?;
        Ok(md5)
    }

    fn policy(&self) -> Vec<(&'static str, String)> {
        match self.immutability_days {
            Some(days) => {
                let until = Utc::now() + chrono::Duration::days(i64::from(days));
                vec![
                    (
                        "x-ms-immutability-policy-until-date",
                        until.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
                    ),
                    ("x-ms-immutability-policy-mode", "Locked".to_owned()),
                ]
            }
            None => Vec::new(),
        }
    }

    /// Commits the blocks, with the whole blob's MD5 and SHA-256.
    async fn put_block_list(&self, name: &str, ids: &[String], digests: &Digests) -> Result<(), BackupError> {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        for id in ids {
            xml.push_str(&format!("<Latest>{id}</Latest>"));
        }
        xml.push_str("</BlockList>");
        let mut headers = vec![
            ("x-ms-blob-content-md5", digests.md5.clone()),
            ("x-ms-meta-sha256", digests.sha256.to_string()),
            ("Content-MD5", md5_base64(xml.as_bytes())),
        ];
        headers.extend(self.policy());
        let query = [("comp", "blocklist".to_owned())];
        let response = self.send(Method::PUT, Some(name), &query, &headers, Bytes::from(xml)).await?;
        Self::expect(response, StatusCode::CREATED, &format!("put block list of {name}")).await.map(drop)
    }

    /// Puts a small blob whole.
    pub async fn put_blob(&self, name: &str, body: Bytes, sha256: &Sha256Hex) -> Result<(), BackupError> {
        let mut headers = vec![
            ("x-ms-blob-type", "BlockBlob".to_owned()),
            ("Content-MD5", md5_base64(&body)),
            ("x-ms-meta-sha256", sha256.to_string()),
        ];
        headers.extend(self.policy());
        let response = self.send(Method::PUT, Some(name), &[], &headers, body).await?;
        Self::expect(response, StatusCode::CREATED, &format!("put {name}")).await.map(drop)
    }

    /// Deletes a blob (the drill's injected loss; the copier never deletes).
    pub async fn delete(&self, name: &str) -> Result<(), BackupError> {
        let response = self.send(Method::DELETE, Some(name), &[], &[], Bytes::new()).await?;
        Self::expect(response, StatusCode::ACCEPTED, &format!("delete {name}")).await.map(drop)
    }

    /// Names of the blobs under `prefix`, sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BackupError> {
        let mut out = Vec::new();
        let mut marker = String::new();
        loop {
            let mut query = vec![
                ("restype", "container".to_owned()),
                ("comp", "list".to_owned()),
                ("prefix", prefix.to_owned()),
            ];
            if !marker.is_empty() {
                query.push(("marker", marker.clone()));
            }
            let response = self.send(Method::GET, None, &query, &[], Bytes::new()).await?;
            let response = Self::expect(response, StatusCode::OK, "list blobs").await?;
            let body =
                response.into_body().collect().await.map_err(|e| transient(format!("list blobs: {e}")))?;
            let (names, next) = parse_list(&body.to_bytes())?;
            out.extend(names);
            match next {
                Some(next) if !next.is_empty() => marker = next,
                _ => break,
            }
        }
        out.sort();
        Ok(out)
    }
}

/// `<Blob><Name>…</Name>` elements and `<NextMarker>` of a List Blobs answer.
fn parse_list(xml: &[u8]) -> Result<(Vec<String>, Option<String>), BackupError> {
    use quick_xml::events::Event;
    let bad = |e: &dyn std::fmt::Display| transient(format!("list blobs answer: {e}"));
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let (mut names, mut next) = (Vec::new(), None);
    // An element's text arrives in pieces around entity references (`a&amp;b`).
    let mut text = String::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).map_err(|e| bad(&e))? {
            Event::Start(e) => {
                path.push(e.name().as_ref().to_vec());
                text.clear();
            }
            Event::End(_) => {
                let at: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
                match at.as_slice() {
                    [.., b"Blob", b"Name"] => names.push(std::mem::take(&mut text)),
                    [.., b"NextMarker"] => next = Some(std::mem::take(&mut text)),
                    _ => text.clear(),
                }
                path.pop();
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(|e| bad(&e))?),
            Event::GeneralRef(r) => {
                let entity = r.decode().map_err(|e| bad(&e))?;
                let c = match entity.as_ref() {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => r.resolve_char_ref().map_err(|e| bad(&e))?,
                };
                text.push(c.ok_or_else(|| bad(&format!("unknown entity &{entity};")))?);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok((names, next))
}

/// [`AzureBlob`] as a backup target.
pub struct AzureTarget {
    pub blob: AzureBlob,
}

struct AzureUpload<'a> {
    blob: &'a AzureBlob,
    name: String,
    pending: Vec<u8>,
    ids: Vec<String>,
    md5s: Vec<String>,
}

impl AzureUpload<'_> {
    async fn put_pending(&mut self, len: usize) -> Result<(), BackupError> {
        let block: Vec<u8> = self.pending.drain(..len).collect();
        // Ids of one length, as the service requires: the block's number.
        let id = base64::engine::general_purpose::STANDARD.encode(format!("{:08}", self.ids.len()));
        let md5 = self.blob.put_block(&self.name, &id, Bytes::from(block)).await?;
        self.ids.push(id);
        self.md5s.push(md5);
        Ok(())
    }
}

impl<'a> Upload<'a> for AzureUpload<'a> {
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, Result<(), BackupError>> {
        async move {
            self.pending.extend_from_slice(&chunk);
            while self.pending.len() >= self.blob.block_size {
                self.put_pending(self.blob.block_size).await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn finish(mut self: Box<Self>, digests: Digests) -> BoxFuture<'a, Result<Stored, BackupError>> {
        async move {
            if !self.pending.is_empty() {
                let len = self.pending.len();
                self.put_pending(len).await?;
            }
            self.blob.put_block_list(&self.name, &self.ids, &digests).await?;
            let stored = self
                .blob
                .properties(&self.name)
                .await?
                .ok_or_else(|| transient(format!("{} is not there after its block list", self.name)))?;
            if stored.size != digests.size || stored.content_md5.as_deref() != Some(digests.md5.as_str()) {
                return Err(transient(format!(
                    "{}: stored {} bytes, MD5 {:?}; sent {} bytes, MD5 {}",
                    self.name, stored.size, stored.content_md5, digests.size, digests.md5
                )));
            }
            Ok(Stored { block_md5s: self.md5s, ..stored })
        }
        .boxed()
    }
}

impl BackupTarget for AzureTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Azure
    }

    fn location(&self) -> &str {
        &self.blob.container
    }

    fn stat<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Stored>, BackupError>> {
        self.blob.properties(name).boxed()
    }

    fn upload<'a>(
        &'a self,
        _object: &'a SourceObject,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Upload<'a> + 'a>, BackupError>> {
        async move {
            let upload: Box<dyn Upload<'a> + 'a> = Box::new(AzureUpload {
                blob: &self.blob,
                name: name.to_owned(),
                pending: Vec::with_capacity(self.blob.block_size),
                ids: Vec::new(),
                md5s: Vec::new(),
            });
            Ok(upload)
        }
        .boxed()
    }

    /// Blobs are not versioned here: the version asked for is what the blob is.
    fn read<'a>(
        &'a self,
        name: &'a str,
        _version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Chunks>, BackupError>> {
        self.blob.get(name).boxed()
    }

    fn put<'a>(
        &'a self,
        name: &'a str,
        body: Bytes,
        sha256: &'a Sha256Hex,
    ) -> BoxFuture<'a, Result<(), BackupError>> {
        self.blob.put_blob(name, body, sha256).boxed()
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, BackupError>> {
        self.blob.list(prefix).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_for_urls_and_list_answers_parse() {
        assert_eq!(
            encode("objects/lake/decisions/dt=2018-04-01/a b@v1", true),
            "objects/lake/decisions/dt%3D2018-04-01/a%20b%40v1"
        );
        assert_eq!(encode("MDA=+/", false), "MDA%3D%2B%2F");
        let xml = br#"<?xml version="1.0"?><EnumerationResults><Blobs><Blob><Name>a&amp;b&#64;v</Name><Properties><Content-Length>3</Content-Length></Properties></Blob><Blob><Name>c</Name></Blob></Blobs><NextMarker>m2</NextMarker></EnumerationResults>"#;
        let (names, next) = parse_list(xml).unwrap();
        assert_eq!(names, ["a&b@v", "c"]);
        assert_eq!(next.as_deref(), Some("m2"));
    }

    #[test]
    fn credentials_never_print_the_key() {
        let c: AzureCredentials =
            serde_json::from_str(r#"{"account":"a","key":"c2VjcmV0","container":"b"}"#).unwrap();
        assert!(!format!("{c:?}").contains("c2VjcmV0"));
        assert!(AzureBlob::new(&c, 1024).is_ok());
        let bad = AzureCredentials { key: "not base64!".into(), ..c };
        assert!(AzureBlob::new(&bad, 1024).is_err());
    }
}
