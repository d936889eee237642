//! The report trigger's work, whatever runs the SQL: a scheduled run becomes a period and
//! `as_of`, each section runs once (a token derived from report, period and SQL, so a
//! retried invocation never starts a second query), and the result, a manifest that lets
//! anyone re-run and check it, and a notification are stored and sent.

use super::{
    Bound, Cell, Circulation, Period, PeriodError, ReportResult, SqlError, Table, VIEWS, bind_positional,
    compose, find,
};
use crate::alert::DeliveryError;
use crate::audit::{AuditAction, AuditRecord, AuditStore, AuditTrail};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What EventBridge Scheduler sends (the template's schedule input): `as_of` is the
/// schedule's own time, so any past run can be replayed exactly.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ScheduledReport {
    pub report: String,
    pub cadence: Cadence,
    pub as_of: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cadence {
    /// The day before `as_of`'s day.
    Daily,
    /// The seven days before `as_of`'s day.
    Weekly,
}

impl ScheduledReport {
    pub fn period(&self) -> Result<Period, PeriodError> {
        let to = self.as_of.date_naive();
        let days = match self.cadence {
            Cadence::Daily => 1,
            Cadence::Weekly => 7,
        };
        Period::new(to - TimeDelta::days(days), to, self.as_of)
    }
}

/// One section's statement as the engine receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub section: &'static str,
    pub bound: Bound,
    /// Idempotency token: the same report, period, `as_of` and SQL, the same token.
    pub token: String,
    pub sql_sha256: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryRun {
    pub query_id: String,
    pub table: Table,
    pub bytes_scanned: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("no report {0:?}")]
    UnknownReport(String),
    #[error(transparent)]
    Period(#[from] PeriodError),
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error("query {section}: {message}")]
    Query { section: &'static str, message: String },
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error("audit trail: {0}")]
    Audit(#[from] crate::audit::AuditError),
}

pub trait QueryEngine: Send + Sync {
    /// Runs `query` to completion (or fails) and returns its rows.
    fn run(&self, query: &Query) -> impl Future<Output = Result<QueryRun, TriggerError>> + Send;
}

pub trait ReportStore: Send + Sync {
    /// Stores `body` at `key`; returns where a person finds it (`s3://…`).
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> impl Future<Output = Result<String, DeliveryError>> + Send;
}

pub trait ReportNotifier: Send + Sync {
    /// Announces a stored report to those its `circulation` allows.
    fn notify(
        &self,
        circulation: Circulation,
        subject: &str,
        message: &str,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every section's statement for `report` over `period`.
pub fn queries(report: &'static super::Report, period: &Period) -> Result<Vec<Query>, SqlError> {
    report
        .sections
        .iter()
        .map(|section| {
            let bound = bind_positional(&compose(VIEWS, section.sql), period)?;
            let sql_sha256 = sha256_hex(bound.sql.as_bytes());
            let identity = format!(
                "{}|{}|{}|{}|{}|{sql_sha256}",
                report.name,
                section.name,
                period.from,
                period.to,
                period.as_of_text()
            );
            Ok(Query { section: section.name, token: sha256_hex(identity.as_bytes()), bound, sql_sha256 })
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SectionManifest {
    pub section: &'static str,
    pub query_id: String,
    pub sql_sha256: String,
    pub parameters: Vec<String>,
    pub bytes_scanned: i64,
    pub rows: usize,
}

/// What a run stored, and how to check it: re-run the same SQL with the same parameters
/// and `as_of`, and the result hashes the same.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    pub report: &'static str,
    pub from: String,
    pub to: String,
    pub as_of: String,
    pub code_version: &'static str,
    pub result: String,
    pub result_sha256: String,
    pub page: String,
    pub bytes_scanned: i64,
    pub sections: Vec<SectionManifest>,
}

pub struct Trigger<'a, E, S, N, A> {
    pub engine: &'a E,
    pub store: &'a S,
    pub notifier: &'a N,
    pub audit: Option<&'a AuditTrail<A>>,
    /// Who runs it, as the audit trail records it.
    pub who: &'a str,
}

impl<E: QueryEngine, S: ReportStore, N: ReportNotifier, A: AuditStore> Trigger<'_, E, S, N, A> {
    pub async fn run(&self, request: &ScheduledReport) -> Result<Manifest, TriggerError> {
        let report =
            find(&request.report).ok_or_else(|| TriggerError::UnknownReport(request.report.clone()))?;
        let period = request.period()?;
        let mut sections = Vec::new();
        let mut manifests = Vec::new();
        for query in queries(report, &period)? {
            let run = self.engine.run(&query).await?;
            manifests.push(SectionManifest {
                section: query.section,
                query_id: run.query_id,
                sql_sha256: query.sql_sha256,
                parameters: query.bound.parameters,
                bytes_scanned: run.bytes_scanned,
                rows: run.table.rows.len(),
            });
            sections.push((query.section, run.table));
        }
        let result = ReportResult { report, period, sections };
        let prefix = format!("{}/{}_{}/as_of={}", report.name, period.from, period.to, period.as_of_text());
        let json = result.render(super::Format::Json).into_bytes();
        let result_sha256 = sha256_hex(&json);
        let result_at = self.store.put(&format!("{prefix}/report.json"), json, "application/json").await?;
        let page = self
            .store
            .put(
                &format!("{prefix}/report.html"),
                result.render(super::Format::Html).into_bytes(),
                "text/html",
            )
            .await?;
        let manifest = Manifest {
            report: report.name,
            from: period.from.to_string(),
            to: period.to.to_string(),
            as_of: period.as_of_text(),
            code_version: env!("CARGO_PKG_VERSION"),
            result: result_at,
            result_sha256,
            page,
            bytes_scanned: manifests.iter().map(|m| m.bytes_scanned).sum(),
            sections: manifests,
        };
        let body = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        let manifest_at =
            self.store.put(&format!("{prefix}/manifest.json"), body, "application/json").await?;
        if let Some(trail) = self.audit {
            let mut record = AuditRecord::new(
                self.who,
                AuditAction::ReportRun,
                format!("{} {}..{} as of {}", report.name, manifest.from, manifest.to, manifest.as_of),
                format!("ok: {manifest_at}"),
            );
            for s in &manifest.sections {
                record.inputs.insert(format!("sql:{}", s.section), format!("sha256:{}", s.sql_sha256));
            }
            record.inputs.insert("result".into(), format!("sha256:{}", manifest.result_sha256));
            trail.append(record).await?;
        }
        let subject = format!("Vigil report {} {}..{}", report.name, manifest.from, manifest.to);
        let message = format!(
            "{} for {} to {} (exclusive), as of {}: {} (page {}, manifest {manifest_at}, result sha256 {})",
            report.title,
            manifest.from,
            manifest.to,
            manifest.as_of,
            manifest.result,
            manifest.page,
            manifest.result_sha256
        );
        self.notifier.notify(report.circulation, &subject, &message).await?;
        tracing::info!(report = report.name, from = %manifest.from, to = %manifest.to, as_of = %manifest.as_of, bytes_scanned = manifest.bytes_scanned, "report stored");
        Ok(manifest)
    }
}

/// Athena's result cells by the column's declared type.
pub fn cell(kind: &str, value: Option<&str>) -> Cell {
    let Some(v) = value else { return Cell::Null };
    match kind {
        "tinyint" | "smallint" | "integer" | "bigint" => {
            v.parse().map_or_else(|_| Cell::Text(v.to_owned()), Cell::Int)
        }
        "double" | "float" | "real" => v.parse().map_or_else(|_| Cell::Text(v.to_owned()), Cell::Float),
        "boolean" => Cell::Bool(v == "true"),
        _ => Cell::Text(v.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_is_the_period_before_its_time() {
        let daily: ScheduledReport = serde_json::from_str(
            r#"{"report":"fraud-ops","cadence":"daily","as_of":"2026-12-07T06:00:00Z"}"#,
        )
        .unwrap();
        let p = daily.period().unwrap();
        assert_eq!((p.from.to_string(), p.to.to_string()), ("2026-12-06".into(), "2026-12-07".into()));
        let weekly = ScheduledReport { cadence: Cadence::Weekly, ..daily };
        assert_eq!(weekly.period().unwrap().from.to_string(), "2026-11-30");
    }

    #[test]
    fn a_query_token_changes_with_the_period_and_sql_only() {
        let report = find("fraud-ops").unwrap();
        let at = |t: &str| {
            Period::new("2026-12-06".parse().unwrap(), "2026-12-07".parse().unwrap(), t.parse().unwrap())
                .unwrap()
        };
        let a = queries(report, &at("2026-12-07T06:00:00Z")).unwrap();
        assert_eq!(a, queries(report, &at("2026-12-07T06:00:00Z")).unwrap(), "a retry sends the same tokens");
        let b = queries(report, &at("2026-12-07T07:00:00Z")).unwrap();
        assert!(a.iter().zip(&b).all(|(a, b)| a.token != b.token && a.sql_sha256 == b.sql_sha256));
        let tokens: std::collections::HashSet<_> = a.iter().map(|q| &q.token).collect();
        assert_eq!(tokens.len(), a.len(), "each section its own token");
        assert!(a.iter().all(|q| (32..=128).contains(&q.token.len())), "Athena's token length");
    }

    #[test]
    fn athena_cells_keep_their_types() {
        assert_eq!(cell("bigint", Some("42")), Cell::Int(42));
        assert_eq!(cell("double", Some("0.5")), Cell::Float(0.5));
        assert_eq!(cell("boolean", Some("true")), Cell::Bool(true));
        assert_eq!(cell("decimal", Some("10.50")), Cell::Text("10.50".into()));
        assert_eq!(cell("varchar", None), Cell::Null);
    }
}
