//! The alerts function: one EventBridge alert event in, at most one SNS message out.

use super::{ConfigError, HandlerError, ProcessEnv, Vars, env, var};
use crate::alert::{Alert, FanOut, fan_out};
use crate::aws::dynamodb::DynamoAlertLedger;
use crate::aws::sns::SnsNotifier;
use crate::metrics::{MetricsSink, Unit};
use aws_config::SdkConfig;
use aws_lambda_events::eventbridge::EventBridgeEvent;

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
