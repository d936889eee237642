//! The stream the producer publishes to and the decision API hands decided transactions
//! to: Kinesis, or Kafka (MSK) when brokers are set.

use super::{ConfigError, Vars, env, var};
use crate::alert::DeliveryError;
use crate::aws::kinesis::KinesisPublisher;
use crate::aws::msk::{KafkaAuth, KafkaPublisher};
use crate::intake::Publisher;
use aws_config::SdkConfig;

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

/// Where a function publishes.
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

impl StreamConfig {
    /// Kafka when `VIGIL_KAFKA_BROKERS` is set, else the Kinesis stream `VIGIL_STREAM`.
    pub fn from_vars(vars: &dyn Vars) -> Result<Self, ConfigError> {
        Ok(match vars.get(env::KAFKA_BROKERS) {
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
        })
    }

    /// Whether the environment names a stream at all.
    pub fn is_set(vars: &dyn Vars) -> bool {
        vars.get(env::KAFKA_BROKERS).is_some() || vars.get(env::STREAM).is_some()
    }
}

impl StreamPublisher {
    /// Connects to the stream (Kafka: fetches the topic's partitions).
    pub async fn connect(config: &SdkConfig, stream: StreamConfig) -> Result<Self, ConfigError> {
        Ok(match stream {
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
        })
    }
}
