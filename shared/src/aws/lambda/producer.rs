//! The producer: REST requests (API Gateway HTTP API) and batch files (S3 ObjectCreated).

use super::{ConfigError, HandlerError, ProcessEnv, Vars, default_currency, env, var};
use crate::alert::DeliveryError;
use crate::aws::kinesis::KinesisPublisher;
use crate::aws::msk::{KafkaAuth, KafkaPublisher};
use crate::aws::s3::{self, S3Quarantine};
use crate::batch::Quarantine;
use crate::intake::{self, Intake, Publisher};
use crate::money::Currency;
use aws_config::SdkConfig;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::s3::S3Event;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;

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
