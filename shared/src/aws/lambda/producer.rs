//! The producer: REST requests (API Gateway HTTP API) and batch files (S3 ObjectCreated).

use super::http::{self, json_response};
use super::stream::{StreamConfig, StreamPublisher};
use super::{ConfigError, HandlerError, ProcessEnv, Vars, default_currency, env, var};
use crate::alert::DeliveryError;
use crate::aws::s3::{self, S3Quarantine};
use crate::batch::Quarantine;
use crate::intake::{self, FileEnd, FileFormat, FileLimits, Intake, IntakeError, Publisher, Refusal};
use crate::metrics::{MetricsSink, Unit};
use crate::money::Currency;
use aws_config::SdkConfig;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::s3::S3Event;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::ops::ControlFlow;

/// What the producer did with the S3 batch files of one event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    pub published: usize,
    /// Quarantine records written: one per refused row, one per refused file.
    pub quarantined: usize,
    /// Files refused whole (too large, unreadable, not a batch file).
    pub files_refused: usize,
}

impl std::ops::AddAssign for FileSummary {
    fn add_assign(&mut self, other: Self) {
        self.published += other.published;
        self.quarantined += other.quarantined;
        self.files_refused += other.files_refused;
    }
}

/// The producer: REST requests (API Gateway HTTP API) and batch files (S3 ObjectCreated).
pub struct ProducerHandler<P> {
    pub publisher: P,
    /// Every event is protected (numbers tokenised, parties sealed) before it is published.
    pub privacy: std::sync::Arc<crate::privacy::Privacy>,
    pub s3: aws_sdk_s3::Client,
    pub quarantine: S3Quarantine,
    pub currency: Currency,
    pub files: FileLimits,
    pub metrics: MetricsSink,
}

/// The producer's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    pub stream: StreamConfig,
    pub quarantine_bucket: String,
    pub currency: Currency,
    pub files: FileLimits,
}

/// A positive byte count from `name`, or `default` when it is not set.
fn bytes(vars: &dyn Vars, name: &'static str, default: u64) -> Result<u64, ConfigError> {
    match vars.get(name) {
        None => Ok(default),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError::Invalid(name, format!("`{text}`: a positive number of bytes"))),
        },
    }
}

impl ProducerConfig {
    pub fn from_vars(vars: &dyn Vars) -> Result<Self, ConfigError> {
        let stream = StreamConfig::from_vars(vars)?;
        Ok(Self {
            stream,
            quarantine_bucket: var(vars, env::QUARANTINE_BUCKET)?,
            currency: default_currency(vars)?,
            files: FileLimits {
                max_file_bytes: bytes(vars, env::MAX_FILE_BYTES, FileLimits::default().max_file_bytes)?,
                max_decompressed_bytes: bytes(
                    vars,
                    env::MAX_DECOMPRESSED_BYTES,
                    FileLimits::default().max_decompressed_bytes,
                )?,
            },
        })
    }
}

impl ProducerHandler<StreamPublisher> {
    pub async fn from_env(config: &SdkConfig) -> Result<Self, ConfigError> {
        Self::from_vars(config, &ProcessEnv).await
    }

    /// Connects to the stream (Kafka: fetches the topic's partitions).
    pub async fn from_vars(config: &SdkConfig, vars: &dyn Vars) -> Result<Self, ConfigError> {
        let at = ProducerConfig::from_vars(vars)?;
        let s3 = s3::client(config);
        let publisher = StreamPublisher::connect(config, at.stream).await?;
        let privacy = super::privacy(config, vars).await?;
        Ok(Self {
            publisher,
            quarantine: S3Quarantine::new(s3.clone(), at.quarantine_bucket, privacy.clone()),
            privacy,
            s3,
            currency: at.currency,
            files: at.files,
            metrics: MetricsSink::Stdout,
        })
    }
}

/// S3 event keys arrive URL-encoded (`+` for space).
fn decode_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl<P: Publisher> ProducerHandler<P> {
    /// Either trigger, told apart by shape (S3: `Records`; API Gateway: `requestContext`).
    pub async fn handle(&self, event: serde_json::Value) -> Result<serde_json::Value, HandlerError> {
        let now = Utc::now();
        let bad = |e: serde_json::Error| HandlerError::Event(e.to_string());
        if event.get("Records").is_some() {
            let summary = self.files(serde_json::from_value(event).map_err(bad)?, now).await?;
            Ok(serde_json::to_value(summary).unwrap_or_default())
        } else if event.get("requestContext").is_some() {
            let response = self.api(serde_json::from_value(event).map_err(bad)?, now).await;
            Ok(serde_json::to_value(response).unwrap_or_default())
        } else {
            Err(HandlerError::Event("expected an S3 notification or an API Gateway request".into()))
        }
    }

    /// `POST /transactions`: 200 with a result per item (some may be rejected), 400 when
    /// the body is not events at all, 503 when the stream did not take them (retry).
    pub async fn api(
        &self,
        request: ApiGatewayV2httpRequest,
        now: DateTime<Utc>,
    ) -> ApiGatewayV2httpResponse {
        let bytes = match http::body(request) {
            Ok(b) => b,
            Err(e) => return json_response(400, &serde_json::json!({ "error": e })),
        };
        let mut intake = match intake::from_body(&bytes, self.currency, now) {
            Ok(intake) => intake,
            Err(e) => return json_response(400, &serde_json::json!({ "error": e.to_string() })),
        };
        if let Err(e) = self.publish(&mut intake).await {
            tracing::warn!(error = %e, "publish failed");
            return json_response(503, &serde_json::json!({ "error": e.to_string() }));
        }
        let accepted = intake.events.len();
        let status = if accepted == 0 && !intake.refused.is_empty() { 400 } else { 200 };
        json_response(
            status,
            &serde_json::json!({ "accepted": accepted, "rejected": intake.refused.len(), "results": intake.results() }),
        )
    }

    /// Each new object: read, validate, publish the good rows, quarantine the bad ones.
    pub async fn files(&self, event: S3Event, now: DateTime<Utc>) -> Result<FileSummary, HandlerError> {
        let mut summary = FileSummary::default();
        for record in event.records {
            let (Some(bucket), Some(key)) = (record.s3.bucket.name, record.s3.object.key) else {
                return Err(HandlerError::Event("S3 record without bucket or key".into()));
            };
            // Boxed: the reading and publishing futures nest deep enough to overflow the
            // compiler's layout query depth in the binary's main.
            summary += Box::pin(self.file(&bucket, &decode_key(&key), now)).await?;
        }
        // A refused file fails nothing (retrying would not help): its metric is what alarms.
        self.metrics.emit(
            "producer",
            &[
                ("Published", Unit::Count, summary.published as f64),
                ("Quarantined", Unit::Count, summary.quarantined as f64),
                ("FilesRefused", Unit::Count, summary.files_refused as f64),
            ],
        );
        Ok(summary)
    }

    /// One batch file. Refused whole (one quarantine record, and done) when its name,
    /// size or content breaks a bound: a retry would fail the same way. Otherwise read as
    /// a stream on a blocking thread, each chunk published and its bad rows quarantined
    /// while the next is read: memory holds a few chunks, whatever the file's size.
    async fn file(&self, bucket: &str, key: &str, now: DateTime<Utc>) -> Result<FileSummary, HandlerError> {
        let source = format!("s3://{bucket}/{key}");
        let format = match FileFormat::of(key) {
            Ok(format) => format,
            Err(refusal) => return self.refuse(&source, refusal.into()).await,
        };
        // Sized before any byte is fetched: a huge object costs one HEAD request.
        if let Err(refusal) = self.files.admit(s3::size(&self.s3, bucket, key).await?) {
            return self.refuse(&source, refusal.into()).await;
        }
        let (pump, reader) = s3::blocking_body(s3::body(&self.s3, bucket, key).await?);
        // One chunk waiting while one is published: the reader stays at most two ahead.
        let (tx, rx) = tokio::sync::mpsc::channel::<Intake>(1);
        let (name, limits, currency) = (key.to_owned(), self.files, self.currency);
        let read = tokio::task::spawn_blocking(move || {
            intake::read_file(&name, format, reader, limits, currency, now, |chunk| {
                match tx.blocking_send(chunk) {
                    Ok(()) => ControlFlow::Continue(()),
                    // The publishing side failed and said why; stop reading.
                    Err(_) => ControlFlow::Break(()),
                }
            })
        });
        let publish = async {
            // Owned here, so that a failed publish closes the channel and stops the reader.
            let mut rx = rx;
            let mut summary = FileSummary::default();
            while let Some(mut chunk) = rx.recv().await {
                self.publish(&mut chunk).await?;
                let bad = chunk.quarantine(&source);
                summary +=
                    FileSummary { published: chunk.events.len(), quarantined: bad.len(), files_refused: 0 };
                self.put_quarantine(bad).await?;
            }
            Ok::<_, HandlerError>(summary)
        };
        let (pumped, published, read) = futures::join!(pump, publish, read);
        // The first failure in the chain is the one to report: a failed publish stops the
        // reader, a failed body fails the reader.
        let mut summary = published?;
        pumped?;
        let end = read.map_err(|e| IntakeError::Interrupted(source.clone(), e.to_string()))??;
        match end {
            FileEnd::Read => {}
            FileEnd::Refused(refusal) => summary += self.refuse(&source, refusal).await?,
            FileEnd::Stopped => {
                return Err(
                    IntakeError::Interrupted(source, "the publisher stopped taking events".into()).into()
                );
            }
        }
        tracing::info!(%key, published = summary.published, quarantined = summary.quarantined, "batch file published");
        Ok(summary)
    }

    /// A refused file: one quarantine record with its location and reason.
    async fn refuse(&self, source: &str, refusal: Refusal) -> Result<FileSummary, HandlerError> {
        let record = refusal.quarantined(source);
        tracing::warn!(source, code = record.code, reason = %record.reason, "batch file refused");
        self.put_quarantine(vec![record]).await?;
        Ok(FileSummary { published: 0, quarantined: 1, files_refused: 1 })
    }

    /// Protects the intake's events (in place: the answer names protected ids), then
    /// publishes them.
    async fn publish(&self, intake: &mut Intake) -> Result<(), DeliveryError> {
        let events = std::mem::take(&mut intake.events);
        let mut protected = Vec::with_capacity(events.len());
        for event in events {
            let event = self.privacy.protect(event).await;
            protected.push(event.map_err(|e| DeliveryError { service: "KMS", message: e.to_string() })?);
        }
        intake.events = protected;
        self.publisher.publish(&intake.events).await
    }

    async fn put_quarantine(&self, records: Vec<crate::batch::Quarantined>) -> Result<(), HandlerError> {
        self.quarantine
            .put(records)
            .await
            .map_err(|e| DeliveryError { service: "S3", message: e.to_string() })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{ProducerConfig, decode_key, env};
    use crate::intake::FileLimits;
    use std::collections::BTreeMap;

    #[test]
    fn file_limits_come_from_the_environment_or_default() {
        let mut vars = BTreeMap::from([
            (env::STREAM.to_owned(), "s".to_owned()),
            (env::QUARANTINE_BUCKET.to_owned(), "q".to_owned()),
        ]);
        assert_eq!(ProducerConfig::from_vars(&vars).unwrap().files, FileLimits::default());
        vars.insert(env::MAX_FILE_BYTES.into(), "1048576".into());
        vars.insert(env::MAX_DECOMPRESSED_BYTES.into(), " 4096 ".into());
        let files = ProducerConfig::from_vars(&vars).unwrap().files;
        assert_eq!(files, FileLimits { max_file_bytes: 1 << 20, max_decompressed_bytes: 4096 });
        for bad in ["0", "-1", "1MB"] {
            vars.insert(env::MAX_FILE_BYTES.into(), bad.into());
            let err = ProducerConfig::from_vars(&vars).unwrap_err();
            assert!(err.to_string().contains("VIGIL_MAX_FILE_BYTES"), "{bad}: {err}");
        }
    }

    #[test]
    fn s3_keys_are_url_decoded() {
        assert_eq!(decode_key("incoming/day+1/a%2Bb.csv"), "incoming/day 1/a+b.csv");
        assert_eq!(decode_key("bad%zz%4"), "bad%zz%4");
    }
}
