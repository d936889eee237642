//! The backup copier: S3 "Object Created" events from the lake, reports and audit
//! prefixes (through EventBridge), and scheduled `reconcile` and `verify` runs (and, by
//! hand, `restore`) → the [`Backup`] domain over S3, Azure Blob and the restore bucket.

use super::{ConfigError, HandlerError, ProcessEnv, Vars, env, var};
use crate::audit::{AuditAction, AuditRecord, AuditTrail};
use crate::aws::audit::S3AuditStore;
use crate::aws::backup::{S3RestoreSink, S3Source, S3Target};
use crate::azure::{AzureBlob, AzureCredentials, AzureTarget};
use crate::backup::{
    Backup, BackupConfig, BackupError, CopyOutcome, RestoreRequest, TargetKind, VerifyMode, VerifyReport,
};
use crate::metrics::{MetricsSink, Unit};
use aws_config::SdkConfig;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

/// The copier's configuration, from the environment the template sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSettings {
    pub backup_bucket: String,
    pub restore_bucket: String,
    pub azure_secret: String,
    pub config: BackupConfig,
}

impl BackupSettings {
    pub fn from_vars(vars: &dyn Vars) -> Result<Self, ConfigError> {
        let sources = BackupConfig::parse_sources(&var(vars, env::BACKUP_SOURCES)?)?;
        let days = var(vars, env::BACKUP_RETENTION_DAYS)?;
        let retention_days = days
            .trim()
            .parse()
            .map_err(|_| ConfigError::Invalid(env::BACKUP_RETENTION_DAYS, format!("`{days}`: whole days")))?;
        let config = BackupConfig { sources, retention_days, ..BackupConfig::default() };
        config.validate()?;
        Ok(BackupSettings {
            backup_bucket: var(vars, env::BACKUP_BUCKET)?,
            restore_bucket: var(vars, env::RESTORE_BUCKET)?,
            azure_secret: var(vars, env::AZURE_SECRET)?,
            config,
        })
    }
}

pub struct BackupHandler {
    pub source: S3Source,
    pub s3: S3Target,
    pub azure: AzureTarget,
    pub restore: S3RestoreSink,
    pub restore_bucket: String,
    pub config: BackupConfig,
    pub metrics: MetricsSink,
    /// Where reconcile, verify and restore runs are recorded (`None`: not recorded).
    pub audit: Option<AuditTrail<S3AuditStore>>,
}

/// What the function is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    /// An S3 "Object Created" event: back up that version.
    Copy {
        bucket: String,
        key: String,
        version: Option<String>,
    },
    Reconcile,
    Verify(VerifyMode),
    Restore(RestoreRequest),
}

/// The scheduled and by-hand inputs: `{"action": …}`.
#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum Action {
    Reconcile,
    Verify {
        #[serde(default)]
        full: bool,
    },
    Restore {
        source_bucket: String,
        prefix: String,
        #[serde(default)]
        as_of: Option<DateTime<Utc>>,
        from: TargetKind,
        to_prefix: String,
    },
}

impl BackupHandler {
    /// Reads the Azure credentials from Secrets Manager: init fails loudly without them.
    pub async fn from_env(config: &SdkConfig) -> Result<Self, ConfigError> {
        Self::from_vars(config, &ProcessEnv).await
    }

    pub async fn from_vars(config: &SdkConfig, vars: &dyn Vars) -> Result<Self, ConfigError> {
        let settings = BackupSettings::from_vars(vars)?;
        let secrets = aws_sdk_secretsmanager::Client::new(config);
        let azure = crate::aws::secrets::azure_credentials(&secrets, &settings.azure_secret)
            .await
            .map_err(ConfigError::Init)?;
        let mut handler = Self::new(crate::aws::s3::client(config), &azure, settings)?;
        handler.audit = super::audit_trail(config, vars);
        Ok(handler)
    }

    pub fn new(
        s3: aws_sdk_s3::Client,
        azure: &AzureCredentials,
        settings: BackupSettings,
    ) -> Result<Self, ConfigError> {
        let c = settings.config;
        c.validate()?;
        Ok(BackupHandler {
            source: S3Source { client: s3.clone() },
            s3: S3Target {
                client: s3.clone(),
                bucket: settings.backup_bucket,
                retention_days: c.retention_days,
                multipart_threshold: c.multipart_threshold,
                part_size: c.part_size,
            },
            azure: AzureTarget { blob: AzureBlob::new(azure, c.block_size).map_err(ConfigError::Init)? },
            restore: S3RestoreSink { client: s3, part_size: 8 * 1024 * 1024 },
            restore_bucket: settings.restore_bucket,
            config: c,
            metrics: MetricsSink::Stdout,
            audit: None,
        })
    }

    /// The domain over this handler's adapters: S3 first (the primary: the manifest's index).
    pub fn backup(&self) -> Backup<'_> {
        Backup { source: &self.source, targets: vec![&self.s3, &self.azure], config: &self.config }
    }

    /// A service failure is an error (Lambda retries, then the DLQ); a request that cannot
    /// be served (a bucket or prefix not backed up, a missing object, an unknown event) is
    /// answered `refused` with its reason, counted and alarmed, and not retried.
    pub async fn handle(&self, event: Value) -> Result<Value, HandlerError> {
        self.handle_at(event, Utc::now()).await
    }

    pub async fn handle_at(&self, event: Value, now: DateTime<Utc>) -> Result<Value, HandlerError> {
        let outcome = match parse(&event, &self.config, &self.restore_bucket) {
            Ok(request) => self.run(request, now).await,
            Err(e) => Err(e),
        };
        match outcome {
            Err(BackupError::Invalid(reason)) => {
                tracing::error!(%reason, "backup request refused");
                self.metrics.emit("backup", &[("EventsRefused", Unit::Count, 1.0)]);
                Ok(json!({ "status": "refused", "reason": reason }))
            }
            Err(e) => {
                tracing::error!(error = %e, "backup failed: the invocation is retried");
                Err(e.into())
            }
            Ok(Answer::Verified(report)) => {
                let result = format!("{} checked, {} findings", report.checked, report.findings.len());
                self.audit(AuditAction::Backup, format!("verify run {}", report.run), result).await?;
                self.verified(&report)
            }
            Ok(Answer::Done(value)) => Ok(value),
        }
    }

    async fn run(&self, request: Request, now: DateTime<Utc>) -> Result<Answer, BackupError> {
        let backup = self.backup();
        match request {
            Request::Copy { bucket, key, version } => {
                let outcome = backup.copy_version(&bucket, &key, version.as_deref(), now).await?;
                let (status, entry) = match &outcome {
                    CopyOutcome::Copied(e) => ("copied", e),
                    CopyOutcome::AlreadyBackedUp(e) => ("already_backed_up", e),
                };
                let copied = matches!(outcome, CopyOutcome::Copied(_));
                tracing::info!(object = %entry.id(), status, sha256 = %entry.sha256, "object handled");
                self.metrics.emit(
                    "backup",
                    &[
                        ("ObjectsCopied", Unit::Count, f64::from(u8::from(copied))),
                        ("BytesCopied", Unit::Count, if copied { entry.size as f64 } else { 0.0 }),
                    ],
                );
                Ok(Answer::Done(json!({ "status": status, "object": entry.id(), "sha256": entry.sha256 })))
            }
            Request::Reconcile => {
                let r = backup.reconcile(now).await?;
                tracing::info!(
                    versions = r.versions,
                    copied = r.copied.len(),
                    already = r.already,
                    "reconciled"
                );
                let result = format!(
                    "{} versions, {} copied, {} already backed up",
                    r.versions,
                    r.copied.len(),
                    r.already
                );
                self.audit(AuditAction::Backup, "reconcile".into(), result).await?;
                self.metrics.emit(
                    "backup",
                    &[
                        ("ObjectsCopied", Unit::Count, r.copied.len() as f64),
                        ("BytesCopied", Unit::Count, r.bytes as f64),
                    ],
                );
                Ok(Answer::Done(json!({
                    "status": "reconciled", "versions": r.versions, "copied": r.copied.len(),
                    "already": r.already, "bytes": r.bytes,
                })))
            }
            Request::Verify(mode) => {
                let seed = now.timestamp_nanos_opt().unwrap_or_default() as u64;
                Ok(Answer::Verified(backup.verify(mode, now, seed).await?))
            }
            Request::Restore(request) => {
                let r = backup.restore(&request, &self.restore).await?;
                tracing::info!(objects = r.objects, identical = r.identical, "restored");
                let what = format!(
                    "restore s3://{}/{} from {} to s3://{}/{}",
                    request.source_bucket,
                    request.prefix,
                    request.from.as_str(),
                    request.to_bucket,
                    request.to_prefix
                );
                let result = format!("{} objects, {} identical", r.objects, r.identical);
                self.audit(AuditAction::Restore, what, result).await?;
                self.metrics
                    .emit("backup", &[("RestoreDiffering", Unit::Count, (r.objects - r.identical) as f64)]);
                Ok(Answer::Done(json!({
                    "status": if r.passed() { "restored" } else { "restored_with_differences" },
                    "objects": r.objects, "identical": r.identical, "differing": r.differing, "missing": r.missing,
                    "to": format!("s3://{}/{}", request.to_bucket, request.to_prefix),
                })))
            }
        }
    }

    /// Records a run in the audit trail; a trail that cannot be written fails the run
    /// (retried: every run is idempotent), so none goes unrecorded.
    async fn audit(&self, action: AuditAction, what: String, result: String) -> Result<(), BackupError> {
        let Some(trail) = &self.audit else { return Ok(()) };
        let record = AuditRecord::new(crate::aws::identity::function_identity(), action, what, result);
        trail.append(record).await.map(drop).map_err(|e| BackupError::transient("S3", e.to_string()))
    }

    /// A verify run's answer: any finding fails the run (and its metric alarms).
    fn verified(&self, report: &VerifyReport) -> Result<Value, HandlerError> {
        self.metrics.emit(
            "backup",
            &[
                ("VerifyChecked", Unit::Count, report.checked as f64),
                ("VerifyFindings", Unit::Count, report.findings.len() as f64),
            ],
        );
        for f in &report.findings {
            tracing::error!(target_store = f.target.as_str(), kind = ?f.kind, object = %f.object, name = %f.name, recoverable = ?f.recoverable, "backup copy is not intact");
        }
        if report.passed() {
            tracing::info!(checked = report.checked, entries = report.entries, "verified");
            return Ok(
                json!({ "status": "verified", "run": report.run, "checked": report.checked, "entries": report.entries }),
            );
        }
        let list: Vec<String> = report
            .findings
            .iter()
            .map(|f| format!("{} {:?} {}", f.target.as_str(), f.kind, f.object))
            .collect();
        Err(HandlerError::Verify(format!(
            "{} of {} copies checked are not intact (report verify/…/{}.json): {}",
            report.findings.len(),
            report.checked,
            report.run,
            list.join("; ")
        )))
    }
}

enum Answer {
    Done(Value),
    Verified(VerifyReport),
}

/// An S3 event through EventBridge (`detail-type` "Object Created"), or an action.
fn parse(event: &Value, config: &BackupConfig, restore_bucket: &str) -> Result<Request, BackupError> {
    if event["source"] == "aws.s3" {
        if event["detail-type"] != "Object Created" {
            return Err(BackupError::Invalid(format!(
                "not an Object Created event: {}",
                event["detail-type"]
            )));
        }
        let detail = &event["detail"];
        let text = |v: &Value, what: &str| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| BackupError::Invalid(format!("S3 event without {what}")))
        };
        return Ok(Request::Copy {
            bucket: text(&detail["bucket"]["name"], "a bucket")?,
            key: text(&detail["object"]["key"], "a key")?,
            version: detail["object"]["version-id"].as_str().map(str::to_owned),
        });
    }
    let action: Action = serde_json::from_value(event.clone())
        .map_err(|e| BackupError::Invalid(format!("not an S3 event nor a backup action: {e}")))?;
    Ok(match action {
        Action::Reconcile => Request::Reconcile,
        Action::Verify { full: true } => Request::Verify(VerifyMode::Full),
        Action::Verify { full: false } => Request::Verify(VerifyMode::Due {
            max_age_days: config.verify_max_age_days,
            sample: config.verify_sample,
        }),
        Action::Restore { source_bucket, prefix, as_of, from, to_prefix } => {
            Request::Restore(RestoreRequest {
                source_bucket,
                prefix,
                as_of,
                from,
                to_bucket: restore_bucket.to_owned(),
                to_prefix,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BackupConfig {
        BackupConfig {
            sources: BackupConfig::parse_sources("lake=decisions/").unwrap(),
            ..BackupConfig::default()
        }
    }

    #[test]
    fn events_and_actions_parse_and_anything_else_is_refused() {
        let s3 = json!({"source": "aws.s3", "detail-type": "Object Created",
            "detail": {"bucket": {"name": "lake"}, "object": {"key": "decisions/a", "version-id": "v1"}}});
        assert_eq!(
            parse(&s3, &config(), "r").unwrap(),
            Request::Copy { bucket: "lake".into(), key: "decisions/a".into(), version: Some("v1".into()) }
        );
        assert_eq!(parse(&json!({"action": "reconcile"}), &config(), "r").unwrap(), Request::Reconcile);
        assert_eq!(
            parse(&json!({"action": "verify", "full": true}), &config(), "r").unwrap(),
            Request::Verify(VerifyMode::Full)
        );
        let restore = json!({"action": "restore", "source_bucket": "lake", "prefix": "decisions/", "from": "azure", "to_prefix": "drill/"});
        let Request::Restore(r) = parse(&restore, &config(), "scratch").unwrap() else { panic!() };
        assert_eq!((r.from, r.to_bucket.as_str()), (TargetKind::Azure, "scratch"));
        for bad in [
            json!({"action": "delete"}),
            json!({"action": "verify", "everything": true}),
            json!({"source": "aws.s3", "detail-type": "Object Deleted", "detail": {}}),
            json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "lake"}}}),
            json!([1, 2]),
        ] {
            assert!(matches!(parse(&bad, &config(), "r"), Err(BackupError::Invalid(_))), "{bad}");
        }
    }
}
