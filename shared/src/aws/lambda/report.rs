//! The report trigger: an EventBridge Scheduler input (`{"report", "cadence", "as_of"}`)
//! → each section of that report on Athena, the result, page and manifest in the reports
//! bucket, an audit entry and a notice on the reports topic (compliance's own for the
//! compliance report). A retried invocation sends the same idempotency tokens, so Athena
//! hands back the queries it already ran. The daily `{"action": "compact", "as_of"}`
//! compacts the lake's last week of partitions.

use super::{ConfigError, HandlerError, ProcessEnv, Vars, env, var};
use crate::archive::compact;
use crate::audit::AuditTrail;
use crate::aws::athena::AthenaEngine;
use crate::aws::audit::S3AuditStore;
use crate::aws::s3::{S3Lake, S3Reports};
use crate::aws::sns::SnsReportNotifier;
use crate::metrics::{MetricsSink, Unit};
use crate::report::trigger::{Manifest, ScheduledReport, Trigger};
use aws_config::SdkConfig;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Where reports go in the reports bucket: the prefix the backup copier copies.
pub const REPORTS_PREFIX: &str = "reports/";

/// Days before `as_of`'s day a compaction run goes over: late rows land in past days.
pub const COMPACTED_DAYS: i64 = 7;

/// What an invocation keeps after its queries for storing, auditing and notifying.
pub const FINISHING_TIME: Duration = Duration::from_secs(60);

/// The trigger's configuration, from the environment the template sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTriggerConfig {
    pub reports_bucket: String,
    pub workgroup: String,
    pub database: String,
    pub topic: String,
    /// Where the compliance-only reports are announced.
    pub compliance_topic: String,
    pub lake_bucket: String,
}

impl ReportTriggerConfig {
    pub fn from_vars(vars: &dyn Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            reports_bucket: var(vars, env::REPORTS_BUCKET)?,
            workgroup: var(vars, env::ATHENA_WORKGROUP)?,
            database: var(vars, env::LAKE_DATABASE)?,
            topic: var(vars, env::TOPIC_REPORTS)?,
            compliance_topic: var(vars, env::TOPIC_COMPLIANCE_REPORTS)?,
            lake_bucket: var(vars, env::LAKE_BUCKET)?,
        })
    }
}

pub struct ReportTriggerHandler {
    athena: aws_sdk_athena::Client,
    config: ReportTriggerConfig,
    store: S3Reports,
    notifier: SnsReportNotifier,
    lake: S3Lake,
    audit: Option<AuditTrail<S3AuditStore>>,
    pub metrics: MetricsSink,
}

impl ReportTriggerHandler {
    pub fn from_env(config: &SdkConfig) -> Result<Self, ConfigError> {
        Self::from_vars(config, &ProcessEnv)
    }

    pub fn from_vars(sdk: &SdkConfig, vars: &dyn Vars) -> Result<Self, ConfigError> {
        let config = ReportTriggerConfig::from_vars(vars)?;
        let s3 = crate::aws::s3::client(sdk);
        Ok(Self {
            athena: aws_sdk_athena::Client::new(sdk),
            store: S3Reports::new(s3.clone(), &config.reports_bucket, REPORTS_PREFIX),
            notifier: SnsReportNotifier::new(
                aws_sdk_sns::Client::new(sdk),
                &config.topic,
                &config.compliance_topic,
            ),
            lake: S3Lake::new(s3, &config.lake_bucket),
            audit: super::audit_trail(sdk, vars),
            metrics: MetricsSink::default(),
            config,
        })
    }

    /// Runs the scheduled report (its queries may wait until `deadline`) or compaction.
    pub async fn handle(&self, event: Value, deadline: Instant) -> Result<Value, HandlerError> {
        if event.get("action").is_some() {
            let Compaction::Compact { as_of } =
                serde_json::from_value(event).map_err(|e| HandlerError::Event(e.to_string()))?;
            return self.compact(as_of).await;
        }
        let request: ScheduledReport =
            serde_json::from_value(event).map_err(|e| HandlerError::Event(e.to_string()))?;
        let manifest = self.report(&request, deadline).await?;
        Ok(serde_json::to_value(&manifest).unwrap_or_default())
    }

    /// Compacts (and retires what earlier runs compacted in) the week before `as_of`.
    async fn compact(&self, as_of: DateTime<Utc>) -> Result<Value, HandlerError> {
        let mut partitions = Vec::new();
        for back in 1..=COMPACTED_DAYS {
            let day = as_of.date_naive() - chrono::TimeDelta::days(back);
            let done = compact::day(&self.lake, day, Utc::now()).await?;
            partitions.extend(done.into_iter().filter(|c| c.written.is_some() || c.retired > 0));
        }
        let inputs: usize = partitions.iter().map(|c| c.inputs).sum();
        let retired: usize = partitions.iter().map(|c| c.retired).sum();
        self.metrics.emit(
            "reports",
            &[
                ("ObjectsCompacted", Unit::Count, inputs as f64),
                ("ObjectsRetired", Unit::Count, retired as f64),
            ],
        );
        tracing::info!(inputs, retired, partitions = partitions.len(), "lake compacted");
        Ok(
            serde_json::json!({ "status": "compacted", "inputs": inputs, "retired": retired, "partitions": partitions }),
        )
    }

    pub async fn report(
        &self,
        request: &ScheduledReport,
        deadline: Instant,
    ) -> Result<Manifest, HandlerError> {
        let started = Instant::now();
        let engine =
            AthenaEngine::new(self.athena.clone(), &self.config.workgroup, &self.config.database, deadline);
        let who = crate::aws::identity::function_identity();
        let trigger = Trigger {
            engine: &engine,
            store: &self.store,
            notifier: &self.notifier,
            audit: self.audit.as_ref(),
            who: &who,
        };
        let manifest = trigger.run(request).await?;
        self.metrics.emit(
            "reports",
            &[
                ("ReportsStored", Unit::Count, 1.0),
                ("ReportMillis", Unit::Milliseconds, started.elapsed().as_millis() as f64),
                ("GigabytesScanned", Unit::Count, manifest.bytes_scanned as f64 / 1e9),
            ],
        );
        Ok(manifest)
    }
}

/// The compaction schedule's input.
#[derive(serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum Compaction {
    Compact { as_of: DateTime<Utc> },
}

/// When an invocation's queries must stop waiting: its Lambda deadline (milliseconds since
/// the epoch) less [`FINISHING_TIME`], measured from `now`.
pub fn query_deadline(lambda_deadline_ms: u64, now: DateTime<Utc>) -> Instant {
    let left = (lambda_deadline_ms as i64).saturating_sub(now.timestamp_millis()).max(0) as u64;
    Instant::now() + Duration::from_millis(left).saturating_sub(FINISHING_TIME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_stop_a_minute_before_lambda_would_kill_the_invocation() {
        let now: DateTime<Utc> = "2026-12-07T06:00:00Z".parse().unwrap();
        let deadline = now.timestamp_millis() as u64 + 900_000;
        let left = query_deadline(deadline, now).saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_secs(840) && left > Duration::from_secs(830), "{left:?}");
        let past = query_deadline(now.timestamp_millis() as u64 - 1, now);
        assert!(past <= Instant::now(), "a deadline already gone leaves nothing");
    }

    #[test]
    fn the_environment_names_bucket_workgroup_database_and_topics() {
        let vars = std::collections::BTreeMap::from([
            (env::REPORTS_BUCKET.to_owned(), "reports".to_owned()),
            (env::ATHENA_WORKGROUP.to_owned(), "vigil-reports".to_owned()),
            (env::LAKE_DATABASE.to_owned(), "vigil_lake".to_owned()),
            (env::TOPIC_REPORTS.to_owned(), "arn:aws:sns:us-east-1:123456789012:reports".to_owned()),
            (env::TOPIC_COMPLIANCE_REPORTS.to_owned(), "arn:aws:sns:us-east-1:123456789012:c".to_owned()),
            (env::LAKE_BUCKET.to_owned(), "lake".to_owned()),
        ]);
        let config = ReportTriggerConfig::from_vars(&vars).unwrap();
        assert_eq!(config.database, "vigil_lake");
        assert_eq!(config.compliance_topic, "arn:aws:sns:us-east-1:123456789012:c");
        // Without compliance's own topic the trigger refuses to start rather than announce
        // SAR candidates to everyone.
        for needed in [env::ATHENA_WORKGROUP, env::TOPIC_COMPLIANCE_REPORTS] {
            let mut partial = vars.clone();
            partial.remove(needed);
            let refused = ReportTriggerConfig::from_vars(&partial);
            assert!(matches!(refused, Err(ConfigError::Missing(n)) if n == needed), "{refused:?}");
        }
    }
}
