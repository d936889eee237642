//! The functions' handlers: a Lambda event in, the domain's work, a Lambda response out.
//! The binaries under `functions/` only start the runtime with one of these, so the
//! integration tests drive exactly what Lambda runs. One module per function; what they
//! share (configuration from the environment, errors) is here.

mod alerts;
mod backup;
mod decisions;
mod http;
mod producer;
mod report;
mod scorer;
mod stream;

pub use alerts::{AlertsConfig, AlertsHandler, MAX_ALERT_LEASE};
pub use backup::{BackupHandler, BackupSettings};
pub use decisions::{DeskConfig, ROUTE as DECISIONS_ROUTE};
pub use producer::{FileSummary, ProducerConfig, ProducerHandler};
pub use report::{REPORTS_PREFIX, ReportTriggerConfig, ReportTriggerHandler, query_deadline};
pub use scorer::{ScorerConfig, ScorerHandler, ScorerPipeline, ScreeningConfig, aml, compliance, screening};
pub use stream::{StreamConfig, StreamPublisher};

use crate::alert::{DeliveryError, FanOutError};
use crate::audit::AuditTrail;
use crate::aws::audit::S3AuditStore;
use crate::intake::IntakeError;
use crate::model::ModelError;
use crate::money::Currency;
use crate::privacy::{Keys, Privacy};
use std::sync::Arc;

/// Environment variables the functions read; the template sets every one.
pub mod env {
    pub const TABLE: &str = "VIGIL_TABLE";
    pub const LAKE_BUCKET: &str = "VIGIL_LAKE_BUCKET";
    pub const QUARANTINE_BUCKET: &str = "VIGIL_QUARANTINE_BUCKET";
    pub const EVENT_BUS: &str = "VIGIL_EVENT_BUS";
    pub const TOPIC_MEDIUM: &str = "VIGIL_TOPIC_MEDIUM";
    pub const TOPIC_HIGH: &str = "VIGIL_TOPIC_HIGH";
    /// Seconds an alerts invocation holds the sending lease on an alert (default 30).
    pub const ALERT_LEASE_SECONDS: &str = "VIGIL_ALERT_LEASE_SECONDS";
    /// Kinesis stream the producer writes to, unless Kafka brokers are set.
    pub const STREAM: &str = "VIGIL_STREAM";
    /// Comma-separated bootstrap brokers: the producer writes to Kafka (MSK) instead.
    pub const KAFKA_BROKERS: &str = "VIGIL_KAFKA_BROKERS";
    pub const KAFKA_TOPIC: &str = "VIGIL_KAFKA_TOPIC";
    /// `iam` (MSK IAM access control over TLS, the default) or `plaintext`.
    pub const KAFKA_AUTH: &str = "VIGIL_KAFKA_AUTH";
    /// Currency of transactions that name none (default USD).
    pub const DEFAULT_CURRENCY: &str = "VIGIL_DEFAULT_CURRENCY";
    /// Largest batch file the producer reads, in bytes as stored; Parquet and Avro files
    /// are held whole, so also the most they may inflate to.
    pub const MAX_FILE_BYTES: &str = "VIGIL_MAX_FILE_BYTES";
    /// Most bytes a gzipped CSV or JSON-lines batch file may inflate to.
    pub const MAX_DECOMPRESSED_BYTES: &str = "VIGIL_MAX_DECOMPRESSED_BYTES";
    /// Milliseconds the decision API waits on the state store before it answers degraded
    /// (default 150).
    pub const DECISION_BUDGET_MS: &str = "VIGIL_DECISION_BUDGET_MS";
    /// The versioned bucket holding the sanctions lists (unset: nothing is screened).
    pub const SANCTIONS_BUCKET: &str = "VIGIL_SANCTIONS_BUCKET";
    /// Keys of OFAC's `sdn.csv` and `alt.csv`, and of the UN consolidated XML (optional).
    pub const SANCTIONS_SDN_KEY: &str = "VIGIL_SANCTIONS_SDN_KEY";
    pub const SANCTIONS_ALT_KEY: &str = "VIGIL_SANCTIONS_ALT_KEY";
    pub const SANCTIONS_UN_KEY: &str = "VIGIL_SANCTIONS_UN_KEY";
    /// A screening score at or above which a payment is blocked, not reviewed.
    pub const SANCTIONS_BLOCK_AT: &str = "VIGIL_SANCTIONS_BLOCK_AT";
    /// AML typology parameters (JSON, `AmlConfig`); unset: the defaults.
    pub const AML_CONFIG: &str = "VIGIL_AML_CONFIG";
    /// The compliance audience's topic (AML and sanctions alerts).
    pub const TOPIC_COMPLIANCE: &str = "VIGIL_TOPIC_COMPLIANCE";
    /// Backup copier: the Object Lock bucket copies go to.
    pub const BACKUP_BUCKET: &str = "VIGIL_BACKUP_BUCKET";
    /// Backup copier: `bucket=prefix,prefix;bucket=prefix`, what is backed up.
    pub const BACKUP_SOURCES: &str = "VIGIL_BACKUP_SOURCES";
    /// Backup copier: days each S3 copy is locked in COMPLIANCE mode.
    pub const BACKUP_RETENTION_DAYS: &str = "VIGIL_BACKUP_RETENTION_DAYS";
    /// Backup copier: the scratch bucket restores go to.
    pub const RESTORE_BUCKET: &str = "VIGIL_RESTORE_BUCKET";
    /// Backup copier: the Secrets Manager secret holding the Azure account's credentials.
    pub const AZURE_SECRET: &str = "VIGIL_AZURE_SECRET";
    /// The Secrets Manager secret holding the tokenisation key (`privacy::token`).
    pub const TOKEN_SECRET: &str = "VIGIL_TOKEN_SECRET";
    /// The KMS key that wraps the data keys of sealed fields (`privacy::seal`).
    pub const DATA_KEY: &str = "VIGIL_DATA_KEY";
    /// The audit trail's bucket (`audit`): the scorer records the configuration in force,
    /// the backup copier its runs.
    pub const AUDIT_BUCKET: &str = "VIGIL_AUDIT_BUCKET";
    /// Report trigger: the bucket reports go to, the Athena workgroup they run in, the Glue
    /// database of the lake's tables, and the topics that hear of each one stored
    /// (compliance-only reports on compliance's own).
    pub const REPORTS_BUCKET: &str = "VIGIL_REPORTS_BUCKET";
    pub const ATHENA_WORKGROUP: &str = "VIGIL_ATHENA_WORKGROUP";
    pub const LAKE_DATABASE: &str = "VIGIL_LAKE_DATABASE";
    pub const TOPIC_REPORTS: &str = "VIGIL_TOPIC_REPORTS";
    pub const TOPIC_COMPLIANCE_REPORTS: &str = "VIGIL_TOPIC_COMPLIANCE_REPORTS";
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0}: {1}")]
    Invalid(&'static str, String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Lists(#[from] crate::aws::lists::ListLoadError),
    #[error(transparent)]
    Backup(#[from] crate::backup::ConfigError),
    /// A service the function needs at init (Secrets Manager) failed or holds nonsense.
    #[error("{0}")]
    Init(String),
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
    /// An alert not delivered by this invocation: Lambda retries it.
    #[error(transparent)]
    Alert(#[from] FanOutError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    /// A backup service failed: Lambda retries the invocation, then dead-letters it.
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    /// A verification found copies missing or corrupt (the report is stored and logged).
    #[error("verify: {0}")]
    Verify(String),
    /// A report did not run or was not stored: Lambda retries, then dead-letters it.
    #[error(transparent)]
    Report(#[from] crate::report::trigger::TriggerError),
    /// The lake could not be read or written while compacting: Lambda retries the run.
    #[error(transparent)]
    Compaction(#[from] crate::archive::compact::CompactError),
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

/// Where the edge functions find their keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyConfig {
    /// The Secrets Manager secret holding the tokenisation key.
    pub token_secret: String,
    /// The KMS key that wraps sealed fields' data keys.
    pub data_key: String,
}

impl PrivacyConfig {
    pub fn from_vars(vars: &dyn Vars) -> Result<Self, ConfigError> {
        Ok(Self { token_secret: var(vars, env::TOKEN_SECRET)?, data_key: var(vars, env::DATA_KEY)? })
    }
}

/// The deployment's tokeniser and envelope: the token key read once per container from
/// Secrets Manager (encrypted there under the deployment's KMS key), data keys from KMS.
pub async fn privacy(config: &aws_config::SdkConfig, vars: &dyn Vars) -> Result<Arc<Privacy>, ConfigError> {
    let at = PrivacyConfig::from_vars(vars)?;
    let secrets = aws_sdk_secretsmanager::Client::new(config);
    let tokens =
        crate::aws::secrets::token_keys(&secrets, &at.token_secret).await.map_err(ConfigError::Init)?;
    tracing::info!(token_key_version = tokens.version(), "tokenisation key loaded");
    let kms = crate::aws::kms::KmsKeys::new(aws_sdk_kms::Client::new(config), at.data_key);
    Ok(Arc::new(Privacy::new(tokens, Keys::Kms(kms))))
}

/// The audit trail's bucket, where the environment names one.
pub fn audit_bucket(vars: &dyn Vars) -> Option<String> {
    vars.get(env::AUDIT_BUCKET)
}

fn audit_trail(config: &aws_config::SdkConfig, vars: &dyn Vars) -> Option<AuditTrail<S3AuditStore>> {
    let bucket = audit_bucket(vars)?;
    Some(AuditTrail::new(S3AuditStore::new(crate::aws::s3::client(config), bucket)))
}

fn default_currency(vars: &dyn Vars) -> Result<Currency, ConfigError> {
    match vars.get(env::DEFAULT_CURRENCY) {
        Some(code) => {
            Currency::parse(&code).map_err(|e| ConfigError::Invalid(env::DEFAULT_CURRENCY, e.to_string()))
        }
        None => Ok(Currency::USD),
    }
}
