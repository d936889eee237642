//! The scorer: Kinesis and Kafka (MSK) batches of transactions and labels.

use super::decisions;
use super::stream::{StreamConfig, StreamPublisher};
use super::{ConfigError, HandlerError, ProcessEnv, Vars, default_currency, env, var};
use crate::aml::{AmlConfig, AmlEngine};
use crate::audit::{AuditStore, AuditTrail};
use crate::aws::Timeouts;
use crate::aws::dynamodb::DynamoStateStore;
use crate::aws::eventbridge::EventBridgeAlerts;
use crate::aws::lists::{self, ListObjects};
use crate::aws::s3::{self, S3Lake, S3Quarantine};
use crate::batch::{BatchReport, StreamRecord};
use crate::compliance::{Compliance, DEFAULT_BLOCK_AT, Screening};
use crate::decide::Desk;
use crate::metrics::{MetricsSink, Unit};
use crate::model::Model;
use crate::money::Currency;
use crate::pipeline::{Pipeline, Tally};
use crate::privacy::Privacy;
use crate::sanctions::Screener;
use crate::scorer::{Policy, Scorer};
use crate::sweep::{Swept, sweep_parked_labels};
use aws_config::SdkConfig;
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::kafka::KafkaEvent;
use aws_lambda_events::kinesis::KinesisEvent;
use aws_lambda_events::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Instant;

pub type ScorerPipeline = Pipeline<DynamoStateStore, Model, S3Quarantine, S3Lake, EventBridgeAlerts>;

/// The scorer: Kinesis and Kafka (MSK) batches of transactions and labels.
pub struct ScorerHandler {
    pub pipeline: ScorerPipeline,
    pub metrics: MetricsSink,
    /// The decision API (`POST /v1/decisions`), where the environment names a stream.
    pub desk: Option<Desk<StreamPublisher>>,
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

/// AML parameters and the sanctions lists, as the environment names them.
pub async fn compliance(s3: &aws_sdk_s3::Client, vars: &dyn Vars) -> Result<Compliance, ConfigError> {
    Ok(Compliance { aml: aml(vars)?, screening: screening(s3, vars).await? })
}

/// The AML engine with the environment's parameters (the defaults when unset).
pub fn aml(vars: &dyn Vars) -> Result<AmlEngine, ConfigError> {
    let invalid = |e: crate::aml::AmlConfigError| ConfigError::Invalid(env::AML_CONFIG, e.to_string());
    let config = match vars.get(env::AML_CONFIG) {
        Some(json) => AmlConfig::from_json(&json).map_err(invalid)?,
        None => AmlConfig::default(),
    };
    AmlEngine::new(config).map_err(invalid)
}

/// Where the sanctions lists are and when a match blocks; `None` when the environment
/// names no lists bucket (nothing is screened).
#[derive(Debug, Clone, PartialEq)]
pub struct ScreeningConfig {
    pub objects: ListObjects,
    pub block_at: f64,
}

impl ScreeningConfig {
    pub fn from_vars(vars: &dyn Vars) -> Result<Option<Self>, ConfigError> {
        let Some(bucket) = vars.get(env::SANCTIONS_BUCKET) else { return Ok(None) };
        let objects = ListObjects {
            bucket,
            sdn: vars.get(env::SANCTIONS_SDN_KEY).unwrap_or_else(|| "sanctions/sdn.csv".into()),
            alt: vars.get(env::SANCTIONS_ALT_KEY).unwrap_or_else(|| "sanctions/alt.csv".into()),
            un: vars.get(env::SANCTIONS_UN_KEY).filter(|k| !k.is_empty()),
        };
        let block_at = match vars.get(env::SANCTIONS_BLOCK_AT) {
            Some(v) => v.parse::<f64>().ok().filter(|b| (0.0..=1.0).contains(b)).ok_or_else(|| {
                ConfigError::Invalid(env::SANCTIONS_BLOCK_AT, format!("`{v}` is not a score in [0, 1]"))
            })?,
            None => DEFAULT_BLOCK_AT,
        };
        Ok(Some(Self { objects, block_at }))
    }
}

/// The sanctions lists, loaded once per container. Lists that do not load fail the cold
/// start: nothing passes unscreened (the stream keeps the records until the lists are
/// fixed, and the function's error alarm fires).
pub async fn screening(
    s3: &aws_sdk_s3::Client,
    vars: &dyn Vars,
) -> Result<Option<Arc<Screening>>, ConfigError> {
    let Some(ScreeningConfig { objects, block_at }) = ScreeningConfig::from_vars(vars)? else {
        tracing::warn!(
            "no sanctions lists configured ({}): payees and customers are not screened",
            env::SANCTIONS_BUCKET
        );
        return Ok(None);
    };
    let started = Instant::now();
    let (lists, fell_back) = lists::load(s3, &objects).await?;
    let screener = Screener::new(lists);
    tracing::info!(
        version = %screener.version(),
        names = screener.lists().names(),
        fell_back,
        millis = started.elapsed().as_millis() as u64,
        "sanctions lists loaded"
    );
    Ok(Some(Arc::new(Screening { screener, block_at })))
}

impl ScorerHandler {
    /// The AWS timeouts for the role the environment gives this binary: the decision API
    /// (a stream to hand off to is named) or the stream scorer.
    pub fn timeouts(vars: &dyn Vars) -> Timeouts {
        if StreamConfig::is_set(vars) { Timeouts::DECISIONS } else { Timeouts::SCORER }
    }

    pub async fn from_env(config: &SdkConfig) -> Result<Self, ConfigError> {
        Self::from_vars(config, &ProcessEnv).await
    }

    pub async fn from_vars(config: &SdkConfig, vars: &dyn Vars) -> Result<Self, ConfigError> {
        let at = ScorerConfig::from_vars(vars)?;
        let privacy = super::privacy(config, vars).await?;
        let desk = decisions::desk(config, vars, at.currency, privacy.clone()).await?;
        let s3 = s3::client(config);
        let compliance = compliance(&s3, vars).await?;
        let mut handler = Self::new(
            aws_sdk_dynamodb::Client::new(config),
            s3,
            aws_sdk_eventbridge::Client::new(config),
            at,
            Model::embedded()?,
            Policy { compliance, ..Policy::default() },
            privacy,
        );
        handler.desk = desk;
        if let Some(trail) = super::audit_trail(config, vars) {
            handler.record_configuration(&trail).await?;
        }
        Ok(handler)
    }

    /// The scorer over these clients (tests give theirs instrumented).
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        s3: aws_sdk_s3::Client,
        eventbridge: aws_sdk_eventbridge::Client,
        at: ScorerConfig,
        model: Model,
        policy: Policy,
        privacy: Arc<Privacy>,
    ) -> Self {
        Self {
            pipeline: Pipeline {
                scorer: Scorer::new(DynamoStateStore::new(dynamodb, at.table), model, policy),
                quarantine: S3Quarantine::new(s3.clone(), at.quarantine_bucket, privacy.clone()),
                privacy,
                archive: S3Lake::new(s3, at.lake_bucket),
                alerts: EventBridgeAlerts::new(eventbridge, at.event_bus),
                currency: at.currency,
            },
            metrics: MetricsSink::Stdout,
            desk: None,
        }
    }

    /// Appends the configuration this container decides with to the audit trail, unless
    /// it is the one last recorded. A trail that cannot be written fails the cold start,
    /// as lists that cannot be read do: no change goes unrecorded.
    pub async fn record_configuration<S: AuditStore>(
        &self,
        trail: &AuditTrail<S>,
    ) -> Result<(), ConfigError> {
        let text = self.pipeline.scorer.configuration();
        let digest = crate::audit::sha256_tag(text.as_bytes());
        let who = crate::aws::identity::function_identity();
        match trail.record_configuration(&who, &digest, &text).await {
            Ok(Some(entry)) => {
                tracing::info!(seq = entry.seq, configuration = %digest, "configuration change recorded")
            }
            Ok(None) => tracing::info!(configuration = %digest, "configuration as recorded"),
            Err(e) => return Err(ConfigError::Init(format!("audit trail: {e}"))),
        }
        Ok(())
    }

    /// Either event source, told apart by shape (Kinesis: `Records`; Kafka: `records`), a
    /// decision request from the HTTP API (`requestContext`), or the daily schedule
    /// (`detail-type: Scheduled Event`) that reports labels whose transaction never came. Takes the event's JSON text: a 10,000-record batch is several
    /// megabytes, so it is parsed once into the event type and dropped (a
    /// `serde_json::Value` on the way would hold it twice over).
    pub async fn handle(&self, event: Box<RawValue>) -> Result<serde_json::Value, HandlerError> {
        #[derive(serde::Deserialize)]
        struct Shape {
            #[serde(rename = "Records")]
            kinesis: Option<serde::de::IgnoredAny>,
            records: Option<serde::de::IgnoredAny>,
            #[serde(rename = "requestContext")]
            request: Option<serde::de::IgnoredAny>,
            #[serde(rename = "detail-type")]
            detail_type: Option<String>,
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
        } else if shape.request.is_some() {
            let request: ApiGatewayV2httpRequest = serde_json::from_str(event.get()).map_err(bad)?;
            Ok(serde_json::to_value(self.decisions(request, now).await).unwrap_or_default())
        } else if shape.detail_type.as_deref() == Some("Scheduled Event") {
            let swept = self.sweep(now).await?;
            Ok(serde_json::json!({ "unmatched_labels": swept.unmatched }))
        } else {
            Err(HandlerError::Event(
                "expected a Kinesis or Kafka batch, a decision request, or the sweep's schedule".into(),
            ))
        }
    }

    /// Quarantines the labels that waited in vain for their transaction.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<Swept, HandlerError> {
        let p = &self.pipeline;
        let swept = sweep_parked_labels(p.scorer.store(), &p.quarantine, now)
            .await
            .map_err(|e| HandlerError::Redeliver(e.to_string()))?;
        self.metrics.emit("scorer", &[("LabelsUnmatched", Unit::Count, swept.unmatched as f64)]);
        Ok(swept)
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
        let before = self.pipeline.scorer.store().usage();
        let report = self.pipeline.run(records, now).await;
        let used = self.pipeline.scorer.store().usage().since(&before);
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
                labels_parked = t.labels_parked,
                write_units = used.write_units,
                read_units = used.read_units,
                conflicts = used.conflicts,
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
                ("LabelsParked", Unit::Count, count(t.labels_parked)),
                ("BatchRetries", Unit::Count, count(t.retried)),
                ("BatchLatency", Unit::Milliseconds, ms),
                // Units as DynamoDB reports them, or as computed from item sizes where it
                // reports none (a local stand-in).
                ("ReadUnits", Unit::Count, used.reported_read_units.max(used.read_units)),
                ("WriteUnits", Unit::Count, used.reported_write_units.max(used.write_units)),
                ("TransactionConflicts", Unit::Count, used.conflicts as f64),
                ("StaleUnits", Unit::Count, used.stale_units as f64),
            ],
        );
        report
    }
}
