//! The functions' handlers: a Lambda event in, the domain's work, a Lambda response out.
//! The binaries under `functions/` only start the runtime with one of these, so the
//! integration tests drive exactly what Lambda runs.

use super::dynamodb::{DynamoAlertLedger, DynamoStateStore};
use super::eventbridge::EventBridgeAlerts;
use super::kinesis::KinesisPublisher;
use super::msk::{KafkaAuth, KafkaPublisher};
use super::s3::{self, S3Lake, S3Quarantine};
use super::sns::SnsNotifier;
use crate::alert::{Alert, DeliveryError, FanOut, fan_out};
use crate::batch::{BatchReport, Quarantine, StreamRecord};
use crate::intake::{self, Intake, IntakeError, Publisher};
use crate::metrics::{MetricsSink, Unit};
use crate::model::{Model, ModelError};
use crate::money::Currency;
use crate::pipeline::{Pipeline, Tally};
use crate::scorer::{Policy, Scorer};
use aws_config::SdkConfig;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::kafka::KafkaEvent;
use aws_lambda_events::kinesis::KinesisEvent;
use aws_lambda_events::s3::S3Event;
use aws_lambda_events::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use std::time::Instant;

/// Environment variables the functions read; the template sets every one.
pub mod env {
    pub const TABLE: &str = "VIGIL_TABLE";
    pub const LAKE_BUCKET: &str = "VIGIL_LAKE_BUCKET";
    pub const QUARANTINE_BUCKET: &str = "VIGIL_QUARANTINE_BUCKET";
    pub const EVENT_BUS: &str = "VIGIL_EVENT_BUS";
    pub const TOPIC_MEDIUM: &str = "VIGIL_TOPIC_MEDIUM";
    pub const TOPIC_HIGH: &str = "VIGIL_TOPIC_HIGH";
    /// Kinesis stream the producer writes to, unless Kafka brokers are set.
    pub const STREAM: &str = "VIGIL_STREAM";
    /// Comma-separated bootstrap brokers: the producer writes to Kafka (MSK) instead.
    pub const KAFKA_BROKERS: &str = "VIGIL_KAFKA_BROKERS";
    pub const KAFKA_TOPIC: &str = "VIGIL_KAFKA_TOPIC";
    /// `iam` (MSK IAM access control over TLS, the default) or `plaintext`.
    pub const KAFKA_AUTH: &str = "VIGIL_KAFKA_AUTH";
    /// Currency of transactions that name none (default USD).
    pub const DEFAULT_CURRENCY: &str = "VIGIL_DEFAULT_CURRENCY";
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0}: {1}")]
    Invalid(&'static str, String),
    #[error(transparent)]
    Model(#[from] ModelError),
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("not an event this function handles: {0}")]
    Event(String),
    /// The event source must deliver the batch again (Kafka: the whole batch).
    #[error("batch must be redelivered: {0}")]
    Redeliver(String),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
}

/// Where a function's configuration comes from: the process environment in Lambda; the
/// template's resolved environment when the local stack runs the functions in process.
pub trait Vars {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment (what Lambda sets from the template).
pub struct ProcessEnv;

impl Vars for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Vars for std::collections::BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

fn var(vars: &dyn Vars, name: &'static str) -> Result<String, ConfigError> {
    vars.get(name).ok_or(ConfigError::Missing(name))
}

fn default_currency(vars: &dyn Vars) -> Result<Currency, ConfigError> {
    match vars.get(env::DEFAULT_CURRENCY) {
        Some(code) => {
            Currency::parse(&code).map_err(|e| ConfigError::Invalid(env::DEFAULT_CURRENCY, e.to_string()))
        }
        None => Ok(Currency::USD),
    }
}

pub type ScorerPipeline = Pipeline<DynamoStateStore, Model, S3Quarantine, S3Lake, EventBridgeAlerts>;

/// The scorer: Kinesis and Kafka (MSK) batches of transactions and labels.
pub struct ScorerHandler {
    pub pipeline: ScorerPipeline,
    pub metrics: MetricsSink,
}

/// The scorer's configuration: the resources it writes to, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScorerConfig {
    pub table: String,
    pub lake_bucket: String,
    pub quarantine_bucket: String,
    pub event_bus: String,
    pub currency: Currency,
}

impl ScorerConfig {
    pub fn from_vars(vars: &dyn Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            table: var(vars, env::TABLE)?,
            lake_bucket: var(vars, env::LAKE_BUCKET)?,
            quarantine_bucket: var(vars, env::QUARANTINE_BUCKET)?,
            event_bus: var(vars, env::EVENT_BUS)?,
            currency: default_currency(vars)?,
        })
    }
}

impl ScorerHandler {
    pub fn from_env(config: &SdkConfig) -> Result<Self, ConfigError> {
        Self::from_vars(config, &ProcessEnv)
    }

    pub fn from_vars(config: &SdkConfig, vars: &dyn Vars) -> Result<Self, ConfigError> {
        Ok(Self::new(
            aws_sdk_dynamodb::Client::new(config),
            s3::client(config),
            aws_sdk_eventbridge::Client::new(config),
            ScorerConfig::from_vars(vars)?,
            Model::embedded()?,
        ))
    }

    /// The scorer over these clients (tests give theirs instrumented).
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        s3: aws_sdk_s3::Client,
        eventbridge: aws_sdk_eventbridge::Client,
        at: ScorerConfig,
        model: Model,
    ) -> Self {
        Self {
            pipeline: Pipeline {
                scorer: Scorer::new(DynamoStateStore::new(dynamodb, at.table), model, Policy::default()),
                quarantine: S3Quarantine::new(s3.clone(), at.quarantine_bucket),
                archive: S3Lake::new(s3, at.lake_bucket),
                alerts: EventBridgeAlerts::new(eventbridge, at.event_bus),
                currency: at.currency,
            },
            metrics: MetricsSink::Stdout,
        }
    }

    /// Either event source, told apart by shape (Kinesis: `Records`; Kafka: `records`).
    /// Takes the event's JSON text: a 10,000-record batch is several megabytes, so it is
    /// parsed once into the event type and dropped (a `serde_json::Value` on the way would
    /// hold it twice over).
    pub async fn handle(&self, event: Box<RawValue>) -> Result<serde_json::Value, HandlerError> {
        #[derive(serde::Deserialize)]
        struct Shape {
            #[serde(rename = "Records")]
            kinesis: Option<serde::de::IgnoredAny>,
            records: Option<serde::de::IgnoredAny>,
        }
        let bad = |e: serde_json::Error| HandlerError::Event(e.to_string());
        let now = Utc::now();
        let shape: Shape = serde_json::from_str(event.get()).map_err(bad)?;
        if shape.kinesis.is_some() {
            let batch: KinesisEvent = serde_json::from_str(event.get()).map_err(bad)?;
            drop(event);
            let response = self.kinesis(batch, now).await;
            Ok(serde_json::to_value(response).unwrap_or_default())
        } else if shape.records.is_some() {
            let batch: KafkaEvent = serde_json::from_str(event.get()).map_err(bad)?;
            drop(event);
            self.kafka(batch, now).await?;
            Ok(serde_json::Value::Null)
        } else {
            Err(HandlerError::Event("expected a Kinesis or Kafka batch".into()))
        }
    }

    /// Reports the first record of a failed batch as the batch item failure: Lambda
    /// retries from there (nothing of the batch was applied).
    pub async fn kinesis(&self, event: KinesisEvent, now: DateTime<Utc>) -> KinesisEventResponse {
        // Only the sequence numbers and payloads matter: the rest of each record goes now.
        let kept: Vec<(String, Vec<u8>)> =
            event.records.into_iter().map(|r| (r.kinesis.sequence_number, r.kinesis.data.0)).collect();
        let records: Vec<StreamRecord<'_>> =
            kept.iter().map(|(position, payload)| StreamRecord { position, payload }).collect();
        let report = self.run(&records, now).await;
        let mut response = KinesisEventResponse::default();
        if let Some(position) = report.retry_from {
            let mut failure = KinesisBatchItemFailure::default();
            failure.item_identifier = Some(position);
            response.batch_item_failures.push(failure);
        }
        response
    }

    /// Kafka redelivers the whole batch on error: safe, the scorer is idempotent.
    pub async fn kafka(&self, event: KafkaEvent, now: DateTime<Utc>) -> Result<(), HandlerError> {
        let mut partitions: Vec<_> = event.records.into_iter().collect();
        partitions.sort_by(|a, b| a.0.cmp(&b.0));
        let decoded: Vec<(String, Vec<u8>)> = partitions
            .into_iter()
            .flat_map(|(partition, records)| records.into_iter().map(move |r| (partition.clone(), r)))
            .map(|(partition, r)| {
                let value = r.value.unwrap_or_default();
                // A value that is not base64 is kept as is: it fails validation and is
                // quarantined with what arrived.
                let payload = base64::engine::general_purpose::STANDARD
                    .decode(&value)
                    .unwrap_or_else(|_| value.into_bytes());
                (format!("{partition}@{}", r.offset), payload)
            })
            .collect();
        let records: Vec<StreamRecord<'_>> =
            decoded.iter().map(|(position, payload)| StreamRecord { position, payload }).collect();
        let report = self.run(&records, now).await;
        match report.retry_from {
            Some(_) => Err(HandlerError::Redeliver(report.error.unwrap_or_default())),
            None => Ok(()),
        }
    }

    async fn run(&self, records: &[StreamRecord<'_>], now: DateTime<Utc>) -> BatchReport {
        let started = Instant::now();
        let report = self.pipeline.run(records, now).await;
        let t = Tally::of(records.len(), &report);
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if let Some(error) = &report.error {
            tracing::warn!(records = t.records, %error, "batch failed, asking for redelivery");
        } else {
            tracing::info!(
                records = t.records,
                quarantined = t.quarantined,
                accepted = t.accepted,
                reviewed = t.reviewed,
                blocked = t.blocked,
                duplicates = t.duplicates,
                labels = t.labels,
                ms,
                "batch scored"
            );
        }
        let count = |n: usize| n as f64;
        self.metrics.emit(
            "scorer",
            &[
                ("Records", Unit::Count, count(t.records)),
                ("Quarantined", Unit::Count, count(t.quarantined)),
                ("Accepted", Unit::Count, count(t.accepted)),
                ("Reviewed", Unit::Count, count(t.reviewed)),
                ("Blocked", Unit::Count, count(t.blocked)),
                ("Duplicates", Unit::Count, count(t.duplicates)),
                ("Labels", Unit::Count, count(t.labels)),
                ("BatchRetries", Unit::Count, count(t.retried)),
                ("BatchLatency", Unit::Milliseconds, ms),
            ],
        );
        report
    }
}

/// The alerts function: one EventBridge alert event in, at most one SNS message out.
pub struct AlertsHandler {
    pub ledger: DynamoAlertLedger,
    pub notifier: SnsNotifier,
    pub metrics: MetricsSink,
}

/// The alerts function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsConfig {
    pub table: String,
    pub topic_medium: String,
    pub topic_high: String,
}

impl AlertsConfig {
    pub fn from_vars(vars: &dyn Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            table: var(vars, env::TABLE)?,
            topic_medium: var(vars, env::TOPIC_MEDIUM)?,
            topic_high: var(vars, env::TOPIC_HIGH)?,
        })
    }
}

impl AlertsHandler {
    pub fn from_env(config: &SdkConfig) -> Result<Self, ConfigError> {
        Self::from_vars(config, &ProcessEnv)
    }

    pub fn from_vars(config: &SdkConfig, vars: &dyn Vars) -> Result<Self, ConfigError> {
        let at = AlertsConfig::from_vars(vars)?;
        Ok(Self {
            ledger: DynamoAlertLedger::new(aws_sdk_dynamodb::Client::new(config), at.table),
            notifier: SnsNotifier::new(aws_sdk_sns::Client::new(config), at.topic_medium, at.topic_high),
            metrics: MetricsSink::Stdout,
        })
    }

    /// An error makes Lambda retry the asynchronous invocation, then dead-letter it.
    pub async fn handle(&self, event: EventBridgeEvent<Alert>) -> Result<FanOut, HandlerError> {
        let alert = event.detail;
        let outcome = fan_out(&self.ledger, &self.notifier, &alert).await?;
        tracing::info!(alert = %alert.id, severity = alert.severity.as_str(), ?outcome, "alert handled");
        self.metrics.emit(
            "alerts",
            &[
                ("AlertsSent", Unit::Count, f64::from(u8::from(outcome == FanOut::Sent))),
                ("AlertsDuplicate", Unit::Count, f64::from(u8::from(outcome == FanOut::Duplicate))),
            ],
        );
        Ok(outcome)
    }
}

/// What the producer did with one S3 batch file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    pub published: usize,
    pub quarantined: usize,
}

/// The producer: REST requests (API Gateway HTTP API) and batch files (S3 ObjectCreated).
pub struct ProducerHandler<P> {
    pub publisher: P,
    pub s3: aws_sdk_s3::Client,
    pub quarantine: S3Quarantine,
    pub currency: Currency,
}

/// The stream a deployment publishes to: Kinesis, or Kafka (MSK) when brokers are set.
pub enum StreamPublisher {
    Kinesis(KinesisPublisher),
    Kafka(KafkaPublisher),
}

impl Publisher for StreamPublisher {
    async fn publish(&self, events: &[crate::wire::Event]) -> Result<(), DeliveryError> {
        match self {
            StreamPublisher::Kinesis(p) => p.publish(events).await,
            StreamPublisher::Kafka(p) => p.publish(events).await,
        }
    }
}

/// Where the producer publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamConfig {
    Kinesis {
        stream: String,
    },
    /// MSK or another Kafka: bootstrap brokers, topic, and whether to use IAM over TLS.
    Kafka {
        brokers: Vec<String>,
        topic: String,
        iam: bool,
    },
}

/// The producer's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    pub stream: StreamConfig,
    pub quarantine_bucket: String,
    pub currency: Currency,
}

impl ProducerConfig {
    pub fn from_vars(vars: &dyn Vars) -> Result<Self, ConfigError> {
        let stream = match vars.get(env::KAFKA_BROKERS) {
            Some(brokers) => StreamConfig::Kafka {
                brokers: brokers.split(',').map(str::trim).map(str::to_owned).collect(),
                topic: var(vars, env::KAFKA_TOPIC)?,
                iam: match vars.get(env::KAFKA_AUTH).as_deref() {
                    Some("iam") | None => true,
                    Some("plaintext") => false,
                    Some(other) => {
                        return Err(ConfigError::Invalid(
                            env::KAFKA_AUTH,
                            format!("`{other}`: iam or plaintext"),
                        ));
                    }
                },
            },
            None => StreamConfig::Kinesis { stream: var(vars, env::STREAM)? },
        };
        Ok(Self {
            stream,
            quarantine_bucket: var(vars, env::QUARANTINE_BUCKET)?,
            currency: default_currency(vars)?,
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
        let publisher = match at.stream {
            StreamConfig::Kafka { brokers, topic, iam } => {
                let auth = if iam {
                    let region = config.region().ok_or(ConfigError::Missing("AWS_REGION"))?;
                    KafkaAuth::MskIam { region: region.to_string() }
                } else {
                    KafkaAuth::Plaintext
                };
                let kafka = KafkaPublisher::connect(brokers, &topic, auth)
                    .await
                    .map_err(|e| ConfigError::Invalid(env::KAFKA_BROKERS, e.to_string()))?;
                StreamPublisher::Kafka(kafka)
            }
            StreamConfig::Kinesis { stream } => {
                StreamPublisher::Kinesis(KinesisPublisher::new(aws_sdk_kinesis::Client::new(config), stream))
            }
        };
        Ok(Self {
            publisher,
            quarantine: S3Quarantine::new(s3.clone(), at.quarantine_bucket),
            s3,
            currency: at.currency,
        })
    }
}

fn json_response(status: i64, body: &impl Serialize) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = status;
    response.headers.insert(
        aws_lambda_events::http::header::CONTENT_TYPE,
        aws_lambda_events::http::HeaderValue::from_static("application/json"),
    );
    response.body = Some(Body::Text(serde_json::to_string(body).unwrap_or_default()));
    response
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
        let body = request.body.unwrap_or_default();
        let bytes = if request.is_base64_encoded {
            match base64::engine::general_purpose::STANDARD.decode(&body) {
                Ok(b) => b,
                Err(e) => return json_response(400, &serde_json::json!({ "error": e.to_string() })),
            }
        } else {
            body.into_bytes()
        };
        let intake = match intake::from_body(&bytes, self.currency, now) {
            Ok(intake) => intake,
            Err(e) => return json_response(400, &serde_json::json!({ "error": e.to_string() })),
        };
        if let Err(e) = self.publisher.publish(&intake.events).await {
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
            let key = decode_key(&key);
            let bytes = s3::get(&self.s3, &bucket, &key).await?;
            let intake: Intake = intake::from_file(&key, bytes, self.currency, now)?;
            self.publisher.publish(&intake.events).await?;
            let bad = intake.quarantine(&format!("s3://{bucket}/{key}"));
            summary.published += intake.events.len();
            summary.quarantined += bad.len();
            self.quarantine
                .put(bad)
                .await
                .map_err(|e| DeliveryError { service: "S3", message: e.to_string() })?;
            tracing::info!(%key, published = intake.events.len(), refused = intake.refused.len(), "batch file published");
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::decode_key;

    #[test]
    fn s3_keys_are_url_decoded() {
        assert_eq!(decode_key("incoming/day+1/a%2Bb.csv"), "incoming/day 1/a+b.csv");
        assert_eq!(decode_key("bad%zz%4"), "bad%zz%4");
    }
}
