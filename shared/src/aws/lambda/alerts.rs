//! The alerts function: one EventBridge alert event in, one SNS message out (at least
//! once; a second only if an invocation died between publishing and recording it).

use super::{ConfigError, HandlerError, ProcessEnv, Vars, env, var};
use crate::alert::{Alert, DEFAULT_LEASE, FanOut, fan_out};
use crate::aws::dynamodb::DynamoAlertLedger;
use crate::aws::sns::SnsNotifier;
use crate::metrics::{MetricsSink, Unit};
use aws_config::SdkConfig;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The longest sending lease: Lambda retries a failed invocation about 60 s later, and the
/// lease of one that died must have expired by then, or the retry fails on it too.
pub const MAX_ALERT_LEASE: Duration = Duration::from_secs(50);

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
    /// AML and sanctions alerts: the compliance team's topic.
    pub topic_compliance: String,
    /// How long an invocation may send an alert before a retry may send it again.
    pub lease: Duration,
}

impl AlertsConfig {
    pub fn from_vars(vars: &dyn Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            table: var(vars, env::TABLE)?,
            topic_medium: var(vars, env::TOPIC_MEDIUM)?,
            topic_high: var(vars, env::TOPIC_HIGH)?,
            topic_compliance: var(vars, env::TOPIC_COMPLIANCE)?,
            lease: lease(vars)?,
        })
    }
}

/// Whole seconds, 1 to [`MAX_ALERT_LEASE`]; [`DEFAULT_LEASE`] when unset. Short leases are for
/// local runs, whose retries come sooner than Lambda's.
fn lease(vars: &dyn Vars) -> Result<Duration, ConfigError> {
    let Some(text) = vars.get(env::ALERT_LEASE_SECONDS) else {
        return Ok(DEFAULT_LEASE);
    };
    match text.trim().parse::<u64>().map(Duration::from_secs) {
        Ok(lease) if !lease.is_zero() && lease <= MAX_ALERT_LEASE => Ok(lease),
        _ => Err(ConfigError::Invalid(
            env::ALERT_LEASE_SECONDS,
            format!("`{text}`: whole seconds from 1 to {}", MAX_ALERT_LEASE.as_secs()),
        )),
    }
}

impl AlertsHandler {
    pub fn from_env(config: &SdkConfig) -> Result<Self, ConfigError> {
        Self::from_vars(config, &ProcessEnv)
    }

    pub fn from_vars(config: &SdkConfig, vars: &dyn Vars) -> Result<Self, ConfigError> {
        let at = AlertsConfig::from_vars(vars)?;
        Ok(Self {
            ledger: DynamoAlertLedger::new(aws_sdk_dynamodb::Client::new(config), at.table)
                .with_lease(at.lease),
            notifier: SnsNotifier::new(aws_sdk_sns::Client::new(config), at.topic_medium, at.topic_high)
                .with_compliance(at.topic_compliance),
            metrics: MetricsSink::Stdout,
        })
    }

    /// An error makes Lambda retry the asynchronous invocation, then dead-letter it.
    pub async fn handle(&self, event: EventBridgeEvent<Alert>) -> Result<FanOut, HandlerError> {
        self.handle_at(event, Utc::now()).await
    }

    /// [`Self::handle`] with the clock at `now` (tests step past a lease).
    pub async fn handle_at(
        &self,
        event: EventBridgeEvent<Alert>,
        now: DateTime<Utc>,
    ) -> Result<FanOut, HandlerError> {
        let alert = event.detail;
        let outcome = fan_out(&self.ledger, &self.notifier, &alert, now).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn vars(lease: Option<&str>) -> BTreeMap<String, String> {
        let mut vars = BTreeMap::from([
            (env::TABLE.to_owned(), "t".to_owned()),
            (env::TOPIC_MEDIUM.to_owned(), "m".to_owned()),
            (env::TOPIC_HIGH.to_owned(), "h".to_owned()),
            (env::TOPIC_COMPLIANCE.to_owned(), "c".to_owned()),
        ]);
        if let Some(lease) = lease {
            vars.insert(env::ALERT_LEASE_SECONDS.to_owned(), lease.to_owned());
        }
        vars
    }

    #[test]
    fn the_lease_is_whole_seconds_short_of_lambdas_first_retry() {
        let lease = |v| AlertsConfig::from_vars(&vars(v)).map(|c| c.lease);
        assert_eq!(lease(None).unwrap(), DEFAULT_LEASE);
        assert_eq!(lease(Some("2")).unwrap(), Duration::from_secs(2));
        assert_eq!(lease(Some("50")).unwrap(), MAX_ALERT_LEASE);
        for bad in ["0", "51", "-1", "1.5", "soon"] {
            assert!(
                matches!(lease(Some(bad)), Err(ConfigError::Invalid(env::ALERT_LEASE_SECONDS, _))),
                "{bad}"
            );
        }
    }
}
